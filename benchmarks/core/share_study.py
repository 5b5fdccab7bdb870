"""Why the OJALAB automatic share stays below 45 %, and what per-level threshold rules can certify.

On the cached folds of ``promise_cache.py`` (default recipe, or ``--head-weight 1``), numpy only.
Per case, thresholds from the out-of-fold (OOF) records, applied to the test fold's deployed
(``mean``) scores; each cell: automatic share (auto + partial), the full-depth (auto) share, and
every decision level's realised accuracy:

* ``v3``: the product's rule (``promise_study.choose``: deepest level first, each level's
  threshold by the fallback procedure with two starts on the records no deeper level took);
* ``top only``: the top level alone (``threshold_for_target`` at the full alpha);
* ``split``: Learn-then-Test with a selection / certification split (``split_ltt.py``), in two
  variants: ``floors`` (equal accuracy floors, deepest level first) and ``share`` (margins, the
  share maximised, certification on 70 % of the records);
* ``frontier``: an upper envelope for *any* rule certified on the OOF records: with hindsight on
  the OOF labels, the full-depth level takes its f most confident OOF records (f = 0, 5, 10, 15,
  20 % of them), the top level the largest most-confident-first slice of the rest, and each of
  the two sets must pass one exact binomial test at the full alpha (no multiplicity, no
  sequence) — what a certificate on these records needs at the least. The levels between are
  not coded.
* ``diagnosis``: v3's top-level step: the full-depth records v3 took, the records left, how many
  of them the hindsight single test would accept, and how many v3's fallback test accepted.

    nice -n 19 .venv/bin/python benchmarks/core/share_study.py --datasets ojalab --head-weight 1 \
        [--out benchmarks/core/share_head.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from promise_cache import cache_path
from promise_study import TARGET, apply, choose, tally
from split_ltt import choose_level_thresholds

from statcoder.decision import threshold_for_target
from statcoder.decision.thresholds import binomial_p_value

NAMES = ("ojalab", "naics", "esco", "onet")
ALPHA = 0.05
FRACTIONS = (0.0, 0.05, 0.10, 0.15, 0.20)


def load(name: str, fold: int, head_weight: float = 0.0) -> dict | None:
    """The cached arrays of one case, or None when not built yet."""
    path = cache_path(name, fold, head_weight)
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def _oof(arrays: dict) -> tuple[dict, dict]:
    depth = int(arrays["depth"])
    return ({lv: arrays[f"oof_conf_{lv}"] for lv in range(1, depth + 1)},
            {lv: arrays[f"oof_correct_{lv}"] for lv in range(1, depth + 1)})


def split_rule(arrays: dict, **options) -> dict[int, float]:
    """``split_ltt.choose_level_thresholds`` on the OOF records (seed 0, as ``train(seed=0)`` in the cache)."""
    conf, correct = _oof(arrays)
    return choose_level_thresholds(conf, correct, target=TARGET, confidence_level=1 - ALPHA, seed=0,
                                   **options).thresholds


def top_only(arrays: dict) -> dict[int, float]:
    """The top level alone at the full alpha."""
    depth = int(arrays["depth"])
    return {lv: float("inf") for lv in range(2, depth + 1)} | {
        1: threshold_for_target(arrays["oof_conf_1"], arrays["oof_correct_1"], target=TARGET)}


def _passing_prefix(conf: np.ndarray, correct: np.ndarray) -> tuple[float, int]:
    """(threshold, records) of the largest most-confident-first prefix passing one exact test at ALPHA."""
    from scipy.stats import binom

    if conf.size == 0:
        return float("inf"), 0
    order = np.argsort(-conf, kind="stable")
    c, k = conf[order], np.cumsum(correct[order])
    m = np.arange(1, c.size + 1)
    ok = (np.where(k > 0, binom.sf(k - 1, m, TARGET), 1.0) <= ALPHA) & np.r_[c[1:] < c[:-1], True]
    if not ok.any():
        return float("inf"), 0
    last = int(np.flatnonzero(ok)[-1])
    return float(c[last]), last + 1


def frontier(arrays: dict, fraction: float) -> dict[int, float] | None:
    """Hindsight thresholds (see the module docs) with ``fraction`` of the OOF records at full depth;
    None when those records fail the single test."""
    depth = int(arrays["depth"])
    conf, correct = _oof(arrays)
    n = len(conf[1])
    t_full = float("inf")
    if fraction > 0:
        t_full = float(np.sort(conf[depth])[::-1][int(fraction * n) - 1])
        at = conf[depth] >= t_full
        if binomial_p_value(int(correct[depth][at].sum()), int(at.sum()), TARGET) > ALPHA:
            return None
    rest = ~(conf[depth] >= t_full)
    t1, _ = _passing_prefix(conf[1][rest], correct[1][rest])
    return {lv: float("inf") for lv in range(1, depth + 1)} | {depth: t_full, 1: t1}


def diagnosis(arrays: dict) -> dict:
    """v3's top-level step on the OOF records (see the module docs)."""
    depth = int(arrays["depth"])
    conf, correct = _oof(arrays)
    thresholds = choose(arrays, threshold_for_target)
    rest = np.ones(len(conf[1]), dtype=bool)
    for lv in range(depth, 1, -1):
        rest &= ~(conf[lv] >= thresholds[lv])
    pool = rest & arrays["oof_eligible_1"]
    _, hindsight = _passing_prefix(conf[1][pool], correct[1][pool])
    order = np.argsort(-conf[1][pool], kind="stable")
    hits = np.cumsum(correct[1][pool][order])
    profile = {m: round(float(hits[m - 1] / m), 4) for m in (230, 500, 1013, 1500, 2000) if m <= pool.sum()}
    return {"n_oof": len(conf[1]), "deeper_coded": int((~rest).sum()), "pool": int(pool.sum()),
            "hindsight_top_level": hindsight, "v3_top_level": int((pool & (conf[1] >= thresholds[1])).sum()),
            "pool_accuracy_of_top_m": profile}


def cell(r: dict | None) -> str:
    """Automatic share; auto share; each level coded: realised accuracy."""
    if r is None:
        return "—"
    depth = max(int(k[1:-2]) for k in r if k.endswith("_n") and k.startswith("L"))
    levels = ", ".join(f"L{lv} {r[f'L{lv}_acc']:.3f}" for lv in range(depth, 0, -1) if r[f"L{lv}_n"])
    return f"{r['automatic_share']:.1%} / {r[f'L{depth}_share']:.1%} ({levels or '—'})"


RULES = {
    "v3": lambda a: choose(a, threshold_for_target),
    "top only": top_only,
    "split floors": lambda a: split_rule(a, mode="floors"),
    "split share": lambda a: split_rule(a, mode="share", certify_share=0.7),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="ojalab")
    parser.add_argument("--head-weight", type=float, default=0.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows = []
    print("Rules (automatic / auto share (each level's realised accuracy)):\n")
    print("| case | " + " | ".join(RULES) + " |\n|---|" + "---|" * len(RULES))
    for name in args.datasets.split(","):
        for fold in range(1, 6):
            arrays = load(name, fold, args.head_weight)
            if arrays is None:
                continue
            row = {"case": f"{name} {fold}", "dataset": name, "fold": fold, "head_weight": args.head_weight}
            row |= {rule: apply(arrays, fn(arrays)) for rule, fn in RULES.items()}
            row["frontier"] = {f"{f:g}": (None if (t := frontier(arrays, f)) is None else apply(arrays, t))
                               for f in FRACTIONS}
            row["diagnosis"] = diagnosis(arrays)
            rows.append(row)
            print(f"| {row['case']} | " + " | ".join(cell(row[rule]) for rule in RULES) + " |", flush=True)
    print("\nmeans: " + "; ".join(f"{rule} {np.mean([r[rule]['automatic_share'] for r in rows]):.1%} / "
                                   f"{np.mean([_auto(r[rule]) for r in rows]):.1%}" for rule in RULES))
    for rule in RULES:
        print(f"{rule}: {tally([r[rule] for r in rows])}")
    print("\nFrontier (hindsight on the OOF labels, one exact test per level): automatic / auto share per fold\n")
    print("| full depth takes | " + " | ".join(r["case"] for r in rows) + " | mean |\n|---|" + "---|" * (len(rows) + 1))
    for f in FRACTIONS:
        cells = [r["frontier"][f"{f:g}"] for r in rows]
        ok = [c for c in cells if c is not None]
        mean = (f"{np.mean([c['automatic_share'] for c in ok]):.1%} / {np.mean([_auto(c) for c in ok]):.1%}" if ok
                else "—")
        print(f"| {f:.0%} of OOF | " + " | ".join(cell(c) for c in cells) + f" | {mean} ({len(ok)}) |")
    print("\nv3's top-level step (OOF records):\n")
    print("| case | OOF | deeper levels took | left | hindsight single test accepts | v3 accepts | accuracy of the "
          "top m left |\n|---|---|---|---|---|---|---|")
    for r in rows:
        d = r["diagnosis"]
        print(f"| {r['case']} | {d['n_oof']} | {d['deeper_coded']} | {d['pool']} | {d['hindsight_top_level']} | "
              f"{d['v3_top_level']} | {', '.join(f'{m}: {a:.3f}' for m, a in d['pool_accuracy_of_top_m'].items())} |")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1, default=float) + "\n")


def _auto(r: dict) -> float:
    depth = max(int(k[1:-2]) for k in r if k.endswith("_n") and k.startswith("L"))
    return r[f"L{depth}_share"]


if __name__ == "__main__":
    main()
