"""Label issues in terms of codes: confident learning plus the hierarchy of the classification.

``detect_label_issues`` turns out-of-fold probabilities and the given codes into a ranked table
of suspicious records with a suggested code, a per-code estimated noise rate, and for each
suspected error whether the suggested code lies in the same higher-level group (e.g. the same
ISCO 3-digit minor group) as the given one or in another group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from statcoder.errors import InputError
from statcoder.quality import confident_learning as cl

if TYPE_CHECKING:
    from statcoder.classifications import Classification


@dataclass
class LabelIssueResult:
    """Result of ``detect_label_issues``.

    ``issues``: one row per flagged record, most suspicious first, columns ``row`` (0-based
    position in the input), ``given_code``, ``suggested_code``, ``score`` (label quality, 0-1,
    low = likely wrong), ``p_given``, ``p_suggested``, ``common_level`` (deepest level at which the
    two codes share an ancestor, 0 = none, ``<NA>`` when a code is not in the classification) and
    ``relation`` (``same_group`` / ``across_groups`` / ``unknown_code``).
    ``per_code``: one row per class, the number of records, the estimated noise rate
    ``P(true != given | given)``, the number flagged and the per-class threshold.
    ``joint``: the estimated joint ``Q`` of (given, true) codes in ``classes`` order.
    """

    issues: pd.DataFrame
    per_code: pd.DataFrame
    joint: np.ndarray
    classes: list[str]
    n_records: int
    filter_by: str
    score_method: str
    group_level: int | None
    #: estimated share of records whose true code differs from the given one (0-1)
    estimated_noise: float
    #: share of the estimated noise mass whose true code is in the same group (0-1; nan when no noise)
    within_group_share: float
    #: out-of-fold top-1 accuracy of the model against the given codes (0-1): the estimated noise
    #: cannot be read without it, since a weak model also flags correctly coded records
    model_accuracy: float = float("nan")

    @property
    def mask(self) -> np.ndarray:
        """Boolean mask over the input records: True where a label issue was flagged."""
        out = np.zeros(self.n_records, dtype=bool)
        out[self.issues["row"].to_numpy(dtype=int)] = True
        return out


def codes_to_labels(codes: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """Column index in ``classes`` of each code; raises ``InputError`` for a code not in ``classes``."""
    position = {c: i for i, c in enumerate(classes)}
    labels = np.empty(len(codes), dtype=np.intp)
    missing: list[int] = []
    for k, code in enumerate(codes):
        idx = position.get(code)
        if idx is None:
            missing.append(k)
            idx = 0
        labels[k] = idx
    if missing:
        raise InputError(
            f"{len(missing)} records carry codes that are not columns of proba",
            where=f"rows {', '.join(str(r) for r in missing[:5])}",
            hint="compute proba on the same records and codes (cross_val_proba returns the classes)",
        )
    return labels


def hierarchy_relation(
    given: Sequence[str], suggested: Sequence[str], classification: Classification, *, group_level: int
) -> tuple[list[int | None], list[str]]:
    """Deepest common level and the relation of each (given, suggested) pair of codes.

    Returns ``(common_level, relation)``: ``common_level`` is the deepest level at which both
    codes have the same ancestor (0 when they differ already at the top level, ``None`` when a
    code is not in the classification); ``relation`` is ``same_group`` when both codes fall in
    the same group at ``group_level``, ``across_groups`` otherwise, ``unknown_code`` when a code
    is not in the classification.
    """

    @cache
    def chain(code: str) -> tuple[str, ...]:
        return (*classification.ancestors(code), code)

    levels: list[int | None] = []
    relations: list[str] = []
    for a, b in zip(given, suggested):
        if a not in classification or b not in classification:
            levels.append(None)
            relations.append("unknown_code")
            continue
        ca, cb = chain(a), chain(b)
        common = 0
        for x, y in zip(ca, cb):
            if x != y:
                break
            common += 1
        levels.append(common)
        relations.append("same_group" if common >= group_level else "across_groups")
    return levels, relations


def default_group_level(classification: Classification) -> int:
    """The level one above the deepest (e.g. 3 = ISCO minor group for 4-digit unit groups), at least 1."""
    return max(1, classification.depth - 1)


def detect_label_issues(
    codes: Sequence[str],
    proba: np.ndarray,
    classes: Sequence[str],
    *,
    classification: Classification | None = None,
    group_level: int | None = None,
    filter_by: cl.FilterBy = "both",
    score: cl.ScoreMethod = "normalized_margin",
    min_examples_per_class: int = 1,
) -> LabelIssueResult:
    """Flag and rank records whose given code is likely wrong, by confident learning.

    ``proba`` must be out-of-fold probabilities (e.g. from ``statcoder.models.cross_val_proba``),
    columns in ``classes`` order. The suggested code of a flagged record is the most probable
    code other than the given one. With a ``classification`` each issue says whether the
    suggestion is in the same group at ``group_level`` (default: one level above the deepest).
    Returns a ``LabelIssueResult``.
    """
    classes = list(classes)
    codes = list(codes)
    labels = codes_to_labels(codes, classes)
    proba = np.asarray(proba)
    joint = cl.estimate_joint(labels, proba)
    mask = cl.find_label_issues(
        labels, proba, filter_by=filter_by, min_examples_per_class=min_examples_per_class, joint=joint
    )
    scores = cl.label_quality_scores(labels, proba, method=score)
    flagged = np.flatnonzero(mask)
    flagged = flagged[np.argsort(scores[flagged], kind="stable")]
    other_idx, other_p = cl.best_other_class(labels[flagged], proba[flagged])
    given = [codes[r] for r in flagged]
    suggested = [classes[j] if j >= 0 else "" for j in other_idx]
    issues = pd.DataFrame(
        {
            "row": flagged.astype(int),
            "given_code": given,
            "suggested_code": suggested,
            "score": scores[flagged].astype(float),
            "p_given": proba[flagged, labels[flagged]].astype(float),
            "p_suggested": other_p.astype(float),
        }
    )
    level = group_level
    within = float("nan")
    if classification is not None:
        level = default_group_level(classification) if group_level is None else int(group_level)
        common, relation = hierarchy_relation(given, suggested, classification, group_level=level)
        issues["common_level"] = pd.array(common, dtype="Int64")
        issues["relation"] = relation
        within = _within_group_share(joint, classes, classification, level)
    counts = np.bincount(labels, minlength=len(classes))
    per_code = pd.DataFrame(
        {
            "code": classes,
            "n_records": counts.astype(int),
            "estimated_noise_rate": cl.noise_rates(joint),
            "n_flagged": np.bincount(labels[mask], minlength=len(classes)).astype(int),
            "threshold": cl.class_thresholds(labels, proba),
        }
    )
    return LabelIssueResult(
        issues=issues,
        per_code=per_code,
        joint=joint,
        classes=classes,
        n_records=len(codes),
        filter_by=filter_by,
        score_method=score,
        group_level=level,
        estimated_noise=float(joint.sum() - np.trace(joint)),
        within_group_share=within,
        model_accuracy=float(np.mean(proba.argmax(axis=1) == labels)) if len(labels) else float("nan"),
    )


def _within_group_share(
    joint: np.ndarray, classes: Sequence[str], classification: Classification, level: int
) -> float:
    group = [classification.truncate(c, level) if c in classification else None for c in classes]
    rows, cols = np.nonzero(joint)
    off = rows != cols
    rows, cols = rows[off], cols[off]
    total = joint[rows, cols].sum()
    if total <= 0:
        return float("nan")
    same = np.array([group[i] is not None and group[i] == group[j] for i, j in zip(rows, cols)], dtype=bool)
    return float(joint[rows[same], cols[same]].sum() / total)
