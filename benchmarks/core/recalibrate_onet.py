"""Calibrating on the target population: O*NET, train on alternate titles, recalibrate on reported ones.

Train statcoder on the O*NET alternate titles (minus every title also among the reported titles),
then, for 5 random splits of the reported titles: recalibrate on 1,000 of them
(``Coder.recalibrate``) and code the others. Reported per split: realised accuracy of the records
coded automatically (auto at full depth, partial at each level, all automatic) and the automation
share, without and with recalibration, against the target 0.95.

    .venv/bin/python benchmarks/core/recalibrate_onet.py [--splits 5] [--n-calibration 1000]

The trained model is kept in ``benchmarks/.cache/recalibrate_onet/model`` (git-ignored) and
reused by the next run (``--retrain`` trains afresh): recalibration is then a matter of seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import datasets

from statcoder import Coder, train

TARGET = 0.95
MODEL = Path(__file__).resolve().parents[1] / ".cache" / "recalibrate_onet" / "model"


def realised(coder, frame) -> dict:
    """Share and realised accuracy of automatically coded records (per decision level and all)."""
    tree = coder.classification
    coded = coder.code(frame, text_columns=["text"])
    truth = frame["code"].to_numpy()
    pred, level = coded["predicted_code"].to_numpy(), coded["predicted_level"].to_numpy()
    automatic = coded["decision"].isin(["auto", "partial"]).to_numpy()
    hit = np.array([tree.level(t) >= lv > 0 and tree.truncate(t, lv) == p
                    for t, p, lv in zip(truth, pred, level, strict=True)])
    out = {"automatic_share": float(automatic.mean()),
           "automatic_acc": float(hit[automatic].mean()) if automatic.any() else None}
    for lv in range(1, tree.depth + 1):
        mask = automatic & (level == lv)
        out[f"L{lv}"] = (float(mask.mean()), float(hit[mask].mean()) if mask.any() else None)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--n-calibration", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("recalibrate_onet.json"))
    parser.add_argument("--retrain", action="store_true", help="train afresh even if a cached model exists")
    args = parser.parse_args()
    data = datasets.onet()
    split = data.splits[0]
    started = time.perf_counter()
    if MODEL.exists() and not args.retrain:
        coder = Coder.load(MODEL)
        train_s = float(coder.card.train_seconds)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            coder = train(split.train, text_columns=["text"], code_column="code",
                          classification=data.classification, seed=0, on_unknown_code="drop")
        train_s = time.perf_counter() - started
        MODEL.parent.mkdir(parents=True, exist_ok=True)
        coder.save(MODEL)
    reported = split.test[split.test["code"].isin(set(data.classification.codes))].reset_index(drop=True)
    rows = []
    for s in range(args.splits):
        order = np.random.default_rng(s).permutation(len(reported))
        cal, rest = reported.iloc[order[: args.n_calibration]], reported.iloc[order[args.n_calibration:]]
        new = coder.recalibrate(cal["text"].tolist(), cal["code"].tolist(), source=f"O*NET reported titles, split {s}")
        row = {"split": s, "n_calibration": len(cal), "n_test": len(rest), "train_s": round(train_s, 1),
               "before": realised(coder, rest), "after": realised(new, rest),
               "thresholds_before": {k: (None if not np.isfinite(v) else v) for k, v in coder.thresholds.items()},
               "thresholds_after": {k: (None if not np.isfinite(v) else v) for k, v in new.thresholds.items()},
               "loadavg": os.getloadavg()[0]}
        rows.append(row)
        print(json.dumps(row), flush=True)
        args.out.write_text(json.dumps(rows, indent=1))
    print("| split | before: automatic share (acc) | after: automatic share (acc) | after, per level (share, acc) |")
    print("|---|---|---|---|")
    for r in rows:
        b, a = r["before"], r["after"]
        levels = "; ".join(f"L{lv}: {a[f'L{lv}'][0]:.1%}, {a[f'L{lv}'][1]:.3f}" for lv in range(1, 7)
                           if f"L{lv}" in a and a[f"L{lv}"][1] is not None)

        def fmt(x):
            return "—" if x is None else f"{x:.3f}"

        print(f"| {r['split']} | {b['automatic_share']:.1%} ({fmt(b['automatic_acc'])}) | "
              f"{a['automatic_share']:.1%} ({fmt(a['automatic_acc'])}) | {levels or '—'} |")


if __name__ == "__main__":
    main()
