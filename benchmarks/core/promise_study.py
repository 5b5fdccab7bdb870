"""Threshold procedures evaluated on the cached folds (``promise_cache.py``): numpy only, seconds.

For each (data set, fold): choose per-level thresholds on the out-of-fold records exactly as
``HierarchicalCoder`` does (``statcoder.coder.heldout.choose_thresholds``: deepest level first,
each on the records no deeper level accepted), apply them to the test fold's deployed scores
(``statcoder.decision.decide``) and report the share and realised accuracy per decision level,
plus the oracle: the largest share any per-level thresholds could code on the test fold at a
realised accuracy >= 0.95.

    nice -n 19 .venv/bin/python benchmarks/core/promise_study.py [--build] [--datasets ojalab,naics,esco,onet]

``--build`` first fits and caches the folds not cached yet (``promise_cache.py``; minutes per
fold); without it only cached folds are reported. Beside the v3 procedure (fallback, two
starts) the table shows version 2's fixed sequence on the same scores and v3 with the test
fold scored by the routed members (``deploy="members"``); OJALAB adds the oracle share.
Writes ``benchmarks/core/promise_v3.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from promise_cache import CACHE, cache_path

from statcoder.decision import decide, threshold_for_target
from statcoder.decision.thresholds import fixed_sequence_v2

TARGET = 0.95
ThresholdFn = Callable[[np.ndarray, np.ndarray], float]
NAMES = ("ojalab", "naics", "esco", "onet")


def load(name: str, fold: int) -> dict[str, np.ndarray] | None:
    """The cached arrays of one (data set, fold), or None when not built yet."""
    path = cache_path(name, fold)
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def choose(arrays: dict, fn: ThresholdFn) -> dict[int, float]:
    """Per-level thresholds on the out-of-fold arrays, in the estimator's order (deepest first)."""
    depth = int(arrays["depth"])
    thresholds: dict[int, float] = {}
    remaining = np.ones(len(arrays["oof_conf_1"]), dtype=bool)
    for level in range(depth, 0, -1):
        conf, correct = arrays[f"oof_conf_{level}"], arrays[f"oof_correct_{level}"]
        eligible = arrays[f"oof_eligible_{level}"]
        if not conf.any() or not eligible.any():
            thresholds[level] = float("inf")
            continue
        pool = eligible & remaining
        t = fn(conf[pool], correct[pool])
        thresholds[level] = t
        remaining &= ~(conf >= t)
    return thresholds


def apply(arrays: dict, thresholds: dict[int, float], mode: str = "mean") -> dict:
    """Per decision level on the test fold: share, n, realised accuracy; and all automatic together."""
    depth = int(arrays["depth"])
    conf = {lv: arrays[f"{mode}_conf_{lv}"] for lv in range(1, depth + 1)}
    chosen, _ = decide(conf, thresholds=thresholds, full_depth=depth)
    n = len(chosen)
    row: dict = {"n_test": n}
    hits_all = 0
    for lv in range(1, depth + 1):
        mask = chosen == lv
        k = int(arrays[f"{mode}_correct_{lv}"][mask].sum())
        hits_all += k
        row[f"L{lv}_n"] = int(mask.sum())
        row[f"L{lv}_share"] = float(mask.mean())
        row[f"L{lv}_acc"] = k / int(mask.sum()) if mask.any() else None
    coded = int((chosen > 0).sum())
    row["automatic_share"] = coded / n
    row["automatic_acc"] = hits_all / coded if coded else None
    row["top1"] = float(arrays[f"{mode}_correct_{depth}"].mean())
    return row


def _best_prefix(conf: np.ndarray, correct: np.ndarray, base_k: int, base_n: int) -> int:
    """Most records of (conf, correct) addable, most confident first, with (base_k + k) / (base_n + m) >= TARGET."""
    order = np.argsort(-conf, kind="stable")
    c, k = conf[order], np.cumsum(correct[order])
    m = np.arange(1, len(c) + 1)
    ok = (base_k + k) >= TARGET * (base_n + m) - 1e-9
    ok &= np.r_[c[1:] < c[:-1], True]  # a threshold takes every record of a tied confidence
    return int(m[ok].max()) if ok.any() else 0


def oracle(arrays: dict, mode: str = "mean", grid: int = 24) -> tuple[float, dict[int, float]]:
    """Largest automatic share (auto + partial) any per-level thresholds reach on the test fold with a
    realised accuracy of all automatic records >= TARGET: a grid of quantile thresholds for every level
    but the top one, the top one solved exactly. Returns (share, thresholds)."""
    depth = int(arrays["depth"])
    conf = {lv: arrays[f"{mode}_conf_{lv}"] for lv in range(1, depth + 1)}
    correct = {lv: arrays[f"{mode}_correct_{lv}"] for lv in range(1, depth + 1)}
    n = len(conf[1])
    grids = [np.r_[np.inf, np.quantile(conf[lv], np.linspace(1.0, 0.0, grid + 1)[1:])] for lv in range(2, depth + 1)]
    best, best_t = 0, {}
    for combo in itertools.product(*grids):
        t = {lv: float(x) for lv, x in zip(range(2, depth + 1), combo, strict=True)}
        chosen = np.zeros(n, dtype=np.int64)
        for lv in range(2, depth + 1):
            chosen[conf[lv] >= t[lv]] = lv
        k = sum(int(correct[lv][chosen == lv].sum()) for lv in range(2, depth + 1))
        m = int((chosen > 0).sum())
        if k < TARGET * m - 1e-9:
            continue
        rest = chosen == 0
        add = _best_prefix(conf[1][rest], correct[1][rest], k, m)
        if m + add > best:
            best = m + add
            t1 = np.sort(conf[1][rest])[::-1][add - 1] if add else np.inf
            best_t = {1: float(t1), **t}
    return best / n, best_t


def table(rows: list[dict]) -> str:
    """Markdown: one line per case with every decision level's share, n and realised accuracy."""
    lines = ["| case | top-1 | levels coded: share, n, realised acc | automatic share (acc) | lowest |",
             "|---|---|---|---|---|"]
    for r in rows:
        depth = max(int(k[1:-2]) for k in r if k.endswith("_n") and k.startswith("L"))
        cells = [f"L{lv}: {r[f'L{lv}_share']:.1%}, {r[f'L{lv}_n']}, {r[f'L{lv}_acc']:.3f}"
                 for lv in range(depth, 0, -1) if r[f"L{lv}_n"]]
        accs = [r[f"L{lv}_acc"] for lv in range(1, depth + 1) if r[f"L{lv}_n"]]
        acc = r["automatic_acc"]
        lines.append(f"| {r['case']} | {r['top1']:.3f} | {'; '.join(cells) or '—'} | {r['automatic_share']:.1%} "
                     f"({'—' if acc is None else f'{acc:.3f}'}) | {min(accs) if accs else float('nan'):.3f} |")
    return "\n".join(lines)


def tally(rows: list[dict]) -> str:
    """The issue's count: cases with a level below TARGET (and the largest shortfall), and cases whose
    automatic records together are below it."""
    per_level = [min(r[k] for k in r if k.startswith("L") and k.endswith("_acc") and r[k] is not None)
                 for r in rows if any(k.startswith("L") and k.endswith("_acc") and r[k] is not None for k in r)]
    combined = [r["automatic_acc"] for r in rows if r["automatic_acc"] is not None]
    low = [a for a in per_level if a < TARGET]
    low_c = [a for a in combined if a < TARGET]
    return (f"per level: {len(low)} of {len(rows)} cases below {TARGET} (worst {min(per_level, default=1):.3f}); "
            f"all automatic together: {len(low_c)} of {len(combined)} below (worst {min(combined, default=1):.3f})")


def run(fn: ThresholdFn, *, mode: str = "mean", names: tuple[str, ...] = NAMES, folds: int = 5) -> list[dict]:
    """Every cached case with thresholds from ``fn``: one row per case."""
    rows = []
    for name in names:
        for fold in range(1, folds + 1):
            arrays = load(name, fold)
            if arrays is None:
                continue
            row = apply(arrays, choose(arrays, fn), mode)
            rows.append({"case": f"{name} {fold}", "dataset": name, "fold": f"fold {fold}",
                         "train_s": float(arrays["train_s"]), "loadavg": float(arrays["loadavg"]), **row})
    return rows


def _levels(r: dict) -> str:
    depth = max(int(k[1:-2]) for k in r if k.endswith("_n") and k.startswith("L"))
    cells = [f"{'auto' if lv == depth else f'L{lv}'}: {r[f'L{lv}_share']:.1%}, {r[f'L{lv}_n']}, {r[f'L{lv}_acc']:.3f}"
             for lv in range(depth, 0, -1) if r[f"L{lv}_n"]]
    return "; ".join(cells) or "—"


def _auto(r: dict) -> str:
    acc = r["automatic_acc"]
    return f"{r['automatic_share']:.1%} ({'—' if acc is None else f'{acc:.3f}'})"


def _lowest(r: dict) -> float | None:
    accs = [r[k] for k in r if k.startswith("L") and k.endswith("_acc") and r[k] is not None]
    return min(accs) if accs else None


def report(v3: list[dict], v2: list[dict], members: list[dict]) -> str:
    """The promise table (v3 procedure, deployed model; v2 and the routed members beside it) and tallies."""
    head = ("| case | top-1 | v3: levels coded (share, n, realised acc) | v3 automatic (acc) | v2 automatic (acc) | "
            "v3, routed members: automatic (acc), lowest level |")
    lines = [head, "|---|---|---|---|---|---|"]
    for a, b, c in zip(v3, v2, members, strict=True):
        low = _lowest(c)
        lines.append(f"| {a['case']} | {a['top1']:.3f} | {_levels(a)} | {_auto(a)} | {_auto(b)} | {_auto(c)}, "
                     f"{'—' if low is None else f'{low:.3f}'} |")
    lines += ["", f"v3 (deployed mean model): {tally(v3)}.", f"v2 fixed sequence (same models): {tally(v2)}.",
              f"v3, test fold scored by the routed members (`deploy=\"members\"`): {tally(members)}."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", action="store_true", help="first fit and cache the folds not cached yet")
    parser.add_argument("--datasets", default=",".join(NAMES))
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("promise_v3.json"))
    parser.add_argument("--oracle-grid", type=int, default=16)
    args = parser.parse_args()
    names = tuple(args.datasets.split(","))
    if args.build:
        import promise_cache

        for name in names:
            for fold in range(1, 6):
                if not cache_path(name, fold).exists():
                    promise_cache.build(name, fold)
    v3 = run(threshold_for_target, names=names)
    v2 = run(fixed_sequence_v2, names=names)
    members = run(threshold_for_target, mode="members", names=names)
    print(f"cache: {CACHE}")
    print(report(v3, v2, members))
    oracles = []
    if "ojalab" in names:
        print("\n| OJALAB fold | v2 automatic (acc) | v3 automatic (acc) | oracle on the test fold: deployed mean | "
              "routed members |\n|---|---|---|---|---|")
        for a, b in zip([r for r in v3 if r["dataset"] == "ojalab"], [r for r in v2 if r["dataset"] == "ojalab"],
                        strict=True):
            arrays = load("ojalab", int(a["fold"].split()[1]))
            share_mean, _ = oracle(arrays, "mean", grid=args.oracle_grid)
            share_members, _ = oracle(arrays, "members", grid=args.oracle_grid)
            oracles.append({"fold": a["fold"], "oracle_mean": share_mean, "oracle_members": share_members})
            print(f"| {a['fold']} | {_auto(b)} | {_auto(a)} | {share_mean:.1%} | {share_members:.1%} |")
    from statcoder.io import atomic_write_text

    atomic_write_text(args.out, json.dumps({"v3_mean": v3, "v2_mean": v2, "v3_members": members,
                                            "ojalab_oracle": oracles}, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
