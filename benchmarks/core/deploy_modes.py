"""Which model to deploy? One fit per data set, every deploy mode scored on the same held-out fold.

``HierarchicalCoder`` is fitted once (fold 1 of each data set, ``deploy="refit"`` so that the K
members *and* a model refitted on all records exist, all on one shared featuriser); the
calibration and thresholds are the out-of-fold ones, common to every mode. Then the test fold is
coded with each deployed model:

* ``members``  - each record scored by one member, chosen by a hash of its text;
* ``ensemble`` - mean of the K members' calibrated probabilities (K model evaluations per record);
* ``mean``     - one linear model whose weights are the mean of the members' weights;
* ``refit``    - one model refitted on all records.

Reported per mode: top-1 at full depth, and the share and realised accuracy of every decision
level (auto at full depth, partial at each higher level) against the target 0.95.

    .venv/bin/python benchmarks/core/deploy_modes.py [--datasets naics,esco,onet,onet_reported,ojalab]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import datasets
from promise import onet_alternate

from statcoder.coder.estimator import HierarchicalCoder
from statcoder.coder.levels import best_by_level, level_aggregators, top_level_groups
from statcoder.decision import decide
from statcoder.models.linear import LinearTextCoder
from statcoder.models.registry import make_model

TARGET = 0.95
MODES = ("members", "ensemble", "mean", "refit")


def _onet_reported(*, folds: int | None = None) -> datasets.Dataset:
    return datasets.onet()


LOADERS = {"naics": datasets.naics, "esco": datasets.esco, "onet": onet_alternate, "onet_reported": _onet_reported,
           "ojalab": datasets.ojalab}


def score_modes(model: HierarchicalCoder, texts: list[str], truth: np.ndarray) -> dict[str, dict]:
    """Top-1 and per-level share / realised accuracy of every deploy mode on (texts, truth)."""
    tree = model.classification
    aggregators = level_aggregators(tree, [str(c) for c in model.classes_])
    refit = model.final_estimator_
    averaged = LinearTextCoder.averaged(model.estimators_)
    out = {}
    for mode in MODES:
        model.deploy = "refit" if mode in ("refit", "mean") else mode
        model.final_estimator_ = averaged if mode == "mean" else refit
        started = time.perf_counter()
        proba = model.predict_proba(texts)
        seconds = time.perf_counter() - started
        per_level = best_by_level(proba, aggregators)
        level, decision = decide({lv: c for lv, (_, c) in per_level.items()}, thresholds=model.thresholds_,
                                 full_depth=tree.depth)
        row = {"top1": float(np.mean(per_level[tree.depth][0] == truth)), "score_s": round(seconds, 2)}
        automatic = decision != "review"
        hits = np.zeros(len(truth), dtype=bool)
        for lv in range(1, tree.depth + 1):
            mask = automatic & (level == lv)
            hit = np.array([tree.level(t) >= lv and tree.truncate(t, lv) == p
                            for t, p in zip(truth[mask], per_level[lv][0][mask], strict=True)], dtype=bool)
            hits[mask] = hit
            row[f"L{lv}"] = [float(mask.mean()), float(hit.mean()) if mask.any() else None]
        row["automatic"] = [float(automatic.mean()), float(hits[automatic].mean()) if automatic.any() else None]
        out[mode] = row
    model.deploy, model.final_estimator_ = "refit", refit
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", default="naics,esco,onet,onet_reported,ojalab")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("deploy_modes.json"))
    parser.add_argument("--limit", type=int, default=None, help="first N training records only (smoke test)")
    args = parser.parse_args()
    rows = json.loads(args.out.read_text()) if args.out.exists() else []
    for name in args.datasets.split(","):
        data = LOADERS[name](folds=1)
        split = data.splits[0]
        tree = data.classification
        train = split.train[split.train["code"].isin(set(tree.codes))]
        if args.limit:
            train = train.iloc[: args.limit]
        texts, codes = train["text"].astype(str).tolist(), train["code"].astype(str).tolist()
        base = make_model("linear", seed=0, groups=top_level_groups(tree, codes))
        cv = 5 if len(texts) < 20_000 else 3
        started = time.perf_counter()
        model = HierarchicalCoder(base, classification=tree, cv=cv, deploy="refit").fit(texts, codes)
        train_s = time.perf_counter() - started
        test = split.test[split.test["code"].isin(set(tree.codes))]
        result = score_modes(model, test["text"].astype(str).tolist(), test["code"].astype(str).to_numpy())
        row = {"dataset": name, "fold": split.name, "n_train": len(texts), "n_test": len(test), "cv": cv,
               "train_s": round(train_s, 1), "thresholds": {k: (None if not np.isfinite(v) else v)
                                                             for k, v in model.thresholds_.items()},
               "loadavg": os.getloadavg()[0], "modes": result}
        rows = [r for r in rows if r["dataset"] != name] + [row]
        args.out.write_text(json.dumps(rows, indent=1))
        print(json.dumps(row), flush=True)
    print(markdown(rows))


def markdown(rows: list[dict]) -> str:
    """The comparison table: one line per (data set, mode)."""
    lines = ["| data set | deploy | top-1 | auto share (acc) | partial levels: share (acc) | automatic share (acc) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        for mode, m in r["modes"].items():
            depth = max(int(k[1:]) for k in m if k.startswith("L"))
            fmt = lambda v: f"{v[0]:.1%} ({'—' if v[1] is None else f'{v[1]:.3f}'})"
            partial = "; ".join(f"L{lv} {fmt(m[f'L{lv}'])}" for lv in range(1, depth) if m[f"L{lv}"][0] > 0)
            lines.append(f"| {r['dataset']} | {mode} | {m['top1']:.3f} | {fmt(m[f'L{depth}'])} | {partial or '—'} | "
                         f"{fmt(m['automatic'])} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
