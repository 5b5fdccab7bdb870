"""Flat vs hierarchy-aware linear model: top-1 accuracy and fit time of the final model alone.

    .venv/bin/python benchmarks/core/flat_vs_hierarchical.py [--datasets esco,naics]

Fits ``LinearTextCoder`` with and without top-level groups on fold 1 of each dataset (no
internal cross-validation, no thresholds) and prints a Markdown table; the figures are
copied into benchmarks/results.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import datasets as ds

from statcoder.models import LinearTextCoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", default="esco,naics")
    args = parser.parse_args()
    makers = {"esco": ds.esco, "naics": ds.naics, "ojalab": ds.ojalab}
    print("| dataset | model | top-1 | fit s |\n|---|---|---|---|")
    for key in args.datasets.split(","):
        data = makers[key](folds=1)
        split, tree = data.splits[0], data.classification
        texts, codes = split.train["text"].tolist(), split.train["code"].tolist()
        groups = {c: tree.truncate(c, 1) for c in set(codes) if c in tree}
        for name, params in (("hierarchical (default)", {"groups": groups}), ("flat (--flat)", {})):
            started = time.perf_counter()
            model = LinearTextCoder(**params).fit(texts, codes)
            seconds = time.perf_counter() - started
            accuracy = float(np.mean(model.predict(split.test["text"].tolist()) == split.test["code"].to_numpy()))
            print(f"| {data.name} | {name} | {accuracy:.3f} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
