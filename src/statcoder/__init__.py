"""statcoder: machine learning for the production of official statistics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Classification", "Coder", "CodingIndex", "__version__", "train"]

if TYPE_CHECKING:
    from statcoder.classifications import Classification
    from statcoder.coder import Coder, CodingIndex, train

_LAZY = {"Classification": "statcoder.classifications", "Coder": "statcoder.coder",
         "CodingIndex": "statcoder.coder", "train": "statcoder.coder"}


def __getattr__(name: str) -> Any:
    # imported on first use, so that `statcoder --help` and light submodules stay fast
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'statcoder' has no attribute {name!r}")
