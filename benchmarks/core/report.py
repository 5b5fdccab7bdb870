"""The coder-v2 section of benchmarks/results.md, rebuilt from the JSON the core scripts write.

    .venv/bin/python benchmarks/core/report.py [--write]

Reads ``deploy_modes.json``, ``promise.json`` (+ run.py's statcoder rows for NAICS/ESCO/OJALAB
folds), ``recalibrate_onet*.json``, ``train_time.json`` and run.py's rows
(``benchmarks/core/rows.jsonl``); prints the tables, or with ``--write`` replaces the text
between the ``core-v2`` markers of benchmarks/results.md (atomically).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import headline
import promise
from deploy_modes import markdown as deploy_table

RESULTS = HERE.parent / "results.md"
START, END = "<!-- core-v2:start -->", "<!-- core-v2:end -->"


def _load(name: str) -> list:
    path = HERE / name
    return json.loads(path.read_text()) if path.exists() else []


def recalibration_table(rows: list[dict]) -> str:
    """Per split: automatic share (realised accuracy) before and after recalibration."""
    def fmt(x: dict) -> str:
        acc = x["automatic_acc"]
        return f"{x['automatic_share']:.1%} ({'—' if acc is None else f'{acc:.3f}'})"

    lines = ["| split | calibration records | coded (other reported titles) | without recalibration | recalibrated |",
             "|---|---|---|---|---|"]
    lines += [f"| {r['split']} | {r['n_calibration']:,} | {r['n_test']:,} | {fmt(r['before'])} | {fmt(r['after'])} |"
              for r in rows]
    return "\n".join(lines)


def timing_table(rows: list[dict]) -> str:
    """Training seconds with their load averages."""
    lines = [("| data set | records | train s (wall) | target | worker processes | CV folds | load before / after | "
             "when |"), "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['dataset']} | {r['n']:,} | {r['seconds']:.1f} | {r['target_s']:.0f} | {r['threads']} | "
              f"{r['cv_folds']} | {r['load_before']:.1f} / {r['load_after']:.1f} | {r['when']} |" for r in rows]
    return "\n".join(lines)


def tables() -> dict[str, str]:
    """Every table of the section, by name."""
    rows = _load("promise.json")
    rows += promise.rows_from_run(headline.ROWS, {(r["dataset"], r["fold"]) for r in rows}) \
        if headline.ROWS.exists() else []
    order = {"naics": 0, "esco": 1, "onet": 2, "ojalab": 3}
    rows.sort(key=lambda r: (order[r["dataset"]], r["fold"]))
    return {
        "headline": headline.headline(headline.ROWS) if headline.ROWS.exists() else "(no rows yet)",
        "deploy": deploy_table(_load("deploy_modes.json")),
        "promise": promise.markdown(rows),
        "recalibrate_1000": recalibration_table(_load("recalibrate_onet.json")),
        "recalibrate_3000": recalibration_table(_load("recalibrate_onet_3000.json")),
        "timing": timing_table(_load("train_time.json")),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--template", type=Path, default=HERE / "report_template.md")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    text = args.template.read_text(encoding="utf-8")
    for name, table in tables().items():
        text = text.replace("{" + name + "}", table)
    if not args.write:
        print(text)
        return
    from statcoder.io import atomic_write_text

    current = RESULTS.read_text(encoding="utf-8")
    head, rest = current.split(START, 1)
    _, tail = rest.split(END, 1)
    atomic_write_text(RESULTS, head + START + "\n" + text.strip() + "\n" + END + tail)


if __name__ == "__main__":
    main()
