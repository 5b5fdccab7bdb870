"""Run one part of the workbench benchmark and store its figures as JSON in the cache.

    .venv/bin/python benchmarks/workbench/part.py loop [--n-coded 2000] [--max-train N]
    .venv/bin/python benchmarks/workbench/part.py al [--seeds 3]
    .venv/bin/python benchmarks/workbench/part.py ui
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CACHE, loadavg


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("part", choices=["loop", "al", "ui"])
    parser.add_argument("--n-coded", type=int, default=2000)
    parser.add_argument("--max-train", type=int, default=None)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--records", type=int, default=20)
    parser.add_argument("--name", default=None, help="cache file name (default: the part)")
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    started, load_before = time.time(), loadavg()
    with tempfile.TemporaryDirectory() as tmp:
        if args.part == "loop":
            from closed_loop import run

            figures = run(tmp, n_coded=args.n_coded, max_train=args.max_train)
        elif args.part == "al":
            from active_learning import run

            figures = run(seeds=args.seeds)
        else:
            from ui import run

            figures = run(Path(tmp), n_records=args.records)
    figures["load_before"], figures["load_after"] = load_before, loadavg()
    figures["wall_seconds"] = round(time.time() - started, 1)
    (CACHE / f"{args.name or args.part}.json").write_text(json.dumps(figures, indent=1, default=str))
    print(json.dumps(figures, indent=1, default=str)[:3000])


if __name__ == "__main__":
    main()
