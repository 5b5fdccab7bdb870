"""The backends statcoder can train, by name, and rebuilding a saved model by its backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from statcoder.errors import ConfigurationError, ModelFileError

BACKENDS = ("linear", "fasttext", "linear+fasttext")
#: backends that accept ``groups`` (code -> top-level group) and use the hierarchy
HIERARCHY_AWARE = ("linear", "linear+fasttext")
#: the fastText member of the ``linear+fasttext`` ensemble: its weight, and settings that
#: train in a fraction of the linear model's time on short texts
ENSEMBLE_FASTTEXT = {"epoch": 25, "lr": 0.5, "word_ngrams": 2, "minn": 2, "maxn": 5, "dim": 100}
ENSEMBLE_WEIGHTS = (0.6, 0.4)


def make_model(backend: str = "linear", *, seed: int = 0, threads: int | None = None, **params: Any) -> Any:
    """Return an unfitted classifier for ``backend`` (one of ``BACKENDS``).

    ``threads`` bounds the threads (linear: worker processes) the model trains with; it
    defaults to ``STATCODER_THREADS``.
    """
    if threads is None:
        from statcoder.runtime import configured_threads

        threads = configured_threads()
    if backend == "linear":
        from statcoder.models.linear import LinearTextCoder

        return LinearTextCoder(seed=seed, **{"n_jobs": threads, **params})
    if backend == "linear+fasttext":
        from statcoder.models.ensemble import EnsembleTextCoder

        linear = {k: params.pop(k) for k in list(params) if k != "weights"}
        weights = params.pop("weights", ENSEMBLE_WEIGHTS)
        members = (("linear", linear), ("fasttext", dict(ENSEMBLE_FASTTEXT)))
        return EnsembleTextCoder(members=members, weights=tuple(weights), seed=seed, threads=threads)
    if backend == "fasttext":
        from statcoder.models.fasttext_backend import FastTextCoder

        defaults = {"epoch": 25, "lr": 0.5, "word_ngrams": 2, "minn": 2, "maxn": 5, "dim": 100}
        return FastTextCoder(seed=seed, threads=threads, **{**defaults, **params})
    raise ConfigurationError(f"unknown backend {backend!r}", hint=f"use one of: {', '.join(BACKENDS)}")


def model_from_state(state: dict[str, Any], arrays: dict[str, np.ndarray], directory: Path) -> Any:
    """Rebuild a fitted model from its saved state; raises ModelFileError for unknown backends."""
    backend = state.get("backend")
    if backend == "linear":
        from statcoder.models.linear import LinearTextCoder

        return LinearTextCoder.from_state(state, arrays)
    if backend == "fasttext":
        from statcoder.models.fasttext_backend import FastTextCoder

        return FastTextCoder.from_state(state, directory)
    if backend == "ensemble":
        from statcoder.models.ensemble import EnsembleTextCoder

        return EnsembleTextCoder.from_state(state, arrays, directory)
    raise ModelFileError(f"unknown model backend {backend!r} in the model directory", where=str(directory),
                         hint="this statcoder reads: linear, fasttext, ensemble")
