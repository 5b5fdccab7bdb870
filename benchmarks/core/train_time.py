"""Training time of the default coder, internal cross-validation included (issue 12's targets).

    STATCODER_THREADS=2 flock /work/bench.lock .venv/bin/python benchmarks/core/train_time.py \\
        [--datasets onet,ojalab] [--out benchmarks/core/train_time.json] [--options '{"select_model": true}']

O*NET: the 46,272 alternate titles of the benchmark's training part (target <= 60 s); OJALAB: all
9,872 job ads (target <= 120 s). ``statcoder.train`` with its defaults (deploy "mean": K members on
one shared featuriser, every SVM in one pool of ``STATCODER_THREADS`` worker processes), wall
seconds from the call to the returned coder, with the 1-minute load average before and after.
``--options``: further ``train()`` keyword arguments (JSON), recorded with the row.
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
from statcoder.runtime import configured_threads

TARGETS = {"onet": 60.0, "ojalab": 120.0}


def frame_of(name: str):
    """(training frame, classification) of a data set, as the targets define it."""
    if name == "onet":
        data = datasets.onet()
        return data.splits[0].train, data.classification
    data = datasets.ojalab(folds=1)
    split = data.splits[0]
    import pandas as pd

    return pd.concat([split.train, split.test], ignore_index=True), data.classification


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", default="onet,ojalab")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("train_time.json"))
    parser.add_argument("--options", default="{}", help="extra train() keyword arguments, JSON")
    args = parser.parse_args()
    options = json.loads(args.options)
    rows = json.loads(args.out.read_text()) if args.out.exists() else []
    for name in args.datasets.split(","):
        frame, tree = frame_of(name)
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            coder = train(frame, text_columns=["text"], code_column="code", classification=tree, seed=0,
                          on_unknown_code="drop", max_text_length=200_000, **options)
        seconds = time.perf_counter() - started
        row = {"dataset": name, "n": len(frame), "seconds": round(seconds, 1), "target_s": TARGETS[name],
               "threads": configured_threads(), "cv_folds": coder.card.heldout.cv_folds, "deploy": coder.card.deploy,
               **({"options": options, "model_selection": coder.card.model_selection} if options else {}),
               "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2),
               "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
        rows.append(row)
        args.out.write_text(json.dumps(rows, indent=1))
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
