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
HEAD = "statcoder + head block (opt-in)"
OPT_IN = (("encoder", ENCODER), ("head block", HEAD))


def headline(path: Path) -> str:
    """The Markdown table: per data set, mean top-1 of each method over common splits, and the margin."""
    rows: dict[str, dict[str, dict[str, dict]]] = defaultdict(lambda: defaultdict(dict))
    for line in path.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        dataset, split, method, _ = item["key"].split("|")
        rows[dataset][split][method] = item["row"]
    opt_in = " | ".join(f"opt-in {name}: top-1 (margin), splits" for name, _ in OPT_IN)
    lines = [("| data set | splits | statcoder | TF-IDF + LinearSVC | fastText tuned | margin over the better peer | "
              f"{opt_in} |"), "|---|---|---|---|---|---|" + "---|" * len(OPT_IN)]
    for dataset in ("naics", "esco", "onet", "ojalab"):
        splits = rows.get(dataset, {})
        common = sorted(s for s, m in splits.items() if "statcoder" in m and all(p in m for p in PEERS))
        partial = {meth: sorted(s for s, m in splits.items() if meth in m) for meth in ("statcoder", *PEERS)}
        if not common:
            done = "; ".join(f"{m}: {len(s)}" for m, s in partial.items())
            lines.append(f"| {NAMES[dataset]} | none common ({done or 'nothing run'}) | | | | not measured |"
                         + " |" * len(OPT_IN))
            continue
        depth = max(int(k[5:]) for k in splits[common[0]]["statcoder"] if k.startswith("acc_l"))

        def mean(method: str, key: str = f"acc_l{depth}", splits: dict = splits, common: list = common) -> float:
            return float(np.mean([splits[s][method][key] for s in common]))

        ours, svm, ft = mean("statcoder"), mean(PEERS[0]), mean(PEERS[1])
        # each opt-in method on the splits it has run, against the peers on those same splits
        cells = []
        for _, method in OPT_IN:
            ran = [s for s in common if method in splits[s]]
            cell = "not run"
            if ran:
                top = float(np.mean([splits[s][method][f"acc_l{depth}"] for s in ran]))
                best = max(float(np.mean([splits[s][p][f"acc_l{depth}"] for s in ran])) for p in PEERS)
                cell = f"{top:.3f} (**{(top - best) * 100:+.1f}**), {len(ran)}"
            cells.append(cell)
        lines.append(f"| {NAMES[dataset]} | {len(common)} | {ours:.3f} | {svm:.3f} | {ft:.3f} | "
                     f"**{(ours - max(svm, ft)) * 100:+.1f}** | {' | '.join(cells)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=Path, default=ROWS)
    print(headline(parser.parse_args().rows))
