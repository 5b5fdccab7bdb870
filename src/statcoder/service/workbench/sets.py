"""Conformal prediction sets of the coding screen, computed once per (model, text) and kept.

A record's prediction sets need the model's full probability vector, i.e. a model call. The
coding screen used to make that call on every view, on the critical path between a coder's
``Enter`` and the next record. Now the sets are computed once per (project, active model
version, text), in batches: the record on screen together with the next records of the
coder's queue in one model call (:func:`prediction_sets` with ``ahead``), and ahead of time
after each page (:func:`prefetch_sets`, run once the page has been sent). The key holds the
model version and the text, so a promotion (a new version) or an edited text (re-run the
model) never shows the sets of another model or text: they are computed afresh.

The sets of one record are nested prefixes of one ranking of the codes (the 95 % set extends
the 90 % set), so each entry keeps that ranking's prefix as class indices plus the size per
coverage: a few kilobytes even when a weak model's sets hold hundreds of codes.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from statcoder.service.context import ServiceContext
from statcoder.store.tables import Project

COVERAGES = (0.9, 0.95)
MAX_ENTRIES = 4096  # records whose sets are kept (least recently used dropped first)


@dataclass(frozen=True)
class _Entry:
    ranked: np.ndarray  # class indices of the largest set, best first
    sizes: tuple[tuple[float, int], ...]  # (coverage, set size), in the order asked


_cache: OrderedDict[tuple, _Entry] = OrderedDict()
_cache_lock = threading.Lock()
_compute_locks: dict[tuple[str, str], threading.Lock] = {}
_quantiles: dict[tuple[str, str], dict[float, float | None]] = {}
_counts = {"hits": 0, "misses": 0, "model_calls": 0, "texts_scored": 0}


def cache_info() -> dict[str, int]:
    """Return counters of the cache: hits, misses, model calls, texts scored, entries kept."""
    with _cache_lock:
        return {**_counts, "entries": len(_cache)}


def clear_cache() -> None:
    """Forget every kept set (counters too)."""
    with _cache_lock:
        _cache.clear()
        _quantiles.clear()
        for k in _counts:
            _counts[k] = 0


def conformal_card(card: Any) -> list[dict]:
    """Return the card's conformal entries (nominal coverage, held-out coverage, mean set size, n).

    ``card`` is a model's typed ``ModelCard`` or its JSON form (a dict).
    """
    if hasattr(card, "to_dict"):
        card = card.to_dict()
    heldout = card.get("heldout") if isinstance(card, dict) else None
    entries = heldout.get("conformal") if isinstance(heldout, dict) else None
    return [e for e in entries or [] if isinstance(e, dict) and "coverage" in e]


def _model(ctx: ServiceContext, project: Project, coverages: Sequence[float]):
    """Return (version, coder, [(coverage, quantile)]) or None when no sets can be given."""
    from statcoder.service.coding import active_coder
    from statcoder.service.errors import NoActiveModelError

    try:
        version, coder = active_coder(ctx, project)
    except NoActiveModelError:
        return None
    with _cache_lock:
        fitted = _quantiles.get((project.id, version))
    if fitted is None:  # read the card once per model (its dict form is costly to build)
        fitted = {round(float(e["coverage"]), 6): e.get("quantile") for e in conformal_card(coder.card)}
        with _cache_lock:
            _quantiles[(project.id, version)] = fitted
    wanted = [(c, float("inf") if fitted[round(c, 6)] is None else float(fitted[round(c, 6)]))
              for c in coverages if round(c, 6) in fitted]
    return (version, coder, wanted) if wanted else None


def _score(coder, texts: list[str], wanted: list[tuple[float, float]]) -> list[_Entry]:
    """Score ``texts`` in one model call and return their entries."""
    from statcoder.decision.conformal import set_masks

    proba = coder.predict_proba(texts)
    sizes = []
    order = None
    for _coverage, quantile in wanted:
        order, in_set = set_masks(proba, quantile=quantile)
        sizes.append(in_set.sum(axis=1))
    assert order is not None
    dtype = np.int16 if order.shape[1] < 2**15 else np.int32
    entries = []
    for i in range(len(texts)):
        per = tuple((c, int(s[i])) for (c, _), s in zip(wanted, sizes, strict=True))
        entries.append(_Entry(order[i, :max(n for _, n in per)].astype(dtype), per))
    return entries


def _compute(ctx: ServiceContext, project: Project, version: str, coder, wanted, texts: list[str]) -> int:
    """Score the texts not kept yet (one model call) and keep their entries; returns how many."""
    key_of = _key_maker(project.id, version, wanted)
    with _cache_lock:
        lock = _compute_locks.setdefault((project.id, version), threading.Lock())
    with lock:  # one batch at a time per model: a page waits for a prefetch instead of repeating it
        with _cache_lock:
            missing = list(dict.fromkeys(t for t in texts if key_of(t) not in _cache))
        if not missing:
            return 0
        from statcoder.errors import ConfigurationError

        try:
            entries = _score(coder, missing, wanted)
        except ConfigurationError:  # a model that cannot give probabilities: no sets
            entries = [_Entry(np.zeros(0, dtype=np.int16), ()) for _ in missing]
        with _cache_lock:
            _counts["model_calls"] += 1
            _counts["texts_scored"] += len(missing)
            for text, entry in zip(missing, entries, strict=True):
                _cache[key_of(text)] = entry
            while len(_cache) > MAX_ENTRIES:
                _cache.popitem(last=False)
        return len(missing)


def _key_maker(project_id: str, version: str, wanted):
    """Return text -> cache key (a digest of the text: the cache's size does not grow with text length)."""
    coverages = tuple(c for c, _ in wanted)
    return lambda text: (project_id, version, coverages,
                         hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest())


def prediction_sets(ctx: ServiceContext, project: Project, text: str, *,
                    coverages: tuple[float, ...] = COVERAGES,
                    ahead: Callable[[], Sequence[str]] | None = None) -> dict[float, list[str]]:
    """Return the active model's conformal prediction sets of ``text`` per coverage (best first).

    Kept sets are reused; on a miss, ``text`` and the texts ``ahead()`` returns (the records
    the coder will see next), where not kept yet, are scored in one model call. Empty when the
    project has no active model or the model carries no conformal quantiles (models trained
    before prediction sets existed): the screen then shows top-k only.
    """
    if not text.strip():
        return {}
    model = _model(ctx, project, coverages)
    if model is None:
        return {}
    version, coder, wanted = model
    key = _key_maker(project.id, version, wanted)(text)
    with _cache_lock:
        entry = _cache.get(key)
        if entry is not None:
            _cache.move_to_end(key)
            _counts["hits"] += 1
        else:
            _counts["misses"] += 1
    if entry is None:
        later = [t for t in ahead() if t.strip()] if ahead is not None else []
        _compute(ctx, project, version, coder, wanted, [text, *later])
        with _cache_lock:
            entry = _cache.get(key)
    if entry is None:  # dropped again at once (a cache far too small for the batch): score alone
        from statcoder.errors import ConfigurationError

        try:
            entry = _score(coder, [text], wanted)[0]
        except ConfigurationError:
            return {}
    classes = coder.classes_
    return {c: [str(classes[i]) for i in entry.ranked[:n]] for c, n in entry.sizes}


def prefetch_sets(ctx: ServiceContext, project: Project, texts: Sequence[str], *,
                  coverages: tuple[float, ...] = COVERAGES, min_batch: int = 8) -> int:
    """Compute and keep the sets of ``texts`` (the records a coder will see next).

    Scores nothing until at least ``min_batch`` of them are missing (or the first one is),
    so the model is called in batches; returns the number of texts scored.
    """
    texts = [t for t in texts if t.strip()]
    model = _model(ctx, project, coverages) if texts else None
    if model is None:
        return 0
    version, coder, wanted = model
    key_of = _key_maker(project.id, version, wanted)
    with _cache_lock:
        missing = [t for t in dict.fromkeys(texts) if key_of(t) not in _cache]
    if not missing or (len(missing) < min_batch and missing[0] != texts[0]):
        return 0
    return _compute(ctx, project, version, coder, wanted, missing)
