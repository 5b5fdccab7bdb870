"""Synthetic label noise, to measure how well label-issue detection finds known errors.

Two kinds of noise: ``uniform`` (the wrong code is any other code seen in the data) and
``within_group`` (the "realistic" kind: a code swapped for another code of the same
higher-level group, e.g. the same ISCO 3-digit minor group - the mistakes human coders make).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

from statcoder.errors import InputError

if TYPE_CHECKING:
    from statcoder.classifications import Classification


def inject_label_noise(
    codes: Sequence[str],
    *,
    rate: float,
    mode: Literal["uniform", "within_group"] = "uniform",
    classification: Classification | None = None,
    group_level: int | None = None,
    seed: int = 0,
) -> tuple[list[str], np.ndarray]:
    """Replace the code of ``round(rate * n)`` randomly chosen records by another code.

    ``uniform`` draws the new code among the other distinct codes of ``codes``; ``within_group``
    draws it among the other codes of ``codes`` in the same group at ``group_level`` (default:
    one level above the deepest) and only picks records whose group has another code. Returns
    ``(noisy_codes, flipped)`` where ``flipped`` is a bool mask of the changed records.
    """
    if not 0 <= rate <= 1:
        raise InputError("rate must be between 0 and 1", hint="e.g. 0.05 for 5 % noise")
    rng = np.random.default_rng(seed)
    codes = list(codes)
    n = len(codes)
    k = round(rate * n)
    distinct = sorted(set(codes))
    noisy = list(codes)
    flipped = np.zeros(n, dtype=bool)
    if mode == "uniform":
        if len(distinct) < 2:
            raise InputError("uniform noise needs at least two distinct codes")
        chosen = rng.choice(n, size=k, replace=False)
        for i in chosen:
            others = distinct
            new = codes[i]
            while new == codes[i]:
                new = others[rng.integers(len(others))]
            noisy[i] = new
        flipped[chosen] = True
        return noisy, flipped
    if mode != "within_group":
        raise InputError(f"unknown noise mode {mode!r}", hint="use uniform or within_group")
    if classification is None:
        raise InputError("within_group noise needs the classification")
    level = max(1, classification.depth - 1) if group_level is None else int(group_level)

    def group_of(code: str) -> str | None:
        if code not in classification or classification.level(code) <= level:
            return None
        return classification.truncate(code, level)

    members: dict[str, list[str]] = defaultdict(list)
    for code in distinct:
        g = group_of(code)
        if g is not None:
            members[g].append(code)
    eligible = np.array([i for i, c in enumerate(codes) if len(members.get(group_of(c) or "", [])) > 1])
    if eligible.size < k:
        raise InputError(
            f"only {eligible.size} records have another code in their group; cannot flip {k}",
            hint="lower the rate or use uniform noise",
        )
    chosen = rng.choice(eligible, size=k, replace=False)
    for i in chosen:
        options = [c for c in members[group_of(codes[i])] if c != codes[i]]  # type: ignore[index]
        noisy[i] = options[rng.integers(len(options))]
    flipped[chosen] = True
    return noisy, flipped


def detection_scores(flagged: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Precision, recall and F1 (0-1) of ``flagged`` against the true error mask, plus counts."""
    flagged = np.asarray(flagged, dtype=bool)
    truth = np.asarray(truth, dtype=bool)
    tp = int((flagged & truth).sum())
    precision = tp / flagged.sum() if flagged.sum() else 0.0
    recall = tp / truth.sum() if truth.sum() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "flagged": int(flagged.sum()),
        "true_positives": tp,
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
    }
