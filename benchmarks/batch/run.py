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
each distinct text of a chunk once). Each stage's section is written to
``benchmarks/.cache/batch/report-<stage>.md`` (and printed); ``results.md`` is assembled from them.

``--baseline-src DIR`` (a ``src`` directory of an older statcoder, e.g. extracted with
``git archive <commit> src | tar -x -C /tmp/base``) adds, in the same run, the older code's
rates: ``Coder.code`` in memory and the local engine end to end (subprocesses with that
``PYTHONPATH``). ``--stages prepare`` trains and caches the models and builds the inputs: run it
first, outside the benchmark lock and at low priority; the timed stages then only measure.

    nice -n 19 python benchmarks/batch/run.py --stages prepare
    flock /work/bench.lock python benchmarks/batch/run.py --stages local --baseline-src /tmp/base/src
    python benchmarks/batch/run.py --stages big       # 10 M rows, local engine only
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
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


def titles_input(n: int, path: Path, *, seed: int = 0, pool: np.ndarray | None = None,
                 distinct: bool = True) -> Path:
    """``n`` rows (rid, text) of O*NET titles (or of ``pool``); in each chunk about half the rows
    repeat an earlier one.

    ``distinct`` (the issue's input): every other row is new to the whole input, so about half
    of all rows are distinct and a cache across chunks cannot stand in for the coder. The pools
    hold ~46,000 titles (~2,000 ads), too few for 500,000 distinct rows, so a new row is a pool
    text followed by the last word of another pool title ("registered nurse clinic"): a text
    of the same kind and length, coded like any other. ``distinct=False``: rows drawn from the
    pool as they are (1 M rows then hold ~46,000 distinct texts, 95 % repeats: the census-like
    case where the cache across chunks pays).
    """
    if distinct:
        path = path.with_name(f"{path.stem}-distinct{path.suffix}")
    if path.is_file() and pq.ParquetFile(path).metadata.num_rows == n:
        return path
    if pool is None:
        alt = datasets._read("onet_alternate_titles.csv")["text"]
        rep = datasets._read("onet_reported_titles.csv")["text"]
        pool = pd.concat([alt, rep]).drop_duplicates().to_numpy(dtype=object)
    rng = np.random.default_rng(seed)
    titles = pd.concat([datasets._read("onet_alternate_titles.csv")["text"],
                        datasets._read("onet_reported_titles.csv")["text"]])
    last_words = np.asarray(sorted({str(t).split()[-1] for t in titles if str(t).split()}), dtype=object)
    path.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(path, pa.schema([("rid", pa.string()), ("text", pa.string())])) as writer:
        for start in range(0, n, CHUNK):
            m = min(CHUNK, n - start)
            fresh = pool[rng.integers(0, len(pool), m)]
            if distinct:
                words = last_words[rng.integers(0, len(last_words), m)]
                fresh = np.asarray([f"{t} {w}" for t, w in zip(fresh, words, strict=True)], dtype=object)
            repeat = rng.random(m) < 0.5
            # a repeating row copies a uniformly chosen earlier row of the same chunk
            source = np.where(repeat, (rng.random(m) * np.arange(m)).astype(np.int64), np.arange(m))
            while not np.array_equal(source[source], source):  # an earlier row that is itself a copy: its text
                source = source[source]
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


NO_CACHE = """
import sys
from statcoder.batch import code_files
if __name__ == "__main__":
    code_files(sys.argv[1], sys.argv[2], sys.argv[3], workers=int(sys.argv[4]), chunk_size=int(sys.argv[5]),
               cache_size=0)
"""


def run_cli(args: list[str], *, kill_when=None, src: Path | None = None, command: list[str] | None = None) -> dict:
    """Run ``statcoder code ARGS`` (with statcoder from ``src`` when given; or ``command``); returns wall
    seconds, peak MB (main, max worker, sum) and stdout."""
    started = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_before = usage.ru_utime + usage.ru_stime
    env = {**os.environ, "PYTHONPATH": str(src)} if src is not None else None
    proc = subprocess.Popen(command or [STATCODER, "code", *args, "--quiet"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
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
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_seconds = cpu.ru_utime + cpu.ru_stime - cpu_before
    if proc.returncode != 0 and not killed:
        raise RuntimeError(f"statcoder code failed: {err[-2000:]}")
    workers = [v for k, v in peaks.items() if k != proc.pid]
    return {"seconds": time.perf_counter() - started, "main_mb": peaks.get(proc.pid, 0.0),
            "worker_mb": max(workers, default=0.0), "sum_mb": sum(peaks.values()), "stdout": out, "killed": killed,
            "cpu_seconds": cpu_seconds}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---- stages --------------------------------------------------------------------------------------
MEASURED: dict[int, dict] = {}  # engine runs already made in this benchmark run, by row count


def fasttext_model(train_titles: pd.DataFrame):
    """fastText on the same training titles (trained once, cached as fastText's own .bin file)."""
    from statcoder.models.fasttext_backend import FastTextCoder, _require_fasttext

    path = CACHE / "fasttext-onet.bin"
    if not path.is_file():
        from statcoder.errors import ConfigurationError

        # fastText's fit at lr 0.1 sometimes diverges (NaN loss) on these titles; its prediction
        # speed does not depend on the learning rate, so halve it and fit again
        for lr in (0.1, 0.05, 0.025):
            try:
                fast = FastTextCoder(threads=1, seed=0, lr=lr).fit(train_titles["text"].tolist(),
                                                                   train_titles["code"].tolist())
                break
            except ConfigurationError:
                continue
        fast.model_.save_model(str(path))
    return _require_fasttext().load_model(str(path))


IN_MEMORY = """
import sys, time, pandas as pd, pyarrow.parquet as pq
from statcoder import Coder
coder = Coder.load(sys.argv[1])
frame = pq.read_table(sys.argv[2]).slice(0, int(sys.argv[3])).to_pandas()
coder.code(frame.iloc[:50], text_columns=["text"], max_text_length=int(sys.argv[4]))
started, cpu = time.perf_counter(), time.process_time()
coder.code(frame, text_columns=["text"], max_text_length=int(sys.argv[4]))
print(len(frame) / (time.perf_counter() - started), len(frame) / (time.process_time() - cpu))
"""


def in_memory_rate(model: Path, data: Path, rows: int, *, src: Path | None = None, limit: int = 10_000) -> float:
    """Records/s of ``Coder.code`` on the first ``rows`` rows of ``data`` in one fresh process
    (wall time; the rate per CPU-second is kept in ``CPU_RATES``)."""
    env = {**os.environ, "PYTHONPATH": str(src)} if src is not None else None
    out = subprocess.run([sys.executable, "-c", IN_MEMORY, str(model), str(data), str(rows), str(limit)],
                         capture_output=True, text=True, env=env, check=True)
    wall, cpu = (float(v) for v in out.stdout.strip().splitlines()[-1].split())
    CPU_RATES[(str(model), str(src))] = cpu
    return wall


CPU_RATES: dict[tuple[str, str], float] = {}


def same_output(a: pa.Table, b: pa.Table, *, tolerance: float = 1e-12) -> tuple[bool, float]:
    """(Whether two coded outputs agree — same schema, every non-float column identical, float columns
    within ``tolerance`` — and the largest float difference)."""
    if a.schema != b.schema or a.num_rows != b.num_rows:
        return False, float("inf")
    worst = 0.0
    for name in a.column_names:
        x, y = a.column(name), b.column(name)
        if pa.types.is_floating(x.type):
            diff = np.abs(x.to_numpy(zero_copy_only=False) - y.to_numpy(zero_copy_only=False))
            worst = max(worst, float(np.nanmax(diff)) if len(diff) else 0.0)
        elif not x.equals(y):
            return False, worst
    return worst <= tolerance, worst


def stage_local(rows: int, workers: int, report: list[str], baseline: Path | None) -> None:
    from statcoder.models.fasttext_backend import _line

    model, train_titles = onet_model()
    data = titles_input(rows, CACHE / f"titles-{rows}.parquet")
    fast = fasttext_model(train_titles)
    sample = pq.read_table(data).slice(0, min(rows, 200_000)).to_pandas()
    lines_in = [_line(t) for t in sample["text"].tolist()]
    out = CACHE / f"coded-{rows}.parquet"
    before = loadavg()
    # fastText first and last: the rate is the better of the two, so load changes cannot favour statcoder
    fast_rates, fast_cpu = [], []
    started, cpu = time.perf_counter(), time.process_time()
    fast.predict(lines_in, k=1)
    fast_rates.append(len(lines_in) / (time.perf_counter() - started))
    fast_cpu.append(len(lines_in) / (time.process_time() - cpu))
    engine = run_cli(["--model", str(model), "--data", str(data), "--out", str(out), "--workers", str(workers),
                      "--chunk-size", str(CHUNK)])
    engine_rate = rows / engine["seconds"]
    MEASURED[rows] = engine
    memory_rate = in_memory_rate(model, data, MEMORY_SAMPLE)
    repetitive = titles_input(rows, CACHE / f"titles-{rows}.parquet", distinct=False)
    census = run_cli(["--model", str(model), "--data", str(repetitive), "--out", str(CACHE / "coded-repetitive.parquet"),
                      "--workers", str(workers), "--chunk-size", str(CHUNK)])
    distinct_share = len(pq.read_table(data, columns=["text"]).column("text").unique()) / rows
    script = CACHE / "no_cache.py"
    script.write_text(NO_CACHE, encoding="utf-8")
    bare = run_cli([], command=[sys.executable, str(script), str(model), str(data), str(CACHE / "coded-nocache.parquet"),
                                str(workers), str(CHUNK)])
    same, float_diff = same_output(pq.read_table(out), pq.read_table(CACHE / "coded-nocache.parquet"))
    rows_out = [
        (f"| statcoder local engine, end to end (read Parquet -> code -> write Parquet), {workers} processes "
         f"| {engine_rate:,.0f} |"),
        (f"| the same without the worker's cross-chunk cache (`cache_size=0`; each chunk's distinct texts coded) "
         f"| {rows / bare['seconds']:,.0f} |"),
        f"| statcoder in memory (`Coder.code`, one process, first {MEMORY_SAMPLE:,} rows) | {memory_rate:,.0f} |",
        (f"| census-like input, not the target's: the same engine on {rows:,} rows drawn from the ~46,000 titles "
         f"as they are (95 % repeats, so the cache across chunks answers most rows) | {rows / census['seconds']:,.0f} |")]
    if baseline is not None:
        n_base = min(rows, 200_000)
        base_data = titles_input(n_base, CACHE / f"titles-{n_base}.parquet")
        base = run_cli(["--model", str(model), "--data", str(base_data), "--out", str(CACHE / "coded-baseline.parquet"),
                        "--workers", str(workers), "--chunk-size", str(CHUNK)], src=baseline)
        base_memory = in_memory_rate(model, data, MEMORY_SAMPLE, src=baseline)
        rows_out += [(f"| before this work: local engine, end to end, {workers} processes (first {n_base:,} rows) "
                      f"| {n_base / base['seconds']:,.0f} |"),
                     f"| before this work: in memory, one process, first {MEMORY_SAMPLE:,} rows | {base_memory:,.0f} |"]
    started, cpu = time.perf_counter(), time.process_time()
    fast.predict(lines_in, k=1)
    fast_rates.append(len(lines_in) / (time.perf_counter() - started))
    fast_cpu.append(len(lines_in) / (time.process_time() - cpu))
    fast_rate = max(fast_rates)
    table = ["| method | records/s | vs fastText |", "|---|---|---|"]
    for row in rows_out:
        rate = float(row.rsplit("|", 2)[1].replace(",", ""))
        table.append(f"{row} {rate / fast_rate:.2f}x |")
    table.append(f"| fastText predict, top-1, one thread (first {len(lines_in):,} titles; better of a run before "
                 f"and one after the others) | {fast_rate:,.0f} | 1.00x |")
    report += [
        (f"## Local engine vs fastText, O*NET titles ({rows:,} rows, {distinct_share:.0%} of them distinct, "
         f"{workers} workers, chunks of {CHUNK:,})"), "",
        *table, "",
        (f"Output with and without the cache: {'the same' if same else 'DIFFERENT'} (every column but the "
         f"confidence identical; confidences "
         + ("identical too" if float_diff == 0 else f"within {float_diff:.1e}: the floating-point sums of a batch "
            "depend on which texts share it") + "). "
         f"Engine wall time {engine['seconds']:.1f} s (without the cache {bare['seconds']:.1f} s, "
         f"{bare['cpu_seconds']:,.0f} CPU-seconds); peak resident memory: main process "
         f"{engine['main_mb']:,.0f} MB, largest worker {engine['worker_mb']:,.0f} MB, all processes together "
         f"{engine['sum_mb']:,.0f} MB. fastText rates: {', '.join(f'{r:,.0f}' for r in fast_rates)}. "
         f"Load average before {before}, after {loadavg()}."), "",
        (f"CPU time (less sensitive to other users of the machine than wall time): the engine's processes used "
         f"{engine['cpu_seconds']:,.0f} CPU-seconds = {rows / engine['cpu_seconds']:,.0f} records per CPU-second; "
         f"in memory {CPU_RATES.get((str(model), 'None'), 0):,.0f} records per CPU-second; fastText "
         f"{max(fast_cpu):,.0f} records per CPU-second (one thread). On {workers} otherwise idle cores the engine "
         f"would reach about {workers * rows / engine['cpu_seconds']:,.0f} records/s, "
         f"{workers * rows / engine['cpu_seconds'] / max(fast_cpu):.2f}x fastText's single-thread rate"
         + (f" (before this work: engine {n_base / base['cpu_seconds']:,.0f}, in memory "
            f"{CPU_RATES.get((str(model), str(baseline)), 0):,.0f})" if baseline is not None else "") + "."), ""]
    print("\n".join(report[-12:]), flush=True)


def stage_memory(rows: int, workers: int, report: list[str], sizes: tuple[int, ...] | None = None) -> None:
    model, _ = onet_model()
    lines = [f"## Peak memory against input size ({workers} workers, chunks of {CHUNK:,})", "",
             "| rows | main process MB | largest worker MB | all processes MB | records/s |", "|---|---|---|---|---|"]
    for n in sizes or (rows // 10, rows):
        data = titles_input(n, CACHE / f"titles-{n}.parquet")
        run = MEASURED.get(n) or run_cli(["--model", str(model), "--data", str(data), "--out",
                                          str(CACHE / f"mem-{n}.parquet"), "--workers", str(workers),
                                          "--chunk-size", str(CHUNK)])
        lines.append(f"| {n:,} | {run['main_mb']:,.0f} | {run['worker_mb']:,.0f} | {run['sum_mb']:,.0f} "
                     f"| {n / run['seconds']:,.0f} |")
    report += [*lines, "", f"Load average at the end: {loadavg()}.", ""]
    print("\n".join(lines), flush=True)


def ojalab_inputs(n_train: int = 4000, rows: int = 40_000) -> tuple[Path, Path]:
    """The OJALAB model (trained on ``n_train`` ads of fold 1's training part, cached) and an input of
    ``rows`` rows sampled from the ads it was not trained on (about half of them repeats)."""
    from statcoder import train

    data = datasets.ojalab(folds=1)
    split = data.splits[0]
    path = CACHE / "ojalab-model"
    if not (path / "model.json").is_file():
        train(split.train.iloc[:n_train], text_columns=["text"], code_column="code", classification=data.classification,
              seed=0, on_unknown_code="drop", cv_folds=2, max_text_length=200_000).save(path)
    unseen = pd.concat([split.test["text"], split.train["text"].iloc[n_train:]]).to_numpy(dtype=object)
    return path, titles_input(rows, CACHE / f"ojalab-ads-{rows}.parquet", pool=unseen, seed=1)


def stage_ojalab(workers: int, report: list[str], baseline: Path | None) -> None:
    path, ads = ojalab_inputs()
    n = pq.ParquetFile(ads).metadata.num_rows
    before = loadavg()
    cli = ["--model", str(path), "--data", str(ads), "--workers", str(workers), "--chunk-size", "2000",
           "--max-text-length", "200000"]
    run = run_cli([*cli, "--out", str(CACHE / "ojalab-coded.parquet")])
    memory_rate = in_memory_rate(path, ads, MEMORY_SAMPLE // 4, limit=200_000)
    lines = [(f"## Long job ads (OJALAB, {n:,} rows sampled from the ads the model did not see, about half repeats; "
             "model trained on 4,000 ads)"), "", "| method | records/s |", "|---|---|",
             f"| local engine, {workers} processes, end to end (Parquet -> Parquet) | {n / run['seconds']:,.0f} |",
             f"| in memory, one process (`Coder.code`, first {MEMORY_SAMPLE // 4:,} rows) | {memory_rate:,.0f} |"]
    if baseline is not None:
        base = run_cli([*cli, "--out", str(CACHE / "ojalab-coded-baseline.parquet")], src=baseline)
        base_memory = in_memory_rate(path, ads, MEMORY_SAMPLE // 4, src=baseline, limit=200_000)
        lines += [f"| before this work: local engine, {workers} processes, end to end | {n / base['seconds']:,.0f} |",
                  f"| before this work: in memory, one process | {base_memory:,.0f} |"]
        lines += ["", f"Engine speed-up over the code before this work: {base['seconds'] / run['seconds']:.2f}x."]
    lines += ["", (f"CPU time: the engine used {run['cpu_seconds']:,.0f} CPU-seconds = "
                   f"{n / run['cpu_seconds']:,.0f} records per CPU-second"
                   + (f" (before this work: {n / base['cpu_seconds']:,.0f})" if baseline is not None else "") + "."),
              "", (f"Peak memory of the engine: largest worker {run['worker_mb']:,.0f} MB, all processes "
              f"{run['sum_mb']:,.0f} MB. Load average before {before}, after {loadavg()}."), ""]
    report += lines
    print("\n".join(lines), flush=True)


def stage_prepare(rows: int, report: list[str]) -> None:
    """Train and cache the models, build the inputs (no timing: run it niced, outside the lock)."""
    _, train_titles = onet_model()
    fasttext_model(train_titles)
    for n in (rows // 10, rows, 200_000):
        titles_input(n, CACHE / f"titles-{n}.parquet")
    ojalab_inputs()
    report += ["prepared", ""]


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
    parser.add_argument("--stages", default="local,memory,ojalab,resume,spark")  # prepare, big: on demand
    parser.add_argument("--baseline-src", type=Path, default=None,
                        help="src directory of older statcoder code to measure side by side")
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    stages = args.stages.split(",")
    report = [f"# Batch engine benchmark ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})", "",
              (f"Command: `python benchmarks/batch/run.py --rows {args.rows} --workers {args.workers} --stages "
              f"{args.stages}`. Machine: {os.cpu_count()} cores shared with other work; load average at the start "
              f"{loadavg()}."), ""]
    runs = {"prepare": lambda: stage_prepare(args.rows, report),
            "local": lambda: stage_local(args.rows, args.workers, report, args.baseline_src),
            "memory": lambda: stage_memory(args.rows, args.workers, report),
            "big": lambda: stage_memory(10_000_000, args.workers, report, sizes=(10_000_000,)),
            "ojalab": lambda: stage_ojalab(args.workers, report, args.baseline_src),
            "resume": lambda: stage_resume(args.rows, args.workers, report),
            "spark": lambda: stage_spark(args.rows, report)}
    for name in ("prepare", "local", "memory", "big", "ojalab", "resume", "spark"):
        if name in stages:
            report = report[:4]
            runs[name]()
            # one file per stage, so each part of the benchmark can run in its own short locked slot
            out = CACHE / f"report-{name}.md"
            out.write_text("\n".join(report) + "\n", encoding="utf-8")
            print(json.dumps({"written": str(out)}))


if __name__ == "__main__":
    threading.current_thread().name = "benchmark"
    main()
