"""Where the local engine's CPU time goes, stage by stage, on the benchmark's titles input.

    python benchmarks/batch/profile_engine.py --rows 200000            # after run.py --stages prepare

Runs the engine's steps in this one process, chunk by chunk as a worker and the main process
do, and sums the CPU time (``time.process_time``) of each: reading a chunk from Parquet, the
hand-off to a worker (pickling the chunk and unpickling it), coding it (``code_table``: the
de-duplication, the worker's cache of coded texts, the model on the misses, the output
columns), writing its part file, and assembling the parts into the output file. Prints CPU
microseconds per input row by stage. Inputs and model: ``benchmarks/.cache/batch``.
"""

from __future__ import annotations

import argparse
import pickle
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE.parent / ".cache" / "batch"


def profile(model_dir: Path, data: Path, rows: int, chunk_size: int, cache_size: int) -> tuple[Counter, dict]:
    """Seconds of CPU per stage (Counter) and counts (rows, chunks, distinct, cache hits)."""
    import pyarrow.parquet as pq

    from statcoder.batch import chunks as chunk_module
    from statcoder.batch.local import _input_schema
    from statcoder.batch.sinks import PartWriter, finish, output_schema
    from statcoder.batch.sources import Source
    from statcoder.coder import Coder

    spent: Counter = Counter()
    counts: Counter = Counter()
    clock = time.process_time
    start = clock()
    coder = Coder.load(model_dir)
    spent["load model (once per worker)"] += clock() - start
    source = Source(data, text_columns=["text"])
    root = Path(tempfile.mkdtemp(prefix="statcoder-profile-"))
    work = root / "work"
    (work / "parts").mkdir(parents=True)
    schema = output_schema(_input_schema(source))
    writer = PartWriter(work=str(work), kind="parquet", schema=schema)
    coded_cache = chunk_module.cache_for(coder, cache_size)
    chunks = source.chunks(chunk_size)
    n = 0
    while n < rows:
        start = clock()
        chunk = next(chunks, None)
        spent["read chunk (main)"] += clock() - start
        if chunk is None:
            break
        start = clock()
        blob = pickle.dumps(chunk.frame, protocol=pickle.HIGHEST_PROTOCOL)
        spent["hand-off: pickle (main)"] += clock() - start
        start = clock()
        frame = pickle.loads(blob)
        spent["hand-off: unpickle (worker)"] += clock() - start
        timings: Counter = Counter()
        start = clock()
        coded = chunk_module.code_table(coder, frame, text_columns=["text"], cache=coded_cache)
        spent["code chunk (worker)"] += clock() - start
        for name, seconds in timings.items():
            if name.startswith("n_"):
                counts[name] += int(seconds)
            else:
                spent[f"  code: {name}"] += seconds
        start = clock()
        writer.write(chunk.index, coded)
        spent["write part (worker)"] += clock() - start
        n += chunk.frame.num_rows if hasattr(chunk.frame, "num_rows") else len(chunk.frame)
        counts["chunks"] += 1
    start = clock()
    out = root / "out.parquet"
    finish(writer, out, counts["chunks"], [f.name for f in schema])
    spent["assemble output (main)"] += clock() - start
    counts["rows"] = n
    counts["output rows"] = pq.ParquetFile(out).metadata.num_rows
    shutil.rmtree(root, ignore_errors=True)
    return spent, dict(counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=CACHE / "onet-model")
    parser.add_argument("--data", type=Path, default=CACHE / "titles-1000000.parquet")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--chunk-size", type=int, default=20_000)
    parser.add_argument("--cache-size", type=int, default=None, help="entries of the text cache (0: none)")
    args = parser.parse_args()
    from statcoder.batch.cache import DEFAULT_CACHE_SIZE

    cache_size = DEFAULT_CACHE_SIZE if args.cache_size is None else args.cache_size
    spent, counts = profile(args.model, args.data, args.rows, args.chunk_size, cache_size)
    rows = counts["rows"]
    print(f"{rows:,} rows in {counts['chunks']} chunks, cache {cache_size:,} entries; counts {counts}")
    per_row = {k: 1e6 * v / rows for k, v in spent.items() if not k.startswith("load")}
    total = sum(v for k, v in per_row.items() if not k.startswith("  "))
    print("| stage | CPU µs per row |\n|---|---|")
    for name, value in spent.items():
        print(f"| {name} | {1e6 * value / rows:,.2f} |" if not name.startswith("load")
              else f"| {name} | {value:.2f} s |")
    print(f"| **total per row (without loading the model)** | **{total:,.2f}** ({1e6 / total:,.0f} rows per CPU-s) |")
    print(f"load average: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")


if __name__ == "__main__":
    main()
