"""Census-scale batch coding benchmark (issue 11), side by side in one run.

Stages (``--stages``, comma-separated; default all but ``big``):

- ``local``   local engine end to end (Parquet -> Parquet, every core) on ``--rows`` O*NET titles,
              fastText single-thread prediction and the in-memory ``Coder.code`` on the same titles;
              peak resident memory of the engine (main process and each worker, /proc VmHWM).
- ``memory``  peak memory at ``--rows`` vs ``--rows / 10`` (flat in input size).
- ``ojalab``  long job ads: in-memory ``Coder.code`` (one process, today's path) vs the local engine.
- ``resume``  SIGKILL at ~50 % of the chunks, ``--resume``; sha256 of the output vs an uninterrupted run.
- ``spark``   Spark local[2] on ``--rows`` rows: rate and record-for-record equality with the local engine.
- ``big``     the local engine on 10 M rows (separate: ``--stages big``), for the flat-memory claim.

Inputs are built at run time by sampling the shared labelled O*NET titles: in every chunk about
half of the rows repeat an earlier row of the same chunk (census answers repeat; the coder codes
each distinct text of a chunk once). Results go to ``benchmarks/batch/results.md``.

    python benchmarks/batch/run.py                    # 1 M rows, every stage but big
    python benchmarks/batch/run.py --stages big       # 10 M rows, local engine only
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "core"))
import datasets

CACHE = HERE.parent / ".cache" / "batch"
OUT = HERE / "results.md"
STATCODER = str(Path(sys.executable).parent / "statcoder")
CHUNK = 20_000
MEMORY_SAMPLE = 40_000


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# ---- models and inputs ---------------------------------------------------------------------------
def onet_model() -> tuple[Path, pd.DataFrame]:
    """The O*NET coder (trained once, cached) and its training titles."""
    from statcoder import train

    data = datasets.onet()
    split = data.splits[0]
    path = CACHE / "onet-model"
    if not (path / "model.json").is_file():
        started = time.perf_counter()
        coder = train(split.train, text_columns=["text"], code_column="code", classification=data.classification,
                      seed=0, on_unknown_code="drop", cv_folds=3)
        coder.save(path)
        print(f"trained the O*NET model in {time.perf_counter() - started:.0f} s", flush=True)
    return path, split.train


def titles_input(n: int, path: Path, *, seed: int = 0) -> Path:
    """``n`` rows (rid, text) of O*NET titles; in each chunk about half the rows repeat an earlier one."""
    if path.is_file() and pq.ParquetFile(path).metadata.num_rows == n:
        return path
    alt = datasets._read("onet_alternate_titles.csv")["text"]
    rep = datasets._read("onet_reported_titles.csv")["text"]
    pool = pd.concat([alt, rep]).drop_duplicates().to_numpy(dtype=object)
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(path, pa.schema([("rid", pa.string()), ("text", pa.string())])) as writer:
        for start in range(0, n, CHUNK):
            m = min(CHUNK, n - start)
            fresh = pool[rng.integers(0, len(pool), m)]
            repeat = rng.random(m) < 0.5
            # a repeating row copies a uniformly chosen earlier row of the same chunk
            source = np.where(repeat, (rng.random(m) * np.arange(m)).astype(np.int64), np.arange(m))
            texts = fresh[source]
            writer.write_table(pa.table({"rid": [f"r{i:09d}" for i in range(start, start + m)], "text": texts}))
    return path


# ---- measuring a run -----------------------------------------------------------------------------
def _hwm_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else 0.0


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def run_cli(args: list[str], *, kill_when=None) -> dict:
    """Run ``statcoder code ARGS``; returns wall seconds, peak MB (main, max worker, sum) and stdout."""
    started = time.perf_counter()
    proc = subprocess.Popen([STATCODER, "code", *args, "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    peaks: dict[int, float] = {}
    killed = False
    while proc.poll() is None:
        for pid in [proc.pid, *_children(proc.pid)]:
            peaks[pid] = max(peaks.get(pid, 0.0), _hwm_mb(pid))
        if kill_when is not None and kill_when():
            os.kill(proc.pid, signal.SIGKILL)
            for child in _children(proc.pid):
                os.kill(child, signal.SIGKILL)
            killed = True
        time.sleep(0.2)
    out, err = proc.communicate()
    if proc.returncode != 0 and not killed:
        raise RuntimeError(f"statcoder code failed: {err[-2000:]}")
    workers = [v for k, v in peaks.items() if k != proc.pid]
    return {"seconds": time.perf_counter() - started, "main_mb": peaks.get(proc.pid, 0.0),
            "worker_mb": max(workers, default=0.0), "sum_mb": sum(peaks.values()), "stdout": out, "killed": killed}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---- stages --------------------------------------------------------------------------------------
MEASURED: dict[int, dict] = {}  # engine runs already made in this benchmark run, by row count


def stage_local(rows: int, workers: int, report: list[str]) -> None:
    from statcoder import Coder
    from statcoder.models.fasttext_backend import FastTextCoder, _line

    model, train_titles = onet_model()
    data = titles_input(rows, CACHE / f"titles-{rows}.parquet")
    out = CACHE / f"coded-{rows}.parquet"
    before = loadavg()
    engine = run_cli(["--model", str(model), "--data", str(data), "--out", str(out), "--workers", str(workers),
                      "--chunk-size", str(CHUNK)])
    engine_rate = rows / engine["seconds"]
    MEASURED[rows] = engine
    sample = pq.read_table(data).slice(0, min(rows, 200_000)).to_pandas()
    texts = sample["text"].tolist()
    in_memory = sample.iloc[:MEMORY_SAMPLE]  # one process is slow on a loaded machine: a bounded sample
    fast = FastTextCoder(threads=1, seed=0).fit(train_titles["text"].tolist(), train_titles["code"].tolist())
    started = time.perf_counter()
    fast.model_.predict([_line(t) for t in texts], k=1)
    fast_rate = len(texts) / (time.perf_counter() - started)
    coder = Coder.load(model)
    started = time.perf_counter()
    coder.code(in_memory, text_columns=["text"])
    memory_rate = len(in_memory) / (time.perf_counter() - started)
    report += [
        f"## Local engine vs fastText, O*NET titles ({rows:,} rows, {workers} workers, chunks of {CHUNK:,})", "",
        "| method | records/s | vs fastText |", "|---|---|---|",
        (f"| statcoder local engine, end to end (read Parquet -> code -> write Parquet), {workers} processes "
        f"| {engine_rate:,.0f} | {engine_rate / fast_rate:.2f}x |"),
        (f"| statcoder in memory (`Coder.code`, one process, first {len(texts):,} rows) | {memory_rate:,.0f} "
        f"| {memory_rate / fast_rate:.2f}x |"),
        f"| fastText predict, top-1, one thread (same {len(texts):,} titles) | {fast_rate:,.0f} | 1.00x |", "",
        (f"Engine wall time {engine['seconds']:.1f} s; peak resident memory: main process "
        f"{engine['main_mb']:,.0f} MB, largest worker {engine['worker_mb']:,.0f} MB, all processes together "
        f"{engine['sum_mb']:,.0f} MB. Load average before {before}, after {loadavg()}."), ""]
    print("\n".join(report[-12:]), flush=True)


def stage_memory(rows: int, workers: int, report: list[str]) -> None:
    model, _ = onet_model()
    lines = [f"## Peak memory against input size ({workers} workers, chunks of {CHUNK:,})", "",
             "| rows | main process MB | largest worker MB | all processes MB | records/s |", "|---|---|---|---|---|"]
    for n in (rows // 10, rows):
        data = titles_input(n, CACHE / f"titles-{n}.parquet")
        run = MEASURED.get(n) or run_cli(["--model", str(model), "--data", str(data), "--out",
                                          str(CACHE / f"mem-{n}.parquet"), "--workers", str(workers),
                                          "--chunk-size", str(CHUNK)])
        lines.append(f"| {n:,} | {run['main_mb']:,.0f} | {run['worker_mb']:,.0f} | {run['sum_mb']:,.0f} "
                     f"| {n / run['seconds']:,.0f} |")
    report += [*lines, "", f"Load average at the end: {loadavg()}.", ""]
    print("\n".join(lines), flush=True)


def stage_ojalab(workers: int, report: list[str], n_train: int = 4000) -> None:
    from statcoder import Coder, train

    data = datasets.ojalab(folds=1)
    split = data.splits[0]
    path = CACHE / "ojalab-model"
    if not (path / "model.json").is_file():
        train(split.train.iloc[:n_train], text_columns=["text"], code_column="code", classification=data.classification,
              seed=0, on_unknown_code="drop", cv_folds=2, max_text_length=200_000).save(path)
    ads = split.test.assign(rid=[f"a{i:05d}" for i in range(len(split.test))])[["rid", "text"]]
    ads.to_parquet(CACHE / "ojalab-ads.parquet", index=False)
    coder = Coder.load(path)
    started = time.perf_counter()
    coder.code(ads, text_columns=["text"], max_text_length=200_000)
    memory_rate = len(ads) / (time.perf_counter() - started)
    run = run_cli(["--model", str(path), "--data", str(CACHE / "ojalab-ads.parquet"), "--out",
                   str(CACHE / "ojalab-coded.parquet"), "--workers", str(workers), "--chunk-size", "500",
                   "--max-text-length", "200000"])
    engine_rate = len(ads) / run["seconds"]
    lines = [f"## Long job ads (OJALAB, {len(ads):,} ads of fold 1; model trained on {n_train:,} ads)", "",
             "| method | records/s |", "|---|---|",
             f"| in memory, one process (`Coder.code`, today's path) | {memory_rate:,.0f} |",
             f"| local engine, {workers} processes, end to end | {engine_rate:,.0f} |", "",
             f"Ratio {engine_rate / memory_rate:.2f}x. Load average at the end: {loadavg()}.", ""]
    report += lines
    print("\n".join(lines), flush=True)


def stage_resume(rows: int, workers: int, report: list[str]) -> None:
    from statcoder.batch.sinks import work_dir

    model, _ = onet_model()
    n = max(rows // 5, 10 * CHUNK)
    data = titles_input(n, CACHE / f"titles-{n}.parquet")
    common = ["--model", str(model), "--data", str(data), "--workers", str(workers), "--chunk-size", str(CHUNK)]
    reference, target = CACHE / "resume-ref.csv", CACHE / "resume-out.csv"
    target.unlink(missing_ok=True)
    run_cli([*common, "--out", str(reference)])
    parts = work_dir(target) / "parts"
    n_chunks = -(-n // CHUNK)
    first = run_cli([*common, "--out", str(target)],
                    kill_when=lambda: len(list(parts.glob("part-*.csv"))) >= n_chunks // 2)
    kept = len(list(parts.glob("part-*.csv")))
    absent_after_kill = not target.exists()
    second = run_cli([*common, "--out", str(target), "--resume"])
    same = sha256(reference) == sha256(target)
    lines = [f"## Kill and resume ({n:,} rows, {n_chunks} chunks, CSV output)", "",
             (f"SIGKILL after {kept} of {n_chunks} chunks ({first['seconds']:.0f} s; nothing at the output path: "
             f"{absent_after_kill if first['killed'] else 'not killed'}); `--resume` coded the rest in "
             f"{second['seconds']:.0f} s. sha256 uninterrupted `{sha256(reference)[:16]}...`, resumed "
             f"`{sha256(target)[:16]}...`: **{'identical' if same else 'DIFFERENT'}**."), ""]
    report += lines
    print("\n".join(lines), flush=True)


def _row_digests(path: Path) -> pd.Series:
    import pyarrow.dataset as ds

    table = ds.dataset(path, partitioning="hive").to_table()
    frame = table.to_pandas()
    frame["confidence"] = frame["confidence"].map(lambda v: f"{v:.12g}")
    columns = sorted(frame.columns)
    joined = frame[columns].astype(str).agg("\x1f".join, axis=1)
    return pd.Series(joined.map(lambda s: hashlib.sha1(s.encode()).hexdigest()).to_numpy(), index=frame["rid"])


def stage_spark(rows: int, report: list[str]) -> None:
    from pyspark.sql import SparkSession

    from statcoder.batch.spark import code_path, use_this_python

    model, _ = onet_model()
    data = titles_input(rows, CACHE / f"titles-{rows}.parquet")
    local_out = CACHE / f"coded-{rows}.parquet"
    if not local_out.is_file():
        run_cli(["--model", str(model), "--data", str(data), "--out", str(local_out), "--chunk-size", str(CHUNK)])
    use_this_python()
    spark = (SparkSession.builder.master("local[2]").appName("statcoder benchmark")
             .config("spark.ui.enabled", "false").config("spark.driver.memory", "1g").getOrCreate())
    out = CACHE / f"spark-{rows}"
    if out.exists():
        import shutil

        shutil.rmtree(out)
    started = time.perf_counter()
    n = code_path(model, data, out, spark=spark)
    seconds = time.perf_counter() - started
    spark.stop()
    a, b = _row_digests(out), _row_digests(local_out)
    equal = len(a) == len(b) == rows and a.sort_index().equals(b.sort_index())
    lines = [f"## Spark local[2] ({rows:,} rows)", "",
             (f"{n:,} rows in {seconds:.0f} s = **{n / seconds:,.0f} records/s** (JVM start-up included). "
             f"Record-for-record equality with the local engine's output (every column, joined on the record id): "
             f"**{'equal' if equal else 'DIFFERENT'}**. Load average at the end: {loadavg()}."), ""]
    report += lines
    print("\n".join(lines), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--stages", default="local,memory,ojalab,resume,spark")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    stages = args.stages.split(",")
    report = [f"# Batch engine benchmark ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})", "",
              (f"Command: `python benchmarks/batch/run.py --rows {args.rows} --workers {args.workers} --stages "
              f"{args.stages}`. Machine: {os.cpu_count()} cores shared with other work; load average at the start "
              f"{loadavg()}."), ""]
    runs = {"local": lambda: stage_local(args.rows, args.workers, report),
            "memory": lambda: stage_memory(args.rows, args.workers, report),
            "big": lambda: stage_memory(10_000_000, args.workers, report),
            "ojalab": lambda: stage_ojalab(args.workers, report),
            "resume": lambda: stage_resume(args.rows, args.workers, report),
            "spark": lambda: stage_spark(args.rows, report)}
    for name in ("local", "memory", "big", "ojalab", "resume", "spark"):
        if name in stages:
            runs[name]()
            # written after every stage, so a long run interrupted later keeps what it measured
            args.out.write_text("\n".join(report) + "\n", encoding="utf-8")
    print(json.dumps({"written": str(args.out)}))


if __name__ == "__main__":
    threading.current_thread().name = "benchmark"
    main()
