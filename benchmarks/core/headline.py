"""Headline table of the core benchmark: statcoder's top-1 margin over the better peer, per data set,
on the splits where statcoder and both peers (TF-IDF + LinearSVC, fastText tuned) have finished.

    .venv/bin/python benchmarks/core/headline.py [--rows benchmarks/core/rows.jsonl]

Reads the rows ``run.py`` appends; prints a Markdown table (copy it into benchmarks/results.md).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

ROWS = Path(__file__).resolve().parent / "rows.jsonl"  # committed: the results are rebuilt from it
NAMES = {"onet": "O*NET reported titles", "ojalab": "OJALAB job ads", "naics": "NAICS index", "esco": "ESCO labels"}
PEERS = ("TF-IDF + LinearSVC(C=0.5)", "fastText (tuned)")
ENCODER = "statcoder + MiniLM encoder (opt-in)"


def headline(path: Path) -> str:
    """The Markdown table: per data set, mean top-1 of each method over common splits, and the margin."""
    rows: dict[str, dict[str, dict[str, dict]]] = defaultdict(lambda: defaultdict(dict))
    for line in path.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        dataset, split, method, _ = item["key"].split("|")
        rows[dataset][split][method] = item["row"]
    lines = [("| data set | splits | statcoder | TF-IDF + LinearSVC | fastText tuned | margin over the better peer | "
              "opt-in encoder: top-1 (margin), splits |"), "|---|---|---|---|---|---|---|"]
    for dataset in ("naics", "esco", "onet", "ojalab"):
        splits = rows.get(dataset, {})
        common = sorted(s for s, m in splits.items() if "statcoder" in m and all(p in m for p in PEERS))
        partial = {meth: sorted(s for s, m in splits.items() if meth in m) for meth in ("statcoder", *PEERS)}
        if not common:
            done = "; ".join(f"{m}: {len(s)}" for m, s in partial.items())
            lines.append(f"| {NAMES[dataset]} | none common ({done or 'nothing run'}) | | | | not measured | |")
            continue
        depth = max(int(k[5:]) for k in splits[common[0]]["statcoder"] if k.startswith("acc_l"))

        def mean(method: str, key: str = f"acc_l{depth}", splits: dict = splits, common: list = common) -> float:
            return float(np.mean([splits[s][method][key] for s in common]))

        ours, svm, ft = mean("statcoder"), mean(PEERS[0]), mean(PEERS[1])
        # the opt-in encoder on the splits it has run, against the peers on those same splits
        enc = [s for s in common if ENCODER in splits[s]]
        encoder = "not run"
        if enc:
            top = float(np.mean([splits[s][ENCODER][f"acc_l{depth}"] for s in enc]))
            best = max(float(np.mean([splits[s][p][f"acc_l{depth}"] for s in enc])) for p in PEERS)
            encoder = f"{top:.3f} (**{(top - best) * 100:+.1f}**), {len(enc)}"
        lines.append(f"| {NAMES[dataset]} | {len(common)} | {ours:.3f} | {svm:.3f} | {ft:.3f} | "
                     f"**{(ours - max(svm, ft)) * 100:+.1f}** | {encoder} |")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=Path, default=ROWS)
    print(headline(parser.parse_args().rows))
