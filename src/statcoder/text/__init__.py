"""Text normalisation (pure functions) and the sklearn feature transformer."""

from statcoder.text.features import TextFeatures
from statcoder.text.normalise import (
    as_text,
    check_lengths,
    join_columns,
    normalise,
    normalise_key,
    truncate_texts,
)

__all__ = ["TextFeatures", "as_text", "check_lengths", "join_columns", "normalise", "normalise_key", "truncate_texts"]
