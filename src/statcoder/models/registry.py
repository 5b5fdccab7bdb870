"""The backends statcoder can train, by name, and rebuilding a saved model by its backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from statcoder.errors import ConfigurationError, ModelFileError

BACKENDS = ("linear", "fasttext")


def make_model(backend: str = "linear", *, seed: int = 0, threads: int | None = None, **params: Any) -> Any:
    """Return an unfitted classifier for ``backend`` ("linear" or "fasttext").

    ``threads`` (fastText) defaults to ``STATCODER_THREADS``.
    """
    if backend == "linear":
        from statcoder.models.linear import LinearTextCoder

        return LinearTextCoder(seed=seed, **params)
    if backend == "fasttext":
        from statcoder.models.fasttext_backend import FastTextCoder

        defaults = {"epoch": 25, "lr": 0.5, "word_ngrams": 2, "minn": 2, "maxn": 5, "dim": 100}
        if threads is None:
            from statcoder.runtime import configured_threads

            threads = configured_threads()
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
    raise ModelFileError(f"unknown model backend {backend!r} in the model directory", where=str(directory),
                         hint=f"this statcoder reads: {', '.join(BACKENDS)}")
