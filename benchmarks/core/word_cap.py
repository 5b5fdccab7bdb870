"""OJALAB: does capping word n-grams at the first N characters of a job ad cost accuracy?

    STATCODER_THREADS=2 flock /work/bench.lock .venv/bin/python benchmarks/core/word_cap.py [--caps none,2000]

Fold 1's *training part* only (the test fold is not looked at): for each cap, ``train()`` with
``model_params={"word_max_chars": cap}``; reported: wall seconds, out-of-fold top-1 and the
out-of-fold automatic share and accuracy per decision (the card's held-out figures).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import datasets

from statcoder import train


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--caps", default="none,2000")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("word_cap.json"))
    args = parser.parse_args()
    data = datasets.ojalab(folds=1)
    split = data.splits[0]
    rows = []
    for cap in args.caps.split(","):
        params = {} if cap == "none" else {"word_max_chars": int(cap)}
        load = os.getloadavg()[0]
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            coder = train(split.train, text_columns=["text"], code_column="code", classification=data.classification,
                          seed=0, on_unknown_code="drop", max_text_length=200_000, model_params=params)
        held = coder.card.heldout
        row = {"cap": cap, "seconds": round(time.perf_counter() - started, 1), "load_before": round(load, 2),
               "oof_top1": held.accuracy,
               "decisions": {k: [v.share, v.accuracy] for k, v in held.decisions.items()}}
        rows.append(row)
        print(json.dumps(row), flush=True)
    args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
