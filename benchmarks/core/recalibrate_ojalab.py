"""Calibrating on audited ads: OJALAB, thresholds re-chosen on a labelled sample scored by the deployed model.

For each of the 5 folds of the OJALAB benchmark split (``datasets.ojalab``, the folds of
``run.py`` and ``promise_cache.py``): train the deployed model on the other 4 folds with the
product's ``train`` (same call as ``methods.run_statcoder``; ``--variant head``: the opt-in head
block, ``train(head_weight=methods.HEAD_WEIGHT)``), then for ``--splits`` random splits of the
test fold: recalibrate (``Coder.recalibrate``, the product's rule as is) on n labelled test-fold
ads and code the other ads of the fold (the evaluation part), without and with recalibration.

Reported per (fold, n, split): automatic share (auto + partial), full-depth share, realised
accuracy per decision level (auto at full depth, partial at each level) and of all automatic
records, against the target 0.95. A test fold holds ~1,975 ads, so n = 1,000 and 1,500 (2,000
would leave nothing to evaluate on); n = 1,000 is below the 1,013 records the second start of the
fallback test needs (one start: fixed-sequence testing from 153 records), 1,500 above it.
Diagnostics per case (``diagnostics``): errors among the most confident calibration ads, and what the
top or the full-depth level alone could code with hindsight on the calibration or the evaluation labels.

    STATCODER_SHARED_DATA=/work/shared/data STATCODER_THREADS=2 nice -n 19 \
        .venv/bin/python benchmarks/core/recalibrate_ojalab.py [--variant default|head] \
        [--folds 1,2,3,4,5] [--splits 3] [--n-calibration 1000,1500]
    .venv/bin/python benchmarks/core/recalibrate_ojalab.py --report   # tables from the JSON only

Each fold's model is kept in ``benchmarks/.cache/recalibrate_ojalab/<variant>_fold<k>/``
(git-ignored) and reused (``--retrain`` trains afresh); rows are merged into
``recalibrate_ojalab.json`` by (variant, fold, n, split), so folds can be run one at a time.
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
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import datasets
import methods

from statcoder import Coder, train
from statcoder.coder.levels import best_by_level, level_aggregators
from statcoder.decision.thresholds import binomial_p_value
from statcoder.text.normalise import truncate_texts

TARGET = 0.95
CACHE = Path(__file__).resolve().parents[1] / ".cache" / "recalibrate_ojalab"
OUT = Path(__file__).with_name("recalibrate_ojalab.json")
HEAD_WEIGHTS = {"default": 0.0, "head": methods.HEAD_WEIGHT}


def figures(coded: pd.DataFrame, truth: np.ndarray, tree) -> dict:
    """Automatic share, full-depth share and realised accuracy per decision level and of all automatic
    records (accuracy at the level coded; None where no record was coded)."""
    pred = coded["predicted_code"].to_numpy()
    level = coded["predicted_level"].to_numpy()
    decision = coded["decision"].to_numpy()
    automatic = np.isin(decision, ["auto", "partial"])
    hit = np.array([lv > 0 and tree.level(t) >= lv and tree.truncate(t, lv) == p
                    for t, p, lv in zip(truth, pred, level, strict=True)], dtype=bool)
    out = {"n": len(truth), "automatic_share": float(automatic.mean()),
           "automatic_n": int(automatic.sum()),
           "automatic_acc": float(hit[automatic].mean()) if automatic.any() else None,
           "full_depth_share": float((decision == "auto").mean())}
    for lv in range(1, tree.depth + 1):
        mask = (decision == ("auto" if lv == tree.depth else "partial")) & (level == lv)
        out[f"L{lv}"] = {"share": float(mask.mean()), "n": int(mask.sum()),
                         "acc": float(hit[mask].mean()) if mask.any() else None}
    return out


def fold_coder(data, fold: int, variant: str, retrain: bool) -> tuple[Coder, float]:
    """The fold's deployed model, trained by the product's ``train`` (cached); returns it and its train seconds."""
    path = CACHE / f"{variant}_fold{fold}"
    if path.exists() and not retrain:
        coder = Coder.load(path)
        return coder, float(coder.card.train_seconds)
    split = data.splits[fold - 1]
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coder = train(split.train, text_columns=["text"], code_column="code", classification=data.classification,
                      seed=0, on_unknown_code="drop", max_text_length=methods.LONGEST,
                      head_weight=HEAD_WEIGHTS[variant])
    train_s = time.perf_counter() - started
    path.parent.mkdir(parents=True, exist_ok=True)
    coder.save(path)
    print(f"{variant} fold {fold}: trained in {train_s:.0f} s (load {os.getloadavg()[0]:.1f})", flush=True)
    return coder, train_s


def diagnostics(coder: Coder, texts: list[str], codes: list[str], cal: np.ndarray, rest: np.ndarray,
                counts=(153, 230, 1013)) -> dict:
    """Why a level is (not) certified, and what hindsight allows, at the top and the full-depth level alone
    (every record's true code reaches both on OJALAB), scored by the recalibrated model:

    * ``top_errors``: errors among the m most confident calibration records;
    * ``cal_bound``: share (accuracy) on the evaluation part of the threshold of the largest most-confident
      slice of the calibration records that passes *one* exact binomial test at the full alpha (hindsight on
      the calibration labels: an upper bound for any rule certified on them that codes that level alone);
    * ``eval_oracle``: the largest most-confident share of the evaluation part realised at >= 0.95
      (hindsight on the evaluation labels)."""
    tree = coder.classification
    texts, _ = truncate_texts(texts, max_length=coder.card.limits.max_text_length)
    per_level = best_by_level(coder.model.predict_proba(texts),
                              level_aggregators(tree, [str(c) for c in coder.model.classes_]))
    alpha = 1.0 - float(coder.model.confidence_level)
    out = {}
    for lv in (1, tree.depth):
        best, conf = per_level[lv]
        right = np.array([tree.truncate(c, lv) == b for c, b in zip(codes, best, strict=True)])
        order = cal[np.argsort(-conf[cal], kind="stable")]
        hits = np.cumsum(right[order])
        passing = [m for m in range(1, len(order) + 1)
                   if binomial_p_value(int(hits[m - 1]), m, TARGET) <= alpha]
        bound = None
        if passing:
            accepted = rest[conf[rest] >= conf[order[max(passing) - 1]]]
            bound = (float(len(accepted) / len(rest)), float(right[accepted].mean()) if len(accepted) else None)
        ranked = right[rest[np.argsort(-conf[rest], kind="stable")]]
        ok = np.flatnonzero(np.cumsum(ranked) / np.arange(1, len(ranked) + 1) >= TARGET)
        out[f"L{lv}"] = {"top_errors": {str(m): int(len(order[:m]) - right[order[:m]].sum()) for m in counts
                                        if m <= len(order)},
                         "cal_bound": bound, "eval_oracle": float((ok[-1] + 1) / len(rest)) if ok.size else 0.0}
    return out


def _thresholds(coder: Coder) -> dict[str, float | None]:
    return {str(k): (None if not np.isfinite(v) else float(v)) for k, v in sorted(coder.thresholds.items())}


def run_fold(data, fold: int, variant: str, splits: int, sizes: list[int], retrain: bool) -> list[dict]:
    """Rows of one fold: every (n, split) of its test fold, without and with recalibration."""
    tree = data.classification
    coder, train_s = fold_coder(data, fold, variant, retrain)
    test = data.splits[fold - 1].test
    test = test[test["code"].isin(set(tree.codes))].reset_index(drop=True)
    truth = test["code"].to_numpy(dtype=object)
    before = coder.code(test, text_columns=["text"], max_text_length=methods.LONGEST)  # per record: slice below
    rows = [{"variant": variant, "fold": fold, "n_calibration": 0, "split": None, "train_s": round(train_s, 1),
             "before": figures(before, truth, tree), "thresholds_before": _thresholds(coder),
             "loadavg": os.getloadavg()[0]}]
    print(json.dumps(rows[0]), flush=True)
    for n in sizes:
        for s in range(splits):
            order = np.random.default_rng(s).permutation(len(test))
            cal, rest = order[:n], np.sort(order[n:])
            new = coder.recalibrate(test["text"].iloc[cal].tolist(), test["code"].iloc[cal].tolist(),
                                    source=f"OJALAB fold {fold}, {n} test-fold ads, split {s}")
            after = new.code(test.iloc[rest], text_columns=["text"], max_text_length=methods.LONGEST)
            row = {"variant": variant, "fold": fold, "n_calibration": n, "split": s, "n_test": len(rest),
                   "train_s": round(train_s, 1),
                   "before": figures(before.iloc[rest].reset_index(drop=True), truth[rest], tree),
                   "after": figures(after, truth[rest], tree),
                   "thresholds_before": _thresholds(coder), "thresholds_after": _thresholds(new),
                   "diagnostics": diagnostics(new, test["text"].tolist(), test["code"].tolist(), cal, rest),
                   "loadavg": os.getloadavg()[0]}
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def _key(row: dict) -> tuple:
    return row["variant"], row["fold"], row["n_calibration"], row["split"]


def merge(out: Path, rows: list[dict]) -> list[dict]:
    """Rows of ``out`` with ``rows`` replacing those of the same (variant, fold, n, split); written back."""
    old = json.loads(out.read_text()) if out.exists() else []
    new_keys = {_key(r) for r in rows}
    merged = sorted([r for r in old if _key(r) not in new_keys] + rows,
                    key=lambda r: (r["variant"] != "default", r["variant"], r["fold"], r["n_calibration"],
                                   -1 if r["split"] is None else r["split"]))
    out.write_text(json.dumps(merged, indent=1))
    return merged


def _acc(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def _cell(f: dict) -> str:
    return f"{f['automatic_share']:.1%} ({_acc(f['automatic_acc'])})"


def _levels(f: dict, depth: int) -> str:
    return "; ".join(f"L{lv} {f[f'L{lv}']['share']:.1%} ({_acc(f[f'L{lv}']['acc'])}, {f[f'L{lv}']['n']})"
                     for lv in range(depth, 0, -1) if f[f"L{lv}"]["n"]) or "—"


def report(rows: list[dict], depth: int = 4) -> str:
    """Markdown tables: per fold x split, then means and cases below the target, per variant and n."""
    lines = []
    for variant in sorted({r["variant"] for r in rows}, key=lambda v: v != "default"):
        whole = [r for r in rows if r["variant"] == variant and r["n_calibration"] == 0]
        if whole:
            lines += [f"**{variant}**, whole test fold, out-of-fold thresholds: "
                      + ", ".join(f"fold {r['fold']} {_cell(r['before'])}" for r in whole)
                      + f" (mean share {np.mean([r['before']['automatic_share'] for r in whole]):.1%}).", ""]
        for n in sorted({r["n_calibration"] for r in rows if r["variant"] == variant} - {0}):
            part = [r for r in rows if r["variant"] == variant and r["n_calibration"] == n]
            lines += [(f"**{variant}, n = {n:,} calibration ads** (evaluation part: the other "
                      f"{min(r['n_test'] for r in part):,}–{max(r['n_test'] for r in part):,} ads of the fold)"), "",
                      ("| fold | split | without: automatic (acc) | full depth | recalibrated: automatic (acc) | "
                      "full depth | recalibrated, per decision level: share (acc, records) |"),
                      "|---|---|---|---|---|---|---|"]
            for r in part:
                b, a = r["before"], r["after"]
                lines.append(f"| {r['fold']} | {r['split']} | {_cell(b)} | {b['full_depth_share']:.1%} | {_cell(a)} | "
                             f"{a['full_depth_share']:.1%} | {_levels(a, depth)} |")
            lines += ["", *_summary(part), *_hindsight(part), ""]
    return "\n".join(lines)


def _summary(part: list[dict]) -> list[str]:
    out = []
    for when in ("before", "after"):
        shares = [r[when]["automatic_share"] for r in part]
        full = [r[when]["full_depth_share"] for r in part]
        accs = [r[when]["automatic_acc"] for r in part if r[when]["automatic_acc"] is not None]
        # pooled accuracy: all automatic records of all cases together
        k = sum(r[when]["automatic_acc"] * r[when]["automatic_n"] for r in part if r[when]["automatic_n"])
        m = sum(r[when]["automatic_n"] for r in part)
        below = [a for a in accs if a < TARGET]
        levels = [(r[when][lv]["acc"], r[when][lv]["n"]) for r in part for lv in r[when] if lv.startswith("L")
                  and r[when][lv]["n"]]
        level_below = [a for a, _ in levels if a < TARGET]
        label = "without recalibration" if when == "before" else "recalibrated"
        out.append(
            f"- {label}: mean automatic share {np.mean(shares):.1%} (range {min(shares):.1%}–{max(shares):.1%}), "
            f"full depth {np.mean(full):.1%}; {len(part) - len(accs)} of {len(part)} cases code nothing; "
            f"realised accuracy of all automatic records: mean over cases {_acc(np.mean(accs) if accs else None)}, "
            f"pooled {_acc(k / m if m else None)}; below 0.95: {len(below)} of {len(accs)} cases"
            + (f" (lowest {min(below):.3f}, mean shortfall {TARGET - np.mean(below):.3f})" if below else "")
            + f"; decision levels below 0.95: {len(level_below)} of {len(levels)}"
            + (f" (lowest {min(level_below):.3f})" if level_below else "") + ".")
    return out


def _hindsight(part: list[dict]) -> list[str]:
    """Means of the diagnostics: what one level alone could code with hindsight (module ``diagnostics``)."""
    rows = [r for r in part if "diagnostics" in r]
    if not rows:
        return []
    out = []
    for lv in sorted({k for r in rows for k in r["diagnostics"]}, key=lambda k: int(k[1:])):
        d = [r["diagnostics"][lv] for r in rows]
        bounds = [x["cal_bound"][0] if x["cal_bound"] else 0.0 for x in d]
        errors = {m: [x["top_errors"][m] for x in d if m in x["top_errors"]] for m in ("153", "230", "1013")}
        out.append(f"- {lv} alone, with hindsight: the largest slice of the calibration ads passing one exact "
                   f"test codes {np.mean(bounds):.1%} of the evaluation part (nothing in "
                   f"{sum(not x['cal_bound'] for x in d)} of {len(d)} cases); the evaluation part's own oracle "
                   f"{np.mean([x['eval_oracle'] for x in d]):.1%}; errors among the most confident calibration ads: "
                   + ", ".join(f"{m}: {min(v)}–{max(v)}" for m, v in errors.items() if v) + ".")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", choices=sorted(HEAD_WEIGHTS), default="default")
    parser.add_argument("--folds", default="1,2,3,4,5")
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--n-calibration", default="1000,1500")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--retrain", action="store_true", help="train afresh even if a cached model exists")
    parser.add_argument("--report", action="store_true", help="print the tables from --out; run nothing")
    args = parser.parse_args()
    if not args.report:
        data = datasets.ojalab()
        sizes = [int(n) for n in args.n_calibration.split(",")]
        for fold in (int(f) for f in args.folds.split(",")):
            merge(args.out, run_fold(data, fold, args.variant, args.splits, sizes, args.retrain))
    print(report(json.loads(args.out.read_text())))


if __name__ == "__main__":
    main()
