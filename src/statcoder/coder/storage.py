"""Saving and loading a Coder as a safe model directory (see statcoder.models.persistence).

Format 2 stores a ``HierarchicalCoder`` (its members, calibrator and thresholds) and a typed
``ModelCard``. Format 1 directories (one model with its temperature, an untyped card) are
read and converted: the model becomes a ``HierarchicalCoder`` with ``deploy="refit"``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from statcoder.classifications import Classification
from statcoder.coder.card import ModelCard
from statcoder.coder.coder import Coder
from statcoder.coder.estimator import HierarchicalCoder
from statcoder.coder.index import CodingIndex
from statcoder.errors import ModelFileError
from statcoder.models.persistence import load_arrays, load_json, read_model_dir, write_model_dir
from statcoder.models.registry import model_from_state


def save_coder(coder: Coder, directory: Path) -> Path:
    """Write ``coder`` to ``directory``; updates ``coder.card`` with hashes and version."""
    state, arrays, write_extra = coder.model.to_state()
    card = coder.card.with_(thresholds=dict(coder.thresholds)).to_dict()
    for name in ("files", "content_hash", "version", "format", "format_version"):
        card.pop(name, None)
    json_files = {
        "classification.json": {
            "name": coder.classification.name,
            "version": coder.classification.version,
            "level_names": {str(k): v for k, v in coder.classification.level_names.items()},
            "codes": coder.classification.to_records(),
        },
        "model_state.json": state,
    }
    if coder.index is not None:
        json_files["index.json"] = coder.index.items()
    if coder.training_text_keys:  # hashes only (statcoder.coder.overlap): tells evaluate/monitor their data is training data
        json_files["training_texts.json"] = sorted(coder.training_text_keys)
    final = write_model_dir(directory, card, arrays=arrays, json_files=json_files, write_extra=write_extra)
    coder.card = ModelCard.from_dict(final, where=str(directory))
    return directory


def load_coder(directory: Path) -> Coder:
    """Load a Coder from a verified model directory (format 1 or 2)."""
    raw, path = read_model_dir(directory)
    card = ModelCard.from_dict(raw, where=str(path / "model.json"))
    try:
        tree = load_json(path, "classification.json")
        classification = Classification.from_frame(
            pd.DataFrame(tree["codes"]), name=tree["name"], version=tree.get("version", ""), source=str(path)
        )
        classification.level_names = {int(k): v for k, v in tree.get("level_names", {}).items()}
        arrays = load_arrays(path)
        state = load_json(path, "model_state.json")
        if state.get("backend") == "hierarchical":
            model = HierarchicalCoder.from_state(state, arrays, path, classification=classification,
                                                 thresholds=card.thresholds)
        else:  # format 1: one model carrying its own temperature
            base = model_from_state(state, arrays, path)
            temperature = float(getattr(base, "temperature_", 1.0))
            base.temperature_ = 1.0
            model = HierarchicalCoder.wrap(base, temperature=temperature, classification=classification,
                                           thresholds=card.thresholds, target_accuracy=card.target_accuracy)
        index = None
        if (path / "index.json").is_file():
            index = CodingIndex()
            index._entries = {text: code for text, code in load_json(path, "index.json")}
        keys = frozenset(map(str, load_json(path, "training_texts.json"))) if (path / "training_texts.json").is_file() else None
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"the model directory is inconsistent ({type(exc).__name__}: {exc})",
                             where=str(path), hint="retrain the model with this statcoder version") from None
    return Coder(model=model, classification=classification, thresholds=card.thresholds, card=card, index=index,
                 training_text_keys=keys)
