"""Joint choice of the per-level thresholds, studied on the cached folds (``promise_cache.py``): numpy only.

For each cached (data set, fold), default recipe or the opt-in head block (``--head-weight 1``):

* ``v3``: today's procedure (``promise_study.choose``: deepest level first, fallback, two starts);
* ``top only``: the top level alone (``threshold_for_target`` on level 1 at the full alpha, the
  other levels never coded) — the guarantee of one level, unchanged;
* ``joint``: a pre-specified family of threshold *pairs* (the top level and full depth), tested
  jointly (``joint_thresholds``);
* the two oracles on the test fold itself (hindsight, an upper bound for any per-level thresholds):
  ``oracle_all`` — all automatic records together at >= 0.95 (``promise_study.oracle``, as reported
  before) — and ``oracle_levels`` — every decision level at >= 0.95 (what the promise asks).

    nice -n 19 .venv/bin/python benchmarks/core/levels_study.py --datasets ojalab [--head-weight 1] [--grid 12]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from promise_cache import cache_path
from promise_study import TARGET, apply, choose, oracle

from statcoder.decision import threshold_for_target
from statcoder.decision.thresholds import binomial_p_value, fallback_plan

#: the joint family's paths: the share of the coded records that are coded at full depth
RATIOS = (0.0, 0.25, 0.5, 0.75, 1.0)


def load(name: str, fold: int, head_weight: float) -> dict | None:
    """The cached arrays of one case, or None."""
    path = cache_path(name, fold, head_weight)
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def _top_threshold(conf: np.ndarray, m: int) -> float:
    """The confidence accepting the ``m`` most confident records (ties: all of them); inf for m = 0."""
    if m <= 0 or conf.size == 0:
        return float("inf")
    return float(np.sort(conf)[::-1][min(m, conf.size) - 1])


def _pair(conf1: np.ndarray, confd: np.ndarray, m: int, r: float) -> tuple[float, float]:
    """Label-free configuration (m coded, share r at full depth): (threshold at level 1, at full depth)."""
    nd = round(r * m)
    td = _top_threshold(confd, nd)
    rest = confd < td
    t1 = _top_threshold(conf1[rest], m - int((~rest).sum()))
    return t1, td


def joint_thresholds(arrays: dict, *, prefix: str = "oof", confidence_level: float = 0.95) -> dict[int, float]:
    """Thresholds for level 1 and full depth chosen jointly; the levels between get none.

    The family: for every ratio r in ``RATIOS`` a chain of configurations coding m records, a
    share r of them at full depth (the most confident at full depth), the rest at level 1 (the
    most confident of the others), m on ``fallback_plan``'s label-free counts. Configuration
    (m, r)'s null hypothesis: "the full-depth records' accuracy < target OR the level-1 records'
    accuracy < target", tested by the larger of the two exact binomial p-values (an
    intersection-union test, level alpha without adjustment). Each chain gets alpha / |RATIOS|
    (Bonferroni across chains) and is tested by the fallback procedure within (the chain's two
    starts). Every rejected configuration is then, with probability >= ``confidence_level``
    simultaneously over the family, one whose two decision levels both reach the target; the
    returned one is the rejected configuration coding the most out-of-fold records.
    """
    depth = int(arrays["depth"])
    conf1, confd = arrays[f"{prefix}_conf_1"], arrays[f"{prefix}_conf_{depth}"]
    ok1, okd = arrays[f"{prefix}_correct_1"], arrays[f"{prefix}_correct_{depth}"]
    alpha = (1.0 - confidence_level) / len(RATIOS)
    cuts, weights = fallback_plan(conf1.size, target=TARGET, confidence_level=1.0 - alpha)
    best, best_t = 0, (float("inf"), float("inf"))
    for r in RATIOS:
        carried = 0.0
        for m, w in zip(cuts, weights, strict=True):
            level = carried + w * alpha
            t1, td = _pair(conf1, confd, int(m), r)
            at_d = confd >= td
            at_1 = (conf1 >= t1) & ~at_d
            p = max(binomial_p_value(int(okd[at_d].sum()), int(at_d.sum()), TARGET) if at_d.any() else 0.0,
                    binomial_p_value(int(ok1[at_1].sum()), int(at_1.sum()), TARGET) if at_1.any() else 0.0)
            if level > 0 and p <= level * (1 + 1e-12):
                carried = level
                coded = int((at_d | at_1).sum())
                if coded > best:
                    best, best_t = coded, (t1, td)
            else:
                carried = 0.0
    return {lv: float("inf") for lv in range(1, depth + 1)} | {1: best_t[0], depth: best_t[1]}


def oracle_levels(arrays: dict, mode: str = "mean", grid: int = 12) -> float:
    """Largest automatic share any per-level thresholds reach on the test fold with *every* decision
    level's realised accuracy >= TARGET (a quantile grid per level, level 1 solved exactly)."""
    depth = int(arrays["depth"])
    conf = {lv: arrays[f"{mode}_conf_{lv}"] for lv in range(1, depth + 1)}
    correct = {lv: arrays[f"{mode}_correct_{lv}"] for lv in range(1, depth + 1)}
    n = len(conf[1])
    grids = [np.unique(np.r_[np.inf, np.quantile(conf[lv], np.linspace(1.0, 0.0, grid + 1)[1:])])
             for lv in range(2, depth + 1)]
    best = 0
    for combo in itertools.product(*grids):
        chosen = np.zeros(n, dtype=np.int64)
        for lv, t in zip(range(2, depth + 1), combo, strict=True):
            chosen[conf[lv] >= t] = lv
        if any(int(correct[lv][chosen == lv].sum()) < TARGET * int((chosen == lv).sum()) - 1e-9
               for lv in range(2, depth + 1)):
            continue
        rest = chosen == 0
        c1, k1 = conf[1][rest], correct[1][rest]
        order = np.argsort(-c1, kind="stable")
        cs, ks = c1[order], np.cumsum(k1[order])
        m = np.arange(1, len(cs) + 1)
        ok = (ks >= TARGET * m - 1e-9) & np.r_[cs[1:] < cs[:-1], True]
        best = max(best, int((chosen > 0).sum()) + (int(m[ok].max()) if ok.any() else 0))
    return best / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="ojalab")
    parser.add_argument("--head-weight", type=float, default=0.0)
    parser.add_argument("--grid", type=int, default=12)
    parser.add_argument("--no-oracle", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows = []
    print("| case | top-1 | v3: automatic (acc), lowest level | top level only | joint: automatic (acc), lowest "
          "level | oracle: all together | oracle: every level |\n|---|---|---|---|---|---|---|")
    for name in args.datasets.split(","):
        for fold in range(1, 6):
            arrays = load(name, fold, args.head_weight)
            if arrays is None:
                continue
            v3 = apply(arrays, choose(arrays, threshold_for_target))
            joint = apply(arrays, joint_thresholds(arrays))
            depth = int(arrays["depth"])
            top = apply(arrays, {lv: float("inf") for lv in range(2, depth + 1)}
                        | {1: threshold_for_target(arrays["oof_conf_1"], arrays["oof_correct_1"])})
            o_all = o_lv = None
            if not args.no_oracle:
                o_all = oracle(arrays, "mean", grid=args.grid)[0]
                o_lv = oracle_levels(arrays, "mean", grid=args.grid)
            row = {"case": f"{name} {fold}", "head_weight": args.head_weight, "v3": v3, "top_only": top, "joint": joint,
                   "oracle_all": o_all, "oracle_levels": o_lv}
            rows.append(row)
            print(f"| {row['case']} | {v3['top1']:.3f} | {_cell(v3)} | {_cell(top)} | {_cell(joint)} | {_pct(o_all)} | "
                  f"{_pct(o_lv)} |", flush=True)
    if rows:
        for key in ("v3", "top_only", "joint"):
            print(f"mean {key}: {np.mean([r[key]['automatic_share'] for r in rows]):.1%}")
        if not args.no_oracle:
            print(f"mean oracle all: {np.mean([r['oracle_all'] for r in rows]):.1%}; every level: "
                  f"{np.mean([r['oracle_levels'] for r in rows]):.1%}")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1) + "\n")


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def _cell(r: dict) -> str:
    accs = [r[k] for k in r if k.startswith("L") and k.endswith("_acc") and r[k] is not None]
    levels = ", ".join(f"L{k[1:-4]} {r[k.replace('_acc', '_share')]:.1%}" for k in sorted(r)
                       if k.startswith("L") and k.endswith("_acc") and r[k] is not None)
    acc = r["automatic_acc"]
    return (f"{r['automatic_share']:.1%} ({'—' if acc is None else f'{acc:.3f}'}), "
            f"{'—' if not accs else f'{min(accs):.3f}'} [{levels}]")


if __name__ == "__main__":
    main()
