"""Classifications as trees: loading, validation, tree operations and aggregation."""

from statcoder.classifications.loading import Problem, check_file
from statcoder.classifications.tree import Classification

__all__ = ["Classification", "Problem", "check_file"]
