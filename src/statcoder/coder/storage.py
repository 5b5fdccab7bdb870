"""Saving and loading a Coder as a safe model directory (see statcoder.models.persistence)."""

from __future__ import annotations

from pathlib import Path

from statcoder.classifications import Classification
from statcoder.coder.coder import Coder
from statcoder.coder.index import CodingIndex
from statcoder.errors import ModelFileError
from statcoder.models.persistence import load_arrays, load_json, read_model_dir, write_model_dir
from statcoder.models.registry import model_from_state


def save_coder(coder: Coder, directory: Path) -> Path:
    """Write ``coder`` to ``directory``; updates ``coder.card`` with hashes and version."""
    state, arrays, write_extra = coder.model.to_state()
    card = {k: v for k, v in coder.card.items() if k not in ("files", "content_hash", "version", "format", "format_version")}
    card["thresholds"] = {str(k): (None if v == float("inf") else v) for k, v in coder.thresholds.items()}
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
    coder.card = write_model_dir(directory, card, arrays=arrays, json_files=json_files, write_extra=write_extra)
    return directory


def load_coder(directory: Path) -> Coder:
    """Load a Coder from a verified model directory."""
    card, path = read_model_dir(directory)
    try:
        tree = load_json(path, "classification.json")
        import pandas as pd

        classification = Classification.from_frame(
            pd.DataFrame(tree["codes"]), name=tree["name"], version=tree.get("version", ""), source=str(path)
        )
        classification.level_names = {int(k): v for k, v in tree.get("level_names", {}).items()}
        arrays = load_arrays(path)
        model = model_from_state(load_json(path, "model_state.json"), arrays, path)
        index = None
        if (path / "index.json").is_file():
            index = CodingIndex()
            index._entries = {text: code for text, code in load_json(path, "index.json")}
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"the model directory is inconsistent ({type(exc).__name__}: {exc})",
                             where=str(path), hint="retrain the model with this statcoder version") from None
    thresholds = {int(k): (float("inf") if v is None else float(v)) for k, v in card.get("thresholds", {}).items()}
    return Coder(model=model, classification=classification, thresholds=thresholds, card=card, index=index)
