"""A candidate rule studied for issue 12 (not the product's rule): per-level thresholds chosen together by
Learn-then-Test with a selection / certification split. Measured worse than the product's
version-3 rule on OJALAB (``share_study.py``, benchmarks/results.md): kept for the record.

The held-out (out-of-fold or recalibration) records are split at random into two halves,
blind to their labels (``certification_mask``):

1. **Select** (the selection half only). For each accuracy floor in a fixed sequence from
   strict to loose (``ACCURACY_FLOORS``: target + (1 - target) x (1 - s) for error shares s
   = 0.05, 0.10, ..., 0.95 of the allowed error rate; 0.9975 ... 0.9525 at target 0.95), one
   configuration of per-level thresholds (``select_thresholds``): deepest level first, each
   level takes the most records (most confident first, among those no deeper level took) whose
   accuracy at that level is at least the floor; a level whose records would not pass the
   certification test at the certification half's size (its selection counts scaled) is
   switched off, so a small level never sinks the configuration that carries it. The
   configurations depend on the selection half's labels only.
2. **Certify** (the certification half only). Configuration j's null hypothesis is "some
   decision level of configuration j codes records whose accuracy at that level is below the
   target" (a union over its levels); it is tested by an intersection-union test: the largest
   of the levels' one-sided exact binomial p-values (``certification_p_value``), at level
   alpha without adjustment (Berger 1982). The configurations are tested in sequence, strict
   first, at the full alpha each, and testing stops at the first failure (fixed-sequence
   testing). The loosest rejected configuration is returned.

``mode="share"`` replaces step 1's floors by margins: configuration j is the one maximising the
records coded (plus ``full_depth_weight`` x those coded at full depth) on the selection half
subject to every level's records passing the exact test at ``beta_j`` with the counts scaled
to the certification half (``select_for_share``; beta_j = alpha x 10^-4 ... alpha).

**Guarantee** (``choose_level_thresholds``). Given the selection half (so given the sequence
of configurations) and the confidences, fixed-sequence testing controls the family-wise error
at alpha: with probability at least ``confidence_level`` over the certification half's labels,
no configuration it rejects — the returned one in particular — has a decision level whose
records (on the population the held-out records are exchangeable with) are less than
``target`` right. All levels at once: no union bound over the levels is needed. This is
Learn-then-Test (Angelopoulos et al. 2021) with a data split, valid by construction: the
certification half's labels choose nothing but where the sequence stops.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from statcoder.decision.thresholds import binomial_p_value, decide
from statcoder.errors import ConfigurationError, InputError

#: the accuracy floors' error shares: floor = 1 - s x (1 - target), strict first
ERROR_SHARES = tuple(round(0.05 * i, 2) for i in range(1, 20))
#: share of the held-out records in the certification half
CERTIFY_SHARE = 0.5
#: the name the model card records for this rule
RULE = "split-ltt"


@dataclass(frozen=True)
class LevelChoice:
    """What ``choose_level_thresholds`` chose and why.

    ``thresholds``: level -> probability (``inf`` = never coded at that level);
    ``floor``: the accuracy floor of the returned configuration (None when none was certified);
    ``p_value``: its intersection-union p-value on the certification half (1.0 when none);
    ``tested``: (floor, p-value, share of the certification half coded) per configuration
    tested, in order; ``n_selection`` / ``n_certification``: the halves' sizes;
    ``certification``: level -> (records coded at that level, of them right) on the
    certification half under ``thresholds``.
    """

    thresholds: dict[int, float]
    floor: float | None
    p_value: float
    tested: tuple[tuple[float, float, float], ...]
    n_selection: int
    n_certification: int
    certification: dict[int, tuple[int, int]] = field(default_factory=dict)


def certification_mask(n: int, *, seed: int = 0, share: float = CERTIFY_SHARE) -> np.ndarray:
    """Boolean mask of the records in the certification half: ``round(share x n)`` records drawn
    without replacement by a generator seeded with ``seed`` (never by the labels)."""
    mask = np.zeros(n, dtype=bool)
    mask[np.random.default_rng([int(seed), 1201]).permutation(n)[: round(share * n)]] = True
    return mask


def accuracy_floors(target: float) -> tuple[float, ...]:
    """The floors of the configuration sequence, strict first: ``1 - s (1 - target)`` for ``ERROR_SHARES``."""
    return tuple(1.0 - s * (1.0 - target) for s in ERROR_SHARES)


def _largest_prefix(conf: np.ndarray, correct: np.ndarray, floor: float) -> tuple[float, int, int]:
    """(threshold, n, right) of the largest most-confident-first prefix whose accuracy is >= ``floor``;
    a threshold takes every record of a tied confidence. (inf, 0, 0) when no prefix qualifies."""
    if conf.size == 0:
        return float("inf"), 0, 0
    order = np.argsort(-conf, kind="stable")
    c = conf[order]
    k = np.cumsum(correct[order])
    m = np.arange(1, c.size + 1)
    ok = (k >= floor * m - 1e-9) & np.r_[c[1:] < c[:-1], True]
    if not ok.any():
        return float("inf"), 0, 0
    last = int(np.flatnonzero(ok)[-1])
    return float(c[last]), last + 1, int(k[last])


def select_thresholds(
    confidence: Mapping[int, np.ndarray],
    correct: Mapping[int, np.ndarray],
    *,
    floor: float,
    target: float,
    alpha: float,
    scale: float = 1.0,
) -> dict[int, float]:
    """One configuration, on the selection records: per level (deepest first, each on the records
    no deeper level took) the threshold of the largest most-confident-first prefix whose accuracy
    at that level is >= ``floor``. A level is switched off (``inf``) when that prefix, its counts
    multiplied by ``scale`` (certification size / selection size), would not pass the exact
    binomial test of "accuracy < target" at ``alpha``. Returns level -> threshold."""
    levels = sorted(confidence)
    n = len(confidence[levels[0]]) if levels else 0
    remaining = np.ones(n, dtype=bool)
    thresholds: dict[int, float] = {}
    for level in reversed(levels):
        conf = np.asarray(confidence[level], dtype=float)
        hits = np.asarray(correct[level], dtype=bool)
        t, m, k = _largest_prefix(conf[remaining], hits[remaining], floor)
        if m == 0 or binomial_p_value(int(np.floor(k * scale)), int(np.ceil(m * scale)), target) > alpha:
            thresholds[level] = float("inf")
            continue
        thresholds[level] = t
        remaining &= ~(conf >= t)
    return dict(sorted(thresholds.items()))


def _margin_prefix(conf: np.ndarray, correct: np.ndarray, *, beta: float, target: float, scale: float,
                   cap: float = 1.0) -> float:
    """Threshold of the largest most-confident-first prefix (at most ``cap`` x the largest) whose
    exact binomial p-value of "accuracy < target", counts scaled by ``scale``, is <= ``beta``; inf if none."""
    from scipy.stats import binom

    if conf.size == 0 or cap <= 0:
        return float("inf")
    order = np.argsort(-conf, kind="stable")
    c = conf[order]
    k = np.floor(np.cumsum(correct[order]) * scale)
    m = np.ceil(np.arange(1, c.size + 1) * scale)
    p = np.where(k > 0, binom.sf(k - 1, m, target), 1.0)
    ok = (p <= beta) & np.r_[c[1:] < c[:-1], True]
    if not ok.any():
        return float("inf")
    largest = int(np.flatnonzero(ok)[-1]) + 1
    ok &= np.arange(1, c.size + 1) <= max(1, round(cap * largest))
    return float(c[int(np.flatnonzero(ok)[-1])]) if ok.any() else float("inf")


def select_for_share(confidence: Mapping[int, np.ndarray], correct: Mapping[int, np.ndarray], *, beta: float,
                     target: float, scale: float, full_depth_weight: float = 0.0,
                     caps: Sequence[float] = tuple(i / 10 for i in range(11))) -> dict[int, float]:
    """One configuration maximising (records coded + ``full_depth_weight`` x records coded at full
    depth) on the selection records, each level's records passing the scaled exact test at
    ``beta``: deepest level first, each level a fraction (``caps``) of its largest passing prefix,
    chosen by coordinate ascent (two passes) from "top level only"."""
    levels = sorted(confidence)
    depth = max(levels)

    def build(cap: dict[int, float]) -> dict[int, float]:
        remaining = np.ones(len(confidence[levels[0]]), dtype=bool)
        out = {}
        for level in reversed(levels):
            conf = np.asarray(confidence[level], dtype=float)
            t = _margin_prefix(conf[remaining], np.asarray(correct[level], dtype=bool)[remaining], beta=beta,
                               target=target, scale=scale, cap=cap[level])
            out[level] = t
            remaining &= ~(conf >= t)
        return dict(sorted(out.items()))

    def value(thresholds: dict[int, float]) -> float:
        counts = level_counts(confidence, correct, thresholds)
        return sum(m for m, _ in counts.values()) + full_depth_weight * counts.get(depth, (0, 0))[0]

    cap = {lv: 1.0 if lv == levels[0] else 0.0 for lv in levels}
    best = build(cap)
    score = value(best)
    for _ in range(2):
        for level in reversed(levels[1:]):
            for c in caps:
                trial = cap | {level: c}
                thresholds = build(trial)
                v = value(thresholds)
                if v > score + 1e-9:
                    cap, best, score = trial, thresholds, v
    return best


def level_counts(confidence: Mapping[int, np.ndarray], correct: Mapping[int, np.ndarray],
                 thresholds: Mapping[int, float]) -> dict[int, tuple[int, int]]:
    """Per level with a finite threshold: (records coded at that level by the deepest-confident-level
    rule, of them right at that level)."""
    levels = sorted(confidence)
    chosen, _ = decide(confidence, thresholds=thresholds, full_depth=max(levels))
    out = {}
    for level in levels:
        if np.isfinite(thresholds.get(level, float("inf"))):
            mask = chosen == level
            out[level] = (int(mask.sum()), int(np.asarray(correct[level], dtype=bool)[mask].sum()))
    return out


def certification_p_value(counts: Mapping[int, tuple[int, int]], *, target: float) -> float:
    """Intersection-union p-value of "some level's accuracy is below ``target``": the largest of
    the levels' exact binomial p-values (a level with thresholds but no record here: 1.0).
    0.0 for a configuration without levels (it codes nothing, so it cannot be wrong)."""
    return max((binomial_p_value(k, n, target) for n, k in counts.values()), default=0.0)


def choose_level_thresholds(
    confidence: Mapping[int, np.ndarray],
    correct: Mapping[int, np.ndarray],
    *,
    target: float = 0.95,
    confidence_level: float = 0.95,
    seed: int = 0,
    certify: np.ndarray | None = None,
    mode: str = "floors",
    certify_share: float = CERTIFY_SHARE,
    full_depth_weight: float = 0.0,
) -> LevelChoice:
    """Per-level thresholds by Learn-then-Test with a data split (see the module docs).

    ``confidence[L]`` is, per held-out record, the probability of the best code at level L and
    ``correct[L]`` whether that code is right (a record whose true code does not reach level L
    counts as wrong there). ``certify`` (optional) is the certification half's mask; by default
    ``certification_mask(n, seed=seed)``. With probability >= ``confidence_level`` over the
    certification half's labels, every decision level of the returned thresholds codes records
    that are at least ``target`` right at that level (records exchangeable with the held-out ones).
    """
    if not 0.0 < target < 1.0:
        raise ConfigurationError(f"target accuracy must be between 0 and 1, got {target}", hint="e.g. 0.95")
    if not 0.0 < confidence_level < 1.0:
        raise ConfigurationError(f"confidence level must be between 0 and 1, got {confidence_level}", hint="e.g. 0.95")
    levels = sorted(confidence)
    conf = {lv: np.asarray(confidence[lv], dtype=float) for lv in levels}
    hits = {lv: np.asarray(correct[lv], dtype=bool) for lv in levels}
    n = len(conf[levels[0]]) if levels else 0
    if any(conf[lv].shape != (n,) or hits[lv].shape != (n,) for lv in levels):
        raise InputError("every level needs one confidence and one correct flag per record",
                         where="choose_level_thresholds", hint="pass arrays of the same length for every level")
    cert = certification_mask(n, seed=seed, share=certify_share) if certify is None else np.asarray(certify, dtype=bool)
    sel = ~cert
    alpha = 1.0 - confidence_level
    none = {lv: float("inf") for lv in levels}
    n_sel, n_cert = int(sel.sum()), int(cert.sum())
    if n_sel == 0 or n_cert == 0:
        return LevelChoice(none, None, 1.0, (), n_sel, n_cert)
    scale = n_cert / n_sel
    cert_conf = {lv: conf[lv][cert] for lv in levels}
    cert_hits = {lv: hits[lv][cert] for lv in levels}
    chosen: LevelChoice = LevelChoice(none, None, 1.0, (), n_sel, n_cert)
    tested: list[tuple[float, float, float]] = []
    seen: set[tuple[float, ...]] = set()
    sel_conf = {lv: conf[lv][sel] for lv in levels}
    sel_hits = {lv: hits[lv][sel] for lv in levels}
    # "floors": accuracy floors, strict first; "share": margins beta = alpha x 10^-x, x = 4 ... 0
    sequence = accuracy_floors(target) if mode == "floors" else tuple(alpha * 10 ** -(x / 4) for x in range(16, -1, -1))
    for floor in sequence:
        if mode == "floors":
            thresholds = select_thresholds(sel_conf, sel_hits, floor=floor, target=target, alpha=alpha, scale=scale)
        else:
            thresholds = select_for_share(sel_conf, sel_hits, beta=floor, target=target, scale=scale,
                                          full_depth_weight=full_depth_weight)
        key = tuple(thresholds.values())
        if all(np.isinf(key)) or key in seen:
            continue  # codes nothing, or the hypothesis already tested
        seen.add(key)
        counts = level_counts(cert_conf, cert_hits, thresholds)
        p = certification_p_value(counts, target=target)
        tested.append((floor, p, sum(m for m, _ in counts.values()) / n_cert))
        if p > alpha * (1 + 1e-12):
            break  # fixed-sequence testing: the first failure ends it
        chosen = LevelChoice(thresholds, floor, p, (), n_sel, n_cert, counts)
    return LevelChoice(chosen.thresholds, chosen.floor, chosen.p_value, tuple(tested), n_sel, n_cert,
                       chosen.certification)


def describe(choice: LevelChoice) -> str:
    """One line for logs and reports: the floor certified, its p-value and the halves' sizes."""
    if choice.floor is None:
        return f"{RULE}: nothing certified ({len(choice.tested)} configurations tested, n = {choice.n_certification})"
    return (f"{RULE}: floor {choice.floor:.4f} certified (p = {choice.p_value:.3g}, {len(choice.tested)} "
            f"configurations tested, selection {choice.n_selection}, certification {choice.n_certification})")


__all__ = (
    "ERROR_SHARES",
    "RULE",
    "LevelChoice",
    "accuracy_floors",
    "certification_mask",
    "certification_p_value",
    "choose_level_thresholds",
    "describe",
    "level_counts",
    "select_for_share",
    "select_thresholds",
)


def simulate(reps: int = 100, n: int = 4000, seed: int = 5) -> list[tuple[str, str, float, float]]:
    """The guarantee by simulation: a synthetic two-level task with known accuracy (the full-depth
    probability is the top level's minus a uniform slack; P(right at level 1 | c1) and P(right at level 2 | c2) known),
    ``reps`` held-out samples of ``n`` records; each returned configuration's true per-level accuracy is
    measured on 200,000 fresh records. Returns (case, mode, violation rate, mean share coded)."""
    rng = np.random.default_rng(seed)

    def draw(size: int, acc1, acc2) -> tuple[dict, dict]:
        c2 = rng.uniform(0.3, 1.0, size)
        c1 = np.minimum(1.0, c2 + rng.uniform(0.0, 0.3, size))
        right1 = rng.uniform(size=size) < acc1(c1)
        right2 = right1 & (rng.uniform(size=size) < acc2(c2) / np.maximum(acc1(c1), 1e-9))
        return {1: c1, 2: c2}, {1: right1, 2: right2}

    cases = {"0.945 at both levels (every configuration wrong)": (lambda c: np.full_like(c, 0.945),
                                                                  lambda c: np.full_like(c, 0.9355)),
             "accuracy rising with confidence": (lambda c: np.minimum(1.0, 0.15 + 0.85 * c),
                                                 lambda c: np.minimum(0.999, c))}
    out = []
    for case, (acc1, acc2) in cases.items():
        for mode, share in (("floors", 0.5), ("share", 0.7)):
            bad, coded = 0, []
            for r in range(reps):
                conf, right = draw(n, acc1, acc2)
                t = choose_level_thresholds(conf, right, seed=r, mode=mode, certify_share=share).thresholds
                pc, pk = draw(200_000, acc1, acc2)
                at2 = pc[2] >= t[2]
                at1 = (pc[1] >= t[1]) & ~at2
                bad += bool((at2.any() and pk[2][at2].mean() < 0.95) or (at1.any() and pk[1][at1].mean() < 0.95))
                coded.append(float((at1 | at2).mean()))
            out.append((case, mode, bad / reps, float(np.mean(coded))))
    return out


if __name__ == "__main__":
    for row in simulate():
        print("{}, {}: violation rate {:.3f} (stated: <= 0.05), mean share coded {:.3f}".format(*row))
