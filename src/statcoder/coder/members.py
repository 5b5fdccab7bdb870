"""The members of ``HierarchicalCoder``: folds, routing, scores in a common class order, and the
shared-featuriser fit (texts featurised once, every member's SVMs in one process pool)."""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import _num_samples

_SPACE = re.compile(r"\s+")


def route(X: Any, n_members: int) -> np.ndarray:
    """The member that codes every record: CRC-32 of its normalised text, modulo K.

    Texts are case-folded with whitespace collapsed, so a text and its variants always get
    the same member (and the same answer). Non-text rows (numeric arrays) hash their bytes.
    """
    rows = X.to_numpy() if hasattr(X, "to_numpy") else X
    out = np.empty(_num_samples(X), dtype=np.int64)
    for i, row in enumerate(rows):
        if isinstance(row, str):
            key = _SPACE.sub(" ", row).strip().casefold().encode()
        else:
            key = np.ascontiguousarray(np.asarray(row)).tobytes()
        out[i] = zlib.crc32(key) % n_members
    return out


def by_route(X: Any, members: list, score: Callable[[Any, Any], np.ndarray], width: int,
             fill: float) -> np.ndarray:
    """(n, width) array where each record's row is ``score(member, its rows of X)`` from the member
    :func:`route` picks for it (``fill`` elsewhere); each member is called once, on its records."""
    out = np.full((_num_samples(X), width), fill)
    fold = route(X, len(members))
    for j, member in enumerate(members):
        rows = np.flatnonzero(fold == j)
        if len(rows):
            out[rows] = score(member, _safe_indexing(X, rows))
    return out


def random_folds(n: int, k: int, *, seed: int) -> np.ndarray:
    """Fold of every record: a shuffled split into ``min(k, n)`` near-equal folds, blind to the codes.

    Not stratified on purpose: a new record is coded by a member chosen independently of its
    code, so the out-of-fold records must be left out independently of theirs. Stratifying
    would always leave a rare code's other examples in the member's training part (a new
    record with that code gets no such favour) and make out-of-fold figures optimistic for
    rare codes (measured: 0.79 against 0.66 set coverage for codes with 1-2 examples).
    """
    order = np.random.default_rng(seed).permutation(n)
    folds = np.empty(n, dtype=np.int64)
    folds[order] = np.arange(n) % min(k, n)
    return folds


def is_texts(X: Any) -> bool:
    """Whether X is a one-dimensional sequence of texts (not a feature matrix)."""
    if isinstance(X, (list, tuple)):
        return True
    return getattr(X, "ndim", 2) == 1 and getattr(X, "dtype", None) is not None and X.dtype.kind in "OUS"


def indexable(X: Any) -> Any:
    """X as something ``_safe_indexing`` slices: lists and pandas stay, sparse becomes CSR."""
    import scipy.sparse as sp

    if sp.issparse(X):
        return X.tocsr()
    if isinstance(X, (list, tuple)) or hasattr(X, "iloc"):
        return X
    return np.asarray(X)


_IDENTITY = np.zeros(0, dtype=np.int64)


def _columns_of(model: Any, classes: np.ndarray) -> np.ndarray:
    """Column of each of ``model``'s classes in ``classes`` (``_IDENTITY`` when they are the same),
    cached on the model: searching string arrays costs more than scoring one record."""
    cache = model.__dict__.setdefault("_statcoder_columns", {})
    hit = cache.get(id(classes))
    if hit is None or hit[0] is not classes or hit[1] is not model.classes_:
        cols = np.searchsorted(classes, np.asarray(model.classes_))
        if len(cols) == len(classes) and np.array_equal(cols, np.arange(len(classes))):
            cols = _IDENTITY
        hit = cache[id(classes)] = (classes, model.classes_, cols)
    return hit[2]


def columns_match(model: Any, classes: np.ndarray) -> bool:
    """Whether ``model``'s classes are exactly ``classes``, in that order."""
    return _columns_of(model, classes) is _IDENTITY


def member_scores(model: Any, X: Any, classes: np.ndarray) -> np.ndarray:
    """Scores (n, len(classes)) of ``model`` in ``classes`` order; ``-inf`` for classes it lacks."""
    if callable(getattr(model, "decision_function", None)):
        s = np.asarray(model.decision_function(X), dtype=np.float64)
        if s.ndim == 1:  # binary sklearn classifiers return the logit of the second class
            s = np.column_stack([-s / 2, s / 2])
    else:
        with np.errstate(divide="ignore"):
            s = np.log(np.asarray(model.predict_proba(X), dtype=np.float64))
    cols = _columns_of(model, classes)
    if cols is _IDENTITY:
        return s
    out = np.full((s.shape[0], len(classes)), -np.inf)
    out[:, cols] = s
    return out


def _fit_plans(Z: Any, models: list, plans: list, features: Any, n_jobs: int) -> None:
    """Fit every plan's SVMs in one pool (each model with its own SVM options) and finish the models."""
    from statcoder.models.linear import fit_svm_tasks

    tasks = [t for plan in plans for t in plan.tasks]
    options = [m.svm_options() for m, plan in zip(models, plans, strict=True) for _ in plan.tasks]
    fitted = fit_svm_tasks(Z, tasks, options, n_jobs=n_jobs)
    start = 0
    for plan in plans:
        plan.finish(fitted[start:start + len(plan.tasks)], features)
        start += len(plan.tasks)


def candidate_bases(base: Any, candidates: Any) -> list:
    """One clone of ``base`` per candidate (a mapping of parameters to change); checks the names."""
    from statcoder.errors import ConfigurationError

    out = []
    valid = base.get_params()
    for i, cand in enumerate(candidates):
        unknown = sorted(set(cand) - set(valid))
        if unknown:
            raise ConfigurationError(f"candidate {i} sets unknown parameter(s) {', '.join(unknown)}",
                                     where="HierarchicalCoder(candidates=...)",
                                     hint=f"use parameters of {type(base).__name__}: {', '.join(sorted(valid))}")
        out.append(clone(base).set_params(**dict(cand)))
    return out


def held_out_features(features: Any, Z: Any, train: np.ndarray, test: np.ndarray) -> Any:
    """Rows ``test`` of the shared feature matrix ``Z`` as the member fitted on rows ``train`` would
    see them as new texts: without the n-grams that occur in none of its training rows
    (``TextFeatures.without_unseen``; unchanged for a featuriser without it).

    The shared featuriser's vocabulary comes from every training text, so a held-out record
    keeps n-grams of its own that its member never saw; a new text's unknown n-grams are
    dropped by the featuriser. Kept, they dilute the record's norm: out-of-fold confidences
    come out lower than the deployed model's on like texts, and thresholds chosen on them
    accept more test records than intended, at lower accuracy (measured on NAICS fold 5: 36.6 %
    of out-of-fold records above confidence 0.98 against 43.2 % of test records).
    """
    restrict = getattr(features, "without_unseen", None)
    if not callable(restrict):
        return Z[test]
    seen = np.zeros(Z.shape[1], dtype=bool)
    seen[Z[train].indices] = True
    return restrict(Z[test], seen)


def fit_shared(model: Any, base: Any, X: Any, y: np.ndarray, parts: list, on_progress: Any,
               bases: list | None = None) -> int:
    """Fit ``model``'s members (and refit / mean model) on one featuriser fitted on all texts, SVMs in one pool.

    The texts are featurised once (the featuriser learns vocabulary and IDF weights, never
    the codes); every SVM of every member is fitted in one pool of ``n_jobs`` processes.
    With ``bases`` (candidate models that differ only in their SVMs, e.g. C or ``groups``),
    the first fold's member of every candidate is fitted first; the candidate with the best
    top-1 on that fold's held-out records (ties: the earlier one) supplies the other members.
    Sets ``model.selection_`` and returns the chosen candidate's index (0 without ``bases``).
    """
    from statcoder.errors import ConfigurationError

    texts = list(X)
    n_jobs = int(getattr(base, "n_jobs", 1))
    bases = list(bases or [base])
    if any(b.make_features().get_params() != base.make_features().get_params() for b in bases):
        raise ConfigurationError("candidates may only change the classifier (e.g. C, groups), not the features",
                                 where="HierarchicalCoder(candidates=...)",
                                 hint="train one model per feature setting and compare their card figures")
    stage = f"{len(parts)}-fold cross-validation in 3 steps (features, fold models, out-of-fold scores)"
    features = base.make_features().fit(texts)
    Z = features.transform(texts)
    if on_progress is not None:
        on_progress(1, 3, stage)
    chosen, first, validation = 0, None, []
    if len(bases) > 1:
        train0, test0 = parts[0]
        firsts = [clone(b) for b in bases]
        _fit_plans(Z, firsts, [m.plan_fit(train0, y[train0]) for m in firsts], features, n_jobs)
        Z0 = held_out_features(features, Z, train0, test0)
        for m in firsts:
            best = m.classes_[np.argmax(m.scores_of_features(Z0), axis=1)] if len(test0) else []
            validation.append(float(np.mean(best == y[test0])) if len(test0) else 0.0)
        chosen = int(np.argmax(validation))
        first = firsts[chosen]
    winner = bases[chosen]
    model.selection_ = {"validation_top1": validation, "validation_n": len(parts[0][1]) if validation else 0,
                        "chosen": chosen}
    models = [first if (j == 0 and first is not None) else clone(winner) for j in range(len(parts))]
    todo = [(m, m.plan_fit(train, y[train])) for j, (m, (train, _)) in enumerate(zip(models, parts, strict=True))
            if not (j == 0 and first is not None)]
    if model.deploy == "refit":
        models.append(clone(winner))
        todo.append((models[-1], models[-1].plan_fit(np.arange(len(y)), y)))
    _fit_plans(Z, [m for m, _ in todo], [p for _, p in todo], features, n_jobs)
    if on_progress is not None:
        on_progress(2, 3, stage)
    if model.deploy == "refit":
        model.final_estimator_ = models.pop()
    model.estimators_ = models
    if model.deploy == "mean":
        model.final_estimator_ = type(winner).averaged(models)
    for member, (train, test) in zip(models, parts, strict=True):
        if not len(test):
            continue
        of_features = getattr(member, "scores_of_features", None)
        if callable(of_features):  # the rows are featurised already
            cols = np.searchsorted(model.classes_, np.asarray(member.classes_))
            model.oof_scores_[np.ix_(test, cols)] = of_features(held_out_features(features, Z, train, test))
        else:
            model.oof_scores_[test] = member_scores(member, [texts[i] for i in test], model.classes_)
    if on_progress is not None:
        on_progress(3, 3, stage)
    return chosen


def checked_extra(X: Any, extra: Any) -> tuple[list[str], np.ndarray]:
    """``HierarchicalCoder.fit``'s checked extra examples: (texts, codes as an object array); empty when None."""
    from statcoder.errors import InputError

    if extra is None:
        return [], np.asarray([], dtype=object)
    texts, codes = list(extra[0]), np.asarray(list(extra[1]), dtype=object)
    if len(texts) != len(codes):
        raise InputError(f"{len(codes)} codes for {len(texts)} extra example texts",
                         where="HierarchicalCoder.fit(extra_examples=...)", hint="pass one code per text")
    if len(texts) and not (is_texts(X) and all(isinstance(t, str) for t in texts)):
        raise InputError("extra examples need text input (X a list of texts, extra texts strings)",
                         where="HierarchicalCoder.fit(extra_examples=...)", hint="pass texts, not features")
    return texts, codes


def select_first_fold(model: Any, bases: list, X: Any, y: np.ndarray, parts: list) -> tuple[Any, Any]:
    """(The candidate with the best top-1 on the first fold's held-out records, its fitted
    first-fold member or None), for any base estimator; sets ``model.selection_``."""
    from sklearn.utils import _safe_indexing

    scores, firsts = [], []
    train, test = parts[0]
    for b in bases if len(bases) > 1 else []:
        firsts.append(clone(b).fit(_safe_indexing(X, train), y[train]))
        s = member_scores(firsts[-1], _safe_indexing(X, test), model.classes_)
        scores.append(float(np.mean(model.classes_[np.argmax(s, axis=1)] == y[test])) if len(test) else 0.0)
    chosen = int(np.argmax(scores)) if scores else 0
    model.selection_ = {"validation_top1": scores, "validation_n": len(test) if scores else 0, "chosen": chosen}
    return bases[chosen], (firsts[chosen] if firsts else None)
