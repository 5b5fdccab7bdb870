"""statcoder: machine learning for the production of official statistics."""

from typing import Any

__version__ = "0.1.0"

__all__ = ["Classification", "Coder", "CodingIndex", "__version__", "train"]

_LAZY = {
    "Classification": "statcoder.classifications",
    "Coder": "statcoder.coder",
    "CodingIndex": "statcoder.coder",
    "train": "statcoder.coder",
}


def __getattr__(name: str) -> Any:
    """Import the coder (scikit-learn) on first use, so that ``import statcoder.estimation``
    or ``statcoder --help`` do not pay for it (PEP 562)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'statcoder' has no attribute {name!r}")
