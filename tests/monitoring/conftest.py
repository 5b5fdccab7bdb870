"""Synthetic coded records with known truth for the monitoring tests.

A three-level classification (4 groups x 2 x 4 = 32 leaf codes). For each record the model's
leaf probabilities are a softmax of random logits favouring a latent code; the true code is then
*drawn from those probabilities*, so the probabilities are calibrated by construction and the
expected accuracy of every batch is known. Texts are built from the true code's words.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from statcoder.classifications import Classification
from statcoder.monitoring import ScoredRecords

LEAVES = [f"{g}{m}{u}" for g in "1234" for m in "12" for u in "1234"]
THRESHOLDS = {3: 0.8, 2: 0.9, 1: 0.9}


@pytest.fixture(scope="session")
def tree() -> Classification:
    return Classification.from_codes(LEAVES, name="synthetic", prefix_lengths=(1, 2, 3))


def _decide(tree: Classification, classes: list[str], proba: np.ndarray) -> tuple[np.ndarray, ...]:
    """Deepest level whose best code reaches its threshold: auto at level 3, partial above, else review."""
    n = len(proba)
    code = np.empty(n, dtype=object)
    level = np.ones(n, dtype=int)
    conf = np.zeros(n)
    decision = np.full(n, "review", dtype=object)
    views = {}
    for lv in (1, 2, 3):
        groups = [tree.truncate(c, lv) for c in classes]
        codes = sorted(set(groups))
        idx = np.array([codes.index(g) for g in groups])
        agg = np.zeros((n, len(codes)))
        np.add.at(agg.T, idx, proba.T)
        views[lv] = (np.asarray(codes, dtype=object)[agg.argmax(1)], agg.max(1))
    code[:], conf[:] = views[1]
    for lv in (1, 2, 3):
        ok = views[lv][1] >= THRESHOLDS[lv]
        code[ok], conf[ok], level[ok] = views[lv][0][ok], views[lv][1][ok], lv
        decision[ok] = "auto" if lv == 3 else "partial"
    return code, level, conf, decision


def make_batch(
    tree: Classification,
    n: int,
    seed: int,
    *,
    prior: np.ndarray | None = None,
    strength: tuple[float, float] = (2.0, 7.0),
    audit_share: float = 0.0,
    remap: dict[str, str] | None = None,
    new_words: float = 0.0,
    region_shift: bool = False,
) -> ScoredRecords:
    """A batch of n calibrated synthetic records (see the module docstring).

    ``prior`` = latent code mix; ``strength`` = range of the logit given to the latent code
    (lower = harder records, lower accuracy); ``audit_share`` of auto records get an audit code,
    mapped through ``remap`` (a concept change); ``new_words`` = share of records whose text gets an
    unseen word; ``region_shift`` changes the auxiliary column's distribution.
    """
    rng = np.random.default_rng(seed)
    k = len(LEAVES)
    prior = np.full(k, 1 / k) if prior is None else np.asarray(prior) / np.sum(prior)
    latent = rng.choice(k, n, p=prior)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), latent] += rng.uniform(*strength, n)
    proba = np.exp(logits - logits.max(1, keepdims=True))
    proba /= proba.sum(1, keepdims=True)
    labels = np.array([LEAVES[rng.choice(k, p=row)] for row in proba], dtype=object)
    texts = []
    for y in labels:
        words = [f"job{y}", f"group{y[0]}", *rng.choice(["worker", "assistant", "senior", "clerk"], rng.integers(0, 3))]
        if rng.random() < new_words:
            words.append(f"novel{rng.integers(0, 3)}")
        texts.append(" ".join(words))
    code, level, conf, decision = _decide(tree, LEAVES, proba)
    audit = np.full(n, "", dtype=object)
    if audit_share:
        chosen = (decision == "auto") & (rng.random(n) < audit_share)
        audit[chosen] = [(remap or {}).get(y, y) for y in labels[chosen]]
    regions = rng.choice(["north", "south", "east"], n, p=[0.2, 0.3, 0.5] if region_shift else [0.4, 0.3, 0.3])
    return ScoredRecords(
        classification=tree, classes=list(LEAVES), proba=proba, texts=texts, predicted_code=code,
        predicted_level=level, confidence=conf, decision=decision, labels=labels, audit=audit,
        columns=pd.DataFrame({"region": regions}),
    )


@pytest.fixture(scope="session")
def batch_factory(tree: Classification) -> Callable[..., ScoredRecords]:
    return lambda n, seed, **kw: make_batch(tree, n, seed, **kw)
