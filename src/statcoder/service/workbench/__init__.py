"""The coder workbench's use cases: queue and leases, decisions, search, statistics, retraining.

``statcoder.web`` renders them; the functions here know nothing about HTTP.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd

from statcoder.errors import InputError
from statcoder.service.context import ServiceContext
from statcoder.service.workbench.search import ClassificationSearch
from statcoder.service.workbench.sets import conformal_card, prediction_sets, prefetch_sets
from statcoder.store.tables import Project

__all__ = ["conformal_card", "index_entries_path", "prediction_sets", "prefetch_sets", "rerun_model",
           "search_index", "set_index_entries"]
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
