"""statcoder: machine learning for the production of official statistics."""

__version__ = "0.1.0"

from statcoder.classifications import Classification
from statcoder.coder import Coder, CodingIndex, train

__all__ = ["Classification", "Coder", "CodingIndex", "__version__", "train"]
