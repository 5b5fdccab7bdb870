"""The coder workbench's use cases: queue and leases, decisions, search, statistics, retraining.

``statcoder.web`` renders them; the functions here know nothing about HTTP.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pandas as pd

from statcoder.errors import InputError
from statcoder.service.context import ServiceContext
from statcoder.service.workbench.search import ClassificationSearch
from statcoder.store.tables import Project

MAX_INDEX_ENTRIES = 500_000
_search_cache: dict[tuple[int, str], tuple[float, ClassificationSearch]] = {}
_search_lock = threading.Lock()


def index_entries_path(ctx: ServiceContext, project_id: str) -> Path:
    """Return where the project's index entries (``text,code`` CSV) are kept."""
    return ctx.data_dir / "projects" / project_id / "index_entries.csv"


def set_index_entries(ctx: ServiceContext, project: Project, entries: pd.DataFrame) -> int:
    """Store index entries (columns ``text``, ``code``) for the project's search; returns the count.

    Entries whose code is not in the classification are refused (InputError naming up to five).
    """
    from statcoder.io.atomic import atomic_write_text

    missing = [c for c in ("text", "code") if c not in entries.columns]
    if missing:
        raise InputError(f"the index file lacks the column(s) {', '.join(missing)}", where="index file",
                         hint="give a CSV with columns text,code")
    if len(entries) > MAX_INDEX_ENTRIES:
        raise InputError(f"more than {MAX_INDEX_ENTRIES} index entries", where="index file",
                         hint="split the index")
    classification = ctx.classification(project)
    frame = entries[["text", "code"]].fillna("").astype(str)
    unknown = sorted(set(frame["code"]) - set(classification.codes))
    if unknown:
        raise InputError(
            f"{len(unknown)} code(s) of the index are not in {classification.name}, e.g. "
            f"{', '.join(unknown[:5])}", where="index file: code", hint="fix or drop those rows",
        )
    atomic_write_text(index_entries_path(ctx, project.id), frame.to_csv(index=False))
    with _search_lock:
        _search_cache.pop((id(ctx), project.id), None)
    return len(frame)


def search_index(ctx: ServiceContext, project: Project) -> ClassificationSearch:
    """Return the project's prepared search index (built once per process, rebuilt on change)."""
    path = index_entries_path(ctx, project.id)
    stamp = path.stat().st_mtime if path.exists() else 0.0
    key = (id(ctx), project.id)
    with _search_lock:
        cached = _search_cache.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    entries: list[tuple[str, str]] = []
    if path.exists():
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        entries = list(zip(frame["text"], frame["code"], strict=True))
    built = ClassificationSearch(ctx.classification(project), entries)
    with _search_lock:
        _search_cache[key] = (stamp, built)
    return built


def rerun_model(ctx: ServiceContext, project: Project, text: str, *, top_k: int = 10) -> tuple[str, list[dict]]:
    """Code an edited text with the active model; returns (model version, candidates best first)."""
    import json

    from statcoder.service.coding import active_coder

    text = text.strip()
    if not text:
        raise InputError("the edited text is empty", where="edited_text", hint="type the corrected text")
    if len(text) > ctx.settings.max_text_length:
        raise InputError("the edited text is too long", where="edited_text", hint="shorten it")
    version, coder = active_coder(ctx, project)
    coded = coder.code([text], top_k=top_k)
    return version, json.loads(coded["candidates"].iloc[0])


def prediction_sets(ctx: ServiceContext, project: Project, text: str, *,
                    coverages: tuple[float, ...] = (0.9, 0.95)) -> dict[float, list[str]]:
    """Return the active model's conformal prediction sets of ``text`` per coverage (best first).

    Empty when the project has no active model or the model carries no conformal quantiles
    (models trained before prediction sets existed): the screen then shows top-k only.
    """
    from statcoder.errors import ConfigurationError
    from statcoder.service.coding import active_coder
    from statcoder.service.errors import NoActiveModelError

    if not text.strip():
        return {}
    from statcoder.decision.conformal import prediction_sets as sets_of

    try:
        _, coder = active_coder(ctx, project)
    except NoActiveModelError:
        return {}
    fitted = {round(float(e["coverage"]), 6): e.get("quantile") for e in conformal_card(coder.card)}
    wanted = [c for c in coverages if round(c, 6) in fitted]
    if not wanted:
        return {}
    try:
        proba = coder.predict_proba([text])  # one model call for every coverage
        out = {}
        for c in wanted:
            q = fitted[round(c, 6)]
            out[c] = sets_of(proba, coder.classes_, quantile=float("inf") if q is None else float(q))[0]
        return out
    except ConfigurationError:
        return {}


def conformal_card(card: Any) -> list[dict]:
    """Return the card's conformal entries (nominal coverage, held-out coverage, mean set size, n).

    ``card`` is a model's typed ``ModelCard`` or its JSON form (a dict).
    """
    if hasattr(card, "to_dict"):
        card = card.to_dict()
    heldout = card.get("heldout") if isinstance(card, dict) else None
    entries = heldout.get("conformal") if isinstance(heldout, dict) else None
    return [e for e in entries or [] if isinstance(e, dict) and "coverage" in e]
