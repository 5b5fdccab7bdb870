"""The service's job records/s, before and after the hot-path work, in one run (issue 11).

Service jobs code their input through the batch engine's ``code_chunk``, so a faster hot
path must show in their rate. This runs the job part of ``benchmarks/service/run.py``
(a real ``statcoder serve`` subprocess, SQLite store, a Parquet job submitted with
``from-path``, records/s from the job's own start and finish times) once per statcoder
source tree given (``--src``; the current one when none), with the same model and input.

    nice -n 19 python benchmarks/batch/service_job.py --prepare
    flock /work/bench.lock python benchmarks/batch/service_job.py --records 100000 \
        --src /tmp/base/src --src src

The model (trained on the ILO ISCO-08 index, as in the service benchmark) and the input
(ESCO labels sampled with replacement) are cached in ``benchmarks/.cache/batch/``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CACHE = HERE.parent / ".cache" / "batch"
sys.path.insert(0, str(REPO / "benchmarks" / "service"))

ONE_JOB = """
import json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import run as service
work, model, job = Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
csv = service.DATA / "classifications" / "isco08.csv"
key = service.bootstrap(work / "data", f"sqlite:///{work / 'store.db'}", csv, model)
# the job file lies in <inbox>/bench/: the project's own directory (older versions read any file of the inbox)
server = service.Server(work / "data", f"sqlite:///{work / 'store.db'}", job.parent.parent, work / "server.log").start()
try:
    status = service.wait_job(server, key, service.submit_job(server, key, job))
finally:
    server.stop()
import statcoder
print(json.dumps({"records": status["n_done"], "status": status["status"], "seconds": service.job_seconds(status),
                  "statcoder": str(Path(statcoder.__file__).parent)}))
"""


def prepare(records: int) -> tuple[Path, Path]:
    """The cached service model and a job input of ``records`` rows; returns (model dir, job file)."""
    import pandas as pd
    import run as service

    from statcoder import Classification, train

    model = CACHE / "service-model"
    if not (model / "model.json").is_file():
        tree = Classification.from_csv(service.DATA / "classifications" / "isco08.csv", name="ISCO-08", version="2008")
        labelled = pd.read_csv(service.DATA / "coding" / "ilo_isco08_index.csv", dtype=str, keep_default_na=False)
        train(labelled, text_columns=["text"], code_column="code", classification=tree, seed=0).save(model)
    inputs = CACHE / "service-inputs"
    (inputs / "bench").mkdir(parents=True, exist_ok=True)
    job = inputs / "bench" / f"job-{records}.parquet"
    if not job.is_file():
        texts = pd.read_csv(service.DATA / "coding" / "esco_isco08_labels.csv", dtype=str, keep_default_na=False)["text"]
        texts_file = inputs / "texts.txt"
        texts_file.write_text("\n".join(t.replace("\n", " ") for t in texts if t.strip()), encoding="utf-8")
        service.make_job_file(job, texts_file, records)
    return model, job


def one_job(src: Path, model: Path, job: Path) -> dict:
    """Run one service job with statcoder from ``src``; returns records, status, seconds, records_per_s."""
    env = {**os.environ, "PYTHONPATH": str(src.resolve())}
    with tempfile.TemporaryDirectory(prefix="statcoder-job-") as work:
        out = subprocess.run([sys.executable, "-c", ONE_JOB, str(REPO / "benchmarks" / "service"), work, str(model),
                              str(job)], capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"service job failed with {src}: {out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["records_per_s"] = result["records"] / result["seconds"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--src", type=Path, action="append", default=None,
                        help="a statcoder src directory to measure (repeatable; default: this one)")
    parser.add_argument("--prepare", action="store_true", help="only train the model and build the input")
    args = parser.parse_args()
    model, job = prepare(args.records)
    if args.prepare:
        return
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    lines = [f"Service job of {args.records:,} records (SQLite store, one `statcoder serve`; load before {load}):", "",
             "| statcoder source | records/s | job seconds | status |", "|---|---|---|---|"]
    for src in args.src or [REPO / "src"]:
        started = time.strftime("%H:%M:%S")
        result = one_job(src, model, job)
        lines.append(f"| `{src}` ({started}) | {result['records_per_s']:,.0f} | {result['seconds']:.1f} "
                     f"| {result['status']} |")
        print(lines[-1], flush=True)
    lines += ["", f"Load average after: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}.", ""]
    (CACHE / "report-service-job.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
