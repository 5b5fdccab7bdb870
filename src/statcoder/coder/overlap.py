"""Is this data the model's training data? The exact fingerprint, and the share of training texts.

Evaluating a model on the records it was trained on, or monitoring against them as the
reference, gives optimistic accuracy (and no unseen tokens, hence false drift alerts later).
The model card holds the fingerprint of the training (text, code) pairs; a model trained by
this version also keeps short hashes of its normalised training texts (``training_texts.json``
in the model directory: hashes only, no text), so a partial overlap can be measured too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from statcoder.text.normalise import normalise_key, truncate_texts

__all__ = ["HEAVY_OVERLAP", "TrainingDataWarning", "TrainingOverlap", "text_keys", "training_overlap"]

#: share of texts that are training texts from which the overlap is called heavy (a warning)
HEAVY_OVERLAP = 0.5
#: hex digits kept of each SHA-256 (48 bits: about one chance in 3,000 of a false match per
#: record against a million training texts)
KEY_DIGITS = 12


class TrainingDataWarning(UserWarning):
    """Evaluation data or a monitoring reference is (mostly) the model's training data."""


def _hashed_keys(texts: Iterable[str]) -> Iterator[str]:
    """Short SHA-256 hash of each normalised non-empty text (the key exact-match look-ups use), in order."""
    return (hashlib.sha256(k.encode()).hexdigest()[:KEY_DIGITS] for k in map(normalise_key, texts) if k)


def text_keys(texts: Iterable[str]) -> frozenset[str]:
    """Short SHA-256 hashes of the normalised non-empty ``texts`` (the key exact-match look-ups use)."""
    return frozenset(_hashed_keys(texts))


@dataclass(frozen=True)
class TrainingOverlap:
    """How much of some labelled data is the model's training data.

    ``same_data``: the (text, code) pairs have the training-data fingerprint of the model card.
    ``share_training_texts``: share of the non-empty texts whose normalised form is a training
    text (None when the model keeps no text hashes, e.g. trained by an older version).
    """

    same_data: bool
    share_training_texts: float | None
    n_records: int

    @property
    def heavy(self) -> bool:
        """True when the data is the training data or at least ``HEAVY_OVERLAP`` of its texts are training texts."""
        return self.same_data or (self.share_training_texts is not None and self.share_training_texts >= HEAVY_OVERLAP)

    def warning(self, what: str) -> str:
        """One sentence for the user about ``what`` (e.g. "the evaluation data"); "" when no warning is due."""
        if self.same_data:
            return (f"{what} is the model's training data (same fingerprint as the model card): its accuracy is "
                    "optimistic, not an estimate for new records; use held-out labelled records")
        if self.heavy:
            return (f"{100 * self.share_training_texts:.0f} % of the texts in {what} are training texts of the "
                    "model (after normalisation): figures on them are optimistic; use held-out labelled records")
        return ""

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {"same_data": self.same_data, "share_training_texts": self.share_training_texts,
                "n_records": self.n_records, "heavy": self.heavy}

    def warn(self, what: str) -> None:
        """Issue a :class:`TrainingDataWarning` with :meth:`warning` when one is due."""
        import warnings

        if self.heavy:
            warnings.warn(self.warning(what), TrainingDataWarning, stacklevel=3)


def training_overlap(coder: Any, texts: Sequence[str], codes: Sequence[str] | None = None, *,
                     training_texts: Iterable[str] | None = None) -> TrainingOverlap:
    """Compare ``texts`` (and their true ``codes``) with ``coder``'s training data.

    The fingerprint is taken as training takes it: rows with an empty text or code left out,
    texts cut to the model's length limit. The share of training texts uses the hashes the
    model keeps, or ``training_texts`` when given (a model saved by an older version keeps none).
    Cheap: one hash per text.
    """
    from statcoder.coder.train import data_fingerprint

    card = getattr(coder, "card", None)
    same = False
    if card is not None and codes is not None:
        keep = [i for i, (t, c) in enumerate(zip(texts, codes, strict=True)) if str(t).strip() and str(c).strip()]
        cut, _ = truncate_texts([texts[i] for i in keep], max_length=card.limits.max_text_length)
        same = bool(keep) and data_fingerprint(cut, [str(codes[i]).strip() for i in keep]) == card.training_data.fingerprint
    known = text_keys(training_texts) if training_texts is not None else getattr(coder, "training_text_keys", None)
    share = None
    if known:
        keys = list(_hashed_keys(texts))
        share = sum(k in known for k in keys) / len(keys) if keys else 0.0
    return TrainingOverlap(same_data=same, share_training_texts=share, n_records=len(texts))
