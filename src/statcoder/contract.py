"""The coded-output contract: column names, decisions and sources every module shares.

``Coder.code`` returns the input columns plus :data:`OUTPUT_COLUMNS`; the service, the
evaluation, monitoring and estimation read them by these names. ``Decision`` is a ``str``
enum, so ``Decision.AUTO == "auto"`` and the values are the strings written to files.
"""

from __future__ import annotations

from enum import StrEnum


class Decision(StrEnum):
    """What happened to a record: coded at full depth, coded at a higher level, or left to a person."""

    AUTO = "auto"
    PARTIAL = "partial"
    REVIEW = "review"


class Source(StrEnum):
    """Where a record's code came from: the exact-match coding index or the model."""

    INDEX = "index"
    MODEL = "model"


PREDICTED_CODE = "predicted_code"
PREDICTED_LEVEL = "predicted_level"
CONFIDENCE = "confidence"
DECISION = "decision"
SOURCE = "source"
CANDIDATES = "candidates"

#: the columns ``Coder.code`` adds to the input, in this order
OUTPUT_COLUMNS: tuple[str, ...] = (PREDICTED_CODE, PREDICTED_LEVEL, CONFIDENCE, DECISION, SOURCE, CANDIDATES)
#: the columns that say how a record was coded (the part monitoring reads)
CODED_COLUMNS: tuple[str, ...] = (PREDICTED_CODE, PREDICTED_LEVEL, CONFIDENCE, DECISION)
#: every decision value, in display order
DECISIONS: tuple[str, ...] = tuple(d.value for d in Decision)
#: decisions that assign a code without a person (auto + partial)
AUTOMATIC: tuple[str, ...] = (Decision.AUTO.value, Decision.PARTIAL.value)
