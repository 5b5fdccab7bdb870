"""Per-fold cache of what the thresholds are chosen on and what they are applied to (the promise study).

For every (data set, fold) of ``promise.py`` (same loaders, same splits, same ``train`` call):
fit the default coder once and save, per level of the classification,

* ``oof_*``: the calibrated out-of-fold probabilities the thresholds are chosen on
  (``HierarchicalCoder.oof_proba_``, aggregated up the tree): the best code's probability
  (``conf``), the runner-up's (``conf2``), whether the best code is right (``correct``) and whether
  the record's true code reaches the level (``eligible``);
* ``<mode>_*``: the same for the held-out test fold, scored by the deployed model (``mean``:
  one model with the members' mean weights, the default) and, for comparison, by the routed
  members (``members``) and by the mean of the members' calibrated probabilities (``ensemble``).

Any threshold procedure can then be evaluated on all 20 cases with numpy only
(``promise_study.py``). Files go to ``benchmarks/.cache/promise/`` (git-ignored).

    nice -n 19 .venv/bin/python benchmarks/core/promise_cache.py [--datasets ojalab,naics,esco,onet] [--folds 5] \
        [--head-weight 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import promise

from statcoder import train
from statcoder.coder.levels import level_aggregators
from statcoder.coder.members import route
from statcoder.coder.train import prepare_training_data
from statcoder.text.normalise import truncate_texts

CACHE = Path(__file__).resolve().parents[1] / ".cache" / "promise"
MODES = ("mean", "members", "ensemble")


def cache_path(name: str, fold: int, head_weight: float = 0.0) -> Path:
    """The cache file of one (data set, fold), fold numbered from 1; the opt-in head block gets its own file."""
    tag = f"-head{head_weight:g}" if head_weight else ""
    return CACHE / f"{name}{tag}_fold{fold}.npz"


def _level_arrays(prefix: str, proba: np.ndarray, codes: list[str], tree, classes: list[str]) -> dict[str, np.ndarray]:
    """Per level: best and runner-up probability, correct, eligible (true code reaches the level)."""
    out: dict[str, np.ndarray] = {}
    true_level = np.asarray([tree.level(c) for c in codes])
    for level, (matrix, level_codes) in level_aggregators(tree, classes).items():
        agg = np.asarray(matrix.T.dot(proba.T).T) if matrix.shape[1] else np.zeros((len(proba), 1))
        top = agg.argmax(axis=1)  # ties: the first column, as ``best_by_level``
        conf = agg[np.arange(len(agg)), top]
        rest = agg.copy()
        rest[np.arange(len(agg)), top] = -np.inf
        conf2 = rest.max(axis=1) if agg.shape[1] > 1 else np.zeros(len(agg))
        best = np.asarray(level_codes, dtype=object)[top] if matrix.shape[1] else np.full(len(agg), "")
        truth = np.asarray([tree.truncate(c, level) if lv >= level else "" for c, lv in zip(codes, true_level,
                                                                                            strict=True)], dtype=object)
        out[f"{prefix}_conf_{level}"] = conf
        out[f"{prefix}_conf2_{level}"] = conf2
        out[f"{prefix}_correct_{level}"] = (best == truth) & (true_level >= level)
        out[f"{prefix}_eligible_{level}"] = true_level >= level
    return out


def _scores(model, estimator, Z, classes: np.ndarray) -> np.ndarray:
    s = np.full((Z.shape[0], len(classes)), -np.inf)
    s[:, np.searchsorted(classes, np.asarray(estimator.classes_))] = estimator.scores_of_features(Z)
    return s


def build(name: str, fold: int, head_weight: float = 0.0) -> Path:
    """Fit the default coder (with ``head_weight``: the opt-in head block) on one fold's training part and
    write its cache file; returns the path."""
    data = promise.LOADERS[name](folds=fold)
    split = data.splits[fold - 1]
    tree = data.classification
    limit = 200_000 if name == "ojalab" else None
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coder = train(split.train, text_columns=["text"], code_column="code", classification=tree, seed=0,
                      on_unknown_code="drop", max_text_length=limit, head_weight=head_weight)
    train_s = time.perf_counter() - started
    model = coder.model
    classes = [str(c) for c in model.classes_]
    _, codes, _ = prepare_training_data(split.train, text_columns=["text"], code_column="code",
                                        classification=tree, on_unknown_code="drop",
                                        max_text_length=coder.card.limits.max_text_length)
    arrays = _level_arrays("oof", model.oof_proba_, codes, tree, classes)
    test = split.test[split.test["code"].isin(set(tree.codes))].reset_index(drop=True)
    texts, _ = truncate_texts(test["text"].tolist(), max_length=coder.card.limits.max_text_length)
    test_codes = test["code"].tolist()
    features = model.final_estimator_.features_
    Z = features.transform(texts)
    cal = model.calibrator_
    mean_proba = cal.predict_proba(_scores(model, model.final_estimator_, Z, model.classes_))
    check = coder.predict_proba(texts[:50])
    if not np.allclose(check, mean_proba[:50], atol=1e-9):
        raise RuntimeError("the cached deployed probabilities differ from Coder.predict_proba")
    routed = route(texts, len(model.estimators_))
    members = np.empty_like(mean_proba)
    ensemble = np.zeros_like(mean_proba)
    for j, m in enumerate(model.estimators_):
        p = cal.predict_proba(_scores(model, m, Z, model.classes_))
        members[routed == j] = p[routed == j]
        ensemble += p / len(model.estimators_)
        del p
    empty = np.array([not t.strip() for t in texts])
    for mode, proba in (("mean", mean_proba), ("members", members), ("ensemble", ensemble)):
        proba = proba.copy()
        proba[empty] = 0.0  # an empty text is never coded (decision review)
        arrays.update(_level_arrays(mode, proba, test_codes, tree, classes))
    CACHE.mkdir(parents=True, exist_ok=True)
    out = cache_path(name, fold, head_weight)
    tmp = out.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, depth=tree.depth, n_train=len(split.train), n_test=len(test), train_s=train_s,
                        loadavg=os.getloadavg()[0], thresholds=np.array([coder.thresholds[lv] for lv in
                                                                         range(1, tree.depth + 1)]), **arrays)
    tmp.rename(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="ojalab,esco,naics,onet")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--force", action="store_true", help="rebuild files that exist")
    parser.add_argument("--head-weight", type=float, default=0.0, help="the opt-in head block (own cache files)")
    parser.add_argument("--reverse", action="store_true", help="last fold first (a second process meets the first)")
    args = parser.parse_args()
    for name in args.datasets.split(","):
        order = range(args.folds, 0, -1) if args.reverse else range(1, args.folds + 1)
        for fold in order:
            marker = cache_path(name, fold, args.head_weight).with_suffix(".building")
            if (cache_path(name, fold, args.head_weight).exists() or marker.exists()) and not args.force:
                continue  # built, or being built by another process
            CACHE.mkdir(parents=True, exist_ok=True)
            marker.write_text(str(os.getpid()))
            started = time.perf_counter()
            try:
                path = build(name, fold, args.head_weight)
            finally:
                marker.unlink(missing_ok=True)
            print(f"{name} fold {fold}: {path.name} ({time.perf_counter() - started:.0f} s, "
                  f"load {os.getloadavg()[0]:.1f})", flush=True)


if __name__ == "__main__":
    main()
