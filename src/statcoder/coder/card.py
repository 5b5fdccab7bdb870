"""The model card: a typed, versioned record of how a model was trained and how it did.

``ModelCard`` is written as ``model.json`` (``to_dict``; non-finite numbers as ``null``) and read
back with ``ModelCard.from_dict``, which also converts the cards of format version 1 (the
untyped dict written before statcoder 0.2). ``format_version`` is the version of the model
directory (``statcoder.models.persistence.FORMAT_VERSION``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from statcoder.coder.heldout import DecisionFigures, LevelFigures
from statcoder.decision.conformal import ConformalLevel
from statcoder.errors import ModelFileError

CARD_FORMAT_VERSION = 2


@dataclass(frozen=True)
class ClassificationRef:
    """Which classification the model codes to (``fingerprint`` = hash of its codes and tree)."""

    name: str
    version: str
    fingerprint: str
    depth: int
    n_codes: int


@dataclass(frozen=True)
class TrainingDataSummary:
    """The training data: SHA-256 of the sorted (text, code) pairs, sizes, columns, rows left out
    (``dropped``: reason -> rows) and texts cut to the length limit (``n_truncated``)."""

    fingerprint: str
    n_records: int
    n_codes: int
    text_columns: tuple[str, ...]
    code_column: str
    dropped: Mapping[str, int] = field(default_factory=dict)
    n_truncated: int = 0


@dataclass(frozen=True)
class TrainingLimits:
    """The limits a model was trained with; ``Coder.code`` applies them by default."""

    max_text_length: int
    text_columns: tuple[str, ...]
    target_accuracy: float


@dataclass(frozen=True)
class CalibrationDataRef:
    """The records the calibration and thresholds were chosen on (the guarantee refers to them).

    ``source`` is "out-of-fold training data" after ``train`` or the description given to
    ``calibrate``; ``fingerprint`` is the SHA-256 of the sorted (text, code) pairs.
    """

    source: str
    fingerprint: str
    n: int
    target_population: bool


@dataclass(frozen=True)
class HeldoutFigures:
    """Figures on the calibration records (out of fold after ``train``).

    ``accuracy``: top-1 at full depth; ``ece`` / ``ece_before_calibration``: top-label expected
    calibration error; ``levels``: per level; ``decisions``: per decision value;
    ``conformal``: the prediction-set quantiles per coverage.
    """

    n: int
    cv_folds: int
    accuracy: float
    ece: float
    ece_before_calibration: float
    temperature: float
    levels: Mapping[int, LevelFigures]
    decisions: Mapping[str, DecisionFigures]
    conformal: tuple[ConformalLevel, ...] = ()


@dataclass(frozen=True)
class ModelCard:
    """Everything ``model.json`` records about a model (see the module docs)."""

    created: str
    backend: str
    model_params: Mapping[str, Any]
    hierarchical_model: bool
    deploy: str
    seed: int
    target_accuracy: float
    confidence_level: float
    classification: ClassificationRef
    training_data: TrainingDataSummary
    limits: TrainingLimits
    calibration_data: CalibrationDataRef
    heldout: HeldoutFigures
    thresholds: Mapping[int, float]
    train_seconds: float
    library_versions: Mapping[str, str]
    index_entries: int = 0
    #: model chosen by validation in ``train``: candidates (parameter changes), top-1 of each
    #: on the first fold's held-out records, that fold's size, the chosen candidate
    model_selection: Mapping[str, Any] = field(default_factory=dict)
    #: weight of the head block (``train(head_weight=...)``, ``--head-weight``); 0 = none, and for
    #: cards written before the option existed
    head_weight: float = 0.0
    format_version: int = CARD_FORMAT_VERSION
    version: str = "unsaved"
    content_hash: str = ""
    files: Mapping[str, str] = field(default_factory=dict)

    def with_(self, **changes: Any) -> ModelCard:
        """A copy with ``changes`` applied (the card is frozen)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able card: level keys as strings, ``inf`` thresholds and NaN as ``None``."""
        out = asdict(self)
        out["thresholds"] = {str(k): _finite(v) for k, v in self.thresholds.items()}
        out["heldout"]["levels"] = {str(k): v for k, v in out["heldout"]["levels"].items()}
        out["heldout"]["conformal"] = [dict(c, quantile=_finite(c["quantile"])) for c in out["heldout"]["conformal"]]
        return _json_safe(out)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], *, where: str = "model.json") -> ModelCard:
        """Read a card of format version 1 or 2; raises ModelFileError when it is malformed."""
        try:
            version = int(raw.get("format_version", 1))
            data = _upgrade_v1(raw) if version < 2 else dict(raw)
            held = dict(data["heldout"])
            held["levels"] = {int(k): LevelFigures(**v) for k, v in held["levels"].items()}
            held["decisions"] = {k: DecisionFigures(**v) for k, v in held["decisions"].items()}
            held["conformal"] = tuple(
                ConformalLevel(**dict(c, quantile=math.inf if c["quantile"] is None else c["quantile"]))
                for c in held.get("conformal", []))
            held = _nan_for_none(held, ("ece", "ece_before_calibration", "accuracy"))
            training = dict(data["training_data"], text_columns=tuple(data["training_data"]["text_columns"]))
            limits = dict(data["limits"], text_columns=tuple(data["limits"]["text_columns"]))
            known = {f.name for f in fields(cls)}
            values = {k: v for k, v in data.items() if k in known}
            values.update(
                classification=ClassificationRef(**data["classification"]),
                training_data=TrainingDataSummary(**training),
                limits=TrainingLimits(**limits),
                calibration_data=CalibrationDataRef(**data["calibration_data"]),
                heldout=HeldoutFigures(**held),
                thresholds={int(k): math.inf if v is None else float(v) for k, v in data["thresholds"].items()},
                format_version=CARD_FORMAT_VERSION,
            )
            return cls(**values)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelFileError(f"the model card is malformed ({type(exc).__name__}: {exc})", where=where,
                                 hint="retrain the model with this statcoder version") from None


def _upgrade_v1(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Convert a format-1 card (untyped dict of statcoder 0.1) to the format-2 layout."""
    data = dict(raw)
    held = dict(data["heldout"])
    held["levels"] = {k: {"accuracy": v["accuracy"], "coded_share": v["coded_share"],
                          "coded_accuracy": _none_for_nan(v.get("coded_accuracy")),
                          "lower_bound": v.get("lower_bound", 0.0)} for k, v in held["levels"].items()}
    held["decisions"] = {k: {"share": v["share"], "accuracy": v.get("accuracy")} for k, v in held["decisions"].items()}
    held.setdefault("conformal", [])
    data["heldout"] = held
    training = dict(data["training_data"])
    training.setdefault("n_truncated", 0)
    data["training_data"] = training
    data.setdefault("deploy", "refit")
    data.setdefault("confidence_level", 0.95)
    data.setdefault("limits", {"max_text_length": 10_000, "text_columns": training["text_columns"],
                               "target_accuracy": data["target_accuracy"]})
    data.setdefault("calibration_data", {"source": "out-of-fold training data (format 1)",
                                         "fingerprint": training["fingerprint"], "n": held["n"],
                                         "target_population": False})
    data.setdefault("thresholds", {})
    return data


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(float(value)) else float(value)


def _none_for_nan(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _nan_for_none(held: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {k: (math.nan if k in names and v is None else v) for k, v in held.items()}


def _json_safe(value: Any) -> Any:
    from statcoder.models.persistence import json_safe

    return json_safe(value)
