"""Are out-of-fold scores scored like new records? The shared featuriser's vocabulary, measured.

``fit_shared`` fits one featuriser (vocabulary, IDF) on *all* training texts, then scores each
out-of-fold record with the member that did not see it. An out-of-fold record's own rare
n-grams are in that vocabulary (word ``min_df = 1``) although its member never saw them: they
carry no weight but take a share of the record's L2 norm, so the record is scored less
confidently than a new text, whose unseen n-grams are dropped. This script re-scores the
out-of-fold records with every n-gram their member's training part lacks removed (blocks
re-normalised, as ``transform`` would for a new text) and compares, at fixed confidences, the
share and accuracy above them: out-of-fold as fitted, out-of-fold re-scored, and the test fold
scored by the routed members (what the thresholds should predict). Then the thresholds chosen
on each out-of-fold version are applied to the test fold.

    nice -n 19 .venv/bin/python benchmarks/core/oof_vocabulary.py [--dataset esco] [--fold 1]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.utils.sparsefuncs_fast import inplace_csr_row_normalize_l2

sys.path.insert(0, str(Path(__file__).resolve().parent))
import promise
from promise_cache import _level_arrays, _scores
from promise_study import apply, choose

from statcoder import train
from statcoder.coder.members import route
from statcoder.coder.train import prepare_training_data
from statcoder.decision import threshold_for_target
from statcoder.text.normalise import truncate_texts


def rescored_oof(model, Z: sp.csr_matrix) -> np.ndarray:
    """Out-of-fold scores with every n-gram unseen by the record's member removed (per block L2)."""
    features = model.final_estimator_.features_
    n_word = len(features.word_.vocabulary_)
    scores = np.full(model.oof_scores_.shape, -np.inf)
    present = (Z != 0).astype(np.int8).tocsc()
    for j, member in enumerate(model.estimators_):
        rows = np.flatnonzero(model.fold_ == j)
        seen = np.asarray(present[np.flatnonzero(model.fold_ != j)].sum(axis=0)).ravel() > 0
        X = Z[rows].tocsr(copy=True)
        X.data[~seen[X.indices]] = 0.0
        X.eliminate_zeros()
        word, char = X[:, :n_word].tocsr(), X[:, n_word:].tocsr()
        inplace_csr_row_normalize_l2(word)
        inplace_csr_row_normalize_l2(char)
        if features.char_weight != 1.0:
            char = char * np.float32(features.char_weight)
        scores[rows] = _scores(model, member, sp.hstack([word, char], format="csr"), model.classes_)
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="esco")
    parser.add_argument("--fold", type=int, default=1)
    args = parser.parse_args()
    data = promise.LOADERS[args.dataset](folds=args.fold)
    split, tree = data.splits[args.fold - 1], data.classification
    limit = 200_000 if args.dataset == "ojalab" else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coder = train(split.train, text_columns=["text"], code_column="code", classification=tree, seed=0,
                      on_unknown_code="drop", max_text_length=limit)
    model = coder.model
    classes = [str(c) for c in model.classes_]
    texts, codes, _ = prepare_training_data(split.train, text_columns=["text"], code_column="code",
                                            classification=tree, on_unknown_code="drop",
                                            max_text_length=coder.card.limits.max_text_length)
    features = model.final_estimator_.features_
    cal = model.calibrator_
    arrays = {"depth": tree.depth, **_level_arrays("oof", model.oof_proba_, codes, tree, classes)}
    fresh = cal.predict_proba(rescored_oof(model, features.transform(texts)))
    arrays.update(_level_arrays("fresh", fresh, codes, tree, classes))
    test = split.test[split.test["code"].isin(set(tree.codes))].reset_index(drop=True)
    test_texts, _ = truncate_texts(test["text"].tolist(), max_length=coder.card.limits.max_text_length)
    Zt = features.transform(test_texts)
    routed = route(test_texts, len(model.estimators_))
    members = np.empty((len(test_texts), len(classes)))
    for j, m in enumerate(model.estimators_):
        members[routed == j] = cal.predict_proba(_scores(model, m, Zt[routed == j], model.classes_))
    mean = cal.predict_proba(_scores(model, model.final_estimator_, Zt, model.classes_))
    arrays.update(_level_arrays("members", members, test["code"].tolist(), tree, classes))
    arrays.update(_level_arrays("mean", mean, test["code"].tolist(), tree, classes))
    d = tree.depth
    print(f"{args.dataset} fold {args.fold}, full depth (level {d}): share above t / accuracy above t")
    print("| t | out-of-fold (as fitted) | out-of-fold, unseen n-grams removed | test, routed members | test, mean |")
    print("|---|---|---|---|---|")
    for t in (0.9, 0.95, 0.98, 0.99):
        cells = []
        for prefix in ("oof", "fresh", "members", "mean"):
            c, k = arrays[f"{prefix}_conf_{d}"], arrays[f"{prefix}_correct_{d}"]
            cells.append(f"{np.mean(c >= t):.3f} / {k[c >= t].mean():.3f}")
        print(f"| {t} | " + " | ".join(cells) + " |")
    for source in ("oof", "fresh"):
        view = {k.replace(f"{source}_", "oof_", 1) if k.startswith(f"{source}_") else k: v
                for k, v in arrays.items() if not k.startswith("oof_" if source == "fresh" else "fresh_")}
        thresholds = choose(view, threshold_for_target)
        for mode in ("members", "mean"):
            r = apply(view, thresholds, mode)
            levels = "; ".join(f"L{lv}: {r[f'L{lv}_n']} at {r[f'L{lv}_acc']:.3f}" for lv in range(d, 0, -1)
                               if r[f"L{lv}_n"])
            print(f"thresholds from {source}, test scored by {mode}: automatic {r['automatic_share']:.1%} "
                  f"({r['automatic_acc'] or 0:.3f}); {levels}")


if __name__ == "__main__":
    main()
