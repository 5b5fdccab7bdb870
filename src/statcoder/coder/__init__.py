"""Training and applying automated coders (the core of statcoder)."""

from statcoder.coder.coder import OUTPUT_COLUMNS, Coder
from statcoder.coder.index import CodingIndex
from statcoder.coder.train import data_fingerprint, prepare_training_data, train

__all__ = ["OUTPUT_COLUMNS", "Coder", "CodingIndex", "data_fingerprint", "prepare_training_data", "train"]
