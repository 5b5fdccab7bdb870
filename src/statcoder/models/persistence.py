"""Safe model directories: a JSON model card plus weights that load without executing code.

Layout of a model directory::

    model.json      the model card (format, versions, classification, data fingerprint,
                    thresholds, metrics, and the SHA-256 of every other file)
    weights.npz     numpy arrays, loaded with allow_pickle=False
    *.json          vocabularies and other plain data
    fasttext.bin    (fastText backend only) fastText's own binary format

Loading verifies every file's SHA-256 against the card and the card's own content hash,
so a tampered or truncated file is refused with a clear error. Pickle, joblib and dill
are never used.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from statcoder.errors import InputError, ModelFileError
from statcoder.io.archive_limits import check_npz
from statcoder.io.atomic import current_umask

FORMAT = "statcoder-model"
FORMAT_VERSION = 2  # 2: typed card, calibrated meta-estimator (1 is read and converted)
CARD = "model.json"
_UNSAFE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".dill", ".pt", ".pth", ".sav")


def sha256_file(path: Path) -> str:
    """Return the hex SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, +-inf) replaced by ``None`` (JSON ``null``).

    Bare ``NaN`` / ``Infinity`` are not JSON; other readers (browsers, jq, the API) refuse them.
    """
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def card_hash(card: dict[str, Any]) -> str:
    """SHA-256 of the card's canonical JSON without its ``content_hash`` and ``version`` fields."""
    body = {k: v for k, v in card.items() if k not in ("content_hash", "version")}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def write_model_dir(
    directory: str | Path,
    card: dict[str, Any],
    *,
    arrays: dict[str, np.ndarray],
    json_files: dict[str, Any],
    write_extra: Any = None,
) -> dict[str, Any]:
    """Write a model directory atomically and return the final card (with hashes and version).

    ``write_extra(tmpdir)`` may write further files (e.g. ``fasttext.bin``); every file ends up
    hashed in the card. The directory is assembled next to the target and swapped in with
    renames, so a crash leaves either the old model or the new one.
    """
    target = Path(directory)
    check_model_target(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes 0700; a model directory gets the umask's mode
    try:
        np.savez(tmp / "weights.npz", **arrays)
        for name, value in json_files.items():
            (tmp / name).write_text(json.dumps(json_safe(value), ensure_ascii=False, allow_nan=False),
                                    encoding="utf-8")
        if write_extra is not None:
            write_extra(tmp)
        files = {p.name: sha256_file(p) for p in sorted(tmp.iterdir()) if p.name != CARD}
        final = dict(json_safe(card), format=FORMAT, format_version=FORMAT_VERSION, files=files)
        final["content_hash"] = card_hash(final)
        final["version"] = "m-" + final["content_hash"][:12]
        (tmp / CARD).write_text(json.dumps(final, indent=2, ensure_ascii=False, allow_nan=False), encoding="utf-8")
        for path in tmp.iterdir():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
            old.rmdir()
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def check_model_target(directory: str | Path) -> None:
    """Raise InputError unless ``directory`` may receive a model: absent, an empty directory, or
    a model directory (which is replaced). Anything else - a file, a directory holding other
    files - would be deleted by the swap, so it is refused before any work."""
    target = Path(directory)
    if not target.exists() and not target.is_symlink():
        return
    if target.is_dir() and not target.is_symlink() and ((target / CARD).is_file() or not any(target.iterdir())):
        return
    kind = "a file" if target.is_file() else "a directory that is not a statcoder model"
    raise InputError(f"the output path is {kind}; writing the model there would delete it", where=str(target),
                     hint="give a new directory (or an existing model directory, which is replaced)")


def read_model_dir(directory: str | Path) -> tuple[dict[str, Any], Path]:
    """Read and verify a model directory; returns (card, directory).

    Raises ModelFileError when the directory or card is missing, the format is not
    statcoder's, the format version is newer than this library, a file's hash does not
    match the card, or unexpected (e.g. pickle) files are present.
    """
    path = Path(directory)
    where = str(path)
    if path.is_file():
        raise ModelFileError("the model path is a file, not a model directory", where=where,
                             hint="pass the directory written by `statcoder train --out` (it holds model.json)")
    if not path.is_dir():
        raise ModelFileError("model directory not found", where=where,
                             hint="pass the directory written by `statcoder train --out`")
    card_path = path / CARD
    if card_path.is_file():
        check_json_size(card_path)
    if not card_path.is_file():
        unsafe = [p.name for p in path.iterdir() if p.suffix.lower() in _UNSAFE_SUFFIXES]
        extra = f"; found {', '.join(unsafe)}, which statcoder never loads (pickle-like formats can run code)" if unsafe else ""
        raise ModelFileError(f"no {CARD} in the model directory{extra}", where=where,
                             hint="this is not a statcoder model; retrain it with `statcoder train`")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except RecursionError:
        raise ModelFileError(f"{CARD} is nested too deeply to be a model card", where=str(card_path),
                             hint="this is not a model statcoder wrote; retrain it") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{CARD} is not valid JSON ({exc})", where=str(card_path),
                             hint="the file is damaged; restore it or retrain") from None
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise ModelFileError(f"{CARD} is not a statcoder model card", where=str(card_path),
                             hint="retrain the model with `statcoder train`")
    version = card.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"model format version {version} is not supported by this statcoder (reads up to {FORMAT_VERSION})",
            where=str(card_path), hint="upgrade statcoder, or retrain the model with this version")
    if card.get("content_hash") != card_hash(card):
        raise ModelFileError("the model card was modified after the model was written (content hash mismatch)",
                             where=str(card_path), hint="restore the original model directory or retrain")
    files = card.get("files", {})
    if not isinstance(files, dict) or not all(_plain_name(n) and isinstance(h, str) for n, h in files.items()):
        # names with '/' or '..' would make the hash check read (and so probe) files outside the model
        raise ModelFileError(f"{CARD} lists files that are not plain names in the model directory", where=where,
                             hint="restore the original model directory or retrain")
    present = {p.name for p in path.iterdir() if p.is_file() and not p.name.startswith(".")} - {CARD}
    unexpected = sorted(present - set(files))
    if unexpected:
        raise ModelFileError(f"unexpected file(s) in the model directory: {', '.join(unexpected)}", where=where,
                             hint="a model directory holds only the files its card lists; remove the others")
    for name, expected in files.items():
        file_path = path / name
        if not file_path.is_file():
            raise ModelFileError(f"model file {name} is missing", where=where, hint="restore it or retrain")
        if name.endswith(".json"):
            check_json_size(file_path)
        if sha256_file(file_path) != expected:
            raise ModelFileError(f"model file {name} does not match its hash in {CARD} (tampered or damaged)",
                                 where=str(file_path), hint="restore the original model directory or retrain")
    return card, path


#: largest JSON file of a model directory (bytes): parsed JSON takes ~15x its size in memory
MAX_JSON_BYTES = 64 * 2**20


def _plain_name(name: object) -> bool:
    """True for a file name without a directory part (no '/', '\\', '..', NUL or leading dot)."""
    return (isinstance(name, str) and 0 < len(name) <= 255 and not name.startswith(".")
            and not any(c in name for c in "/\\\x00"))


def check_json_size(path: Path) -> None:
    """ModelFileError when a model JSON file is larger than ``MAX_JSON_BYTES`` (checked before it is parsed)."""
    size = path.stat().st_size
    if size > MAX_JSON_BYTES:
        raise ModelFileError(f"{path.name} is {size:,} bytes; a model's JSON files are limited to "
                             f"{MAX_JSON_BYTES:,} bytes", where=path.name,
                             hint="this is not a model statcoder wrote; retrain it")


def load_arrays(directory: Path) -> dict[str, np.ndarray]:
    """Load ``weights.npz`` with ``allow_pickle=False`` (object arrays are refused)."""
    check_npz(directory / "weights.npz")  # declared array sizes checked before numpy allocates them
    try:
        with np.load(directory / "weights.npz", allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except ValueError as exc:
        raise ModelFileError(f"weights.npz holds data that needs pickle ({exc})", where=str(directory),
                             hint="statcoder never loads pickled data; retrain the model") from None


def load_json(directory: Path, name: str) -> Any:
    """Load one of the model directory's JSON files (size-checked before parsing)."""
    check_json_size(directory / name)
    try:
        return json.loads((directory / name).read_text(encoding="utf-8"))
    except RecursionError:  # hash-checked but crafted: nesting no model file has
        raise ModelFileError(f"{name} is nested too deeply to be a model file", where=name,
                             hint="this is not a model statcoder wrote; retrain it") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{name} is not valid JSON ({type(exc).__name__})", where=name,
                             hint="restore the original model directory or retrain") from None
