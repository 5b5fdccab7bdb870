"""Optional sentence embeddings from a local model directory (nothing is downloaded).

Two layouts work, detected by ``load_embedding``: a *static* model (below) and a transformer
sentence encoder exported to ONNX (``statcoder.models.onnx_embedding``, run with onnxruntime).

A *static* embedding model maps every token of its tokenizer to a vector; a text's embedding
is the mean of its tokens' vectors, L2-normalised. Such models (Model2Vec, WordLlama) are
distilled from large sentence encoders, run in microseconds per text on a CPU and carry
meaning that n-grams miss (``cook`` ~ ``chef``). statcoder appends the embedding to the
TF-IDF features of the linear model (``TextFeatures(embedding_dir=...)``), so the SVMs weigh
both.

The directory holds a Hugging Face ``tokenizer.json`` (any file named ``*tokenizer*.json``)
and one ``.safetensors`` file whose only 2-D tensor is the (vocabulary, dimension) matrix:
the layout of Model2Vec models and of the WordLlama weights that the ``wordllama`` package
ships. The safetensors file is parsed here with numpy (a JSON header and raw little-endian
bytes: no code runs). Needs the ``tokenizers`` package: ``pip install 'statcoder[embeddings]'``.
"""

from __future__ import annotations

import hashlib
import json
import struct
import threading
from pathlib import Path
from typing import Any

import numpy as np

from statcoder.errors import ConfigurationError, ModelFileError

_DTYPES = {"F16": np.float16, "F32": np.float32, "BF16": None, "F64": np.float64}
_MAX_HEADER = 100_000_000


def _require_tokenizers() -> Any:
    try:
        import tokenizers
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise ConfigurationError(
            "sentence embeddings need the package tokenizers",
            hint="pip install 'statcoder[embeddings]'",
        ) from None
    return tokenizers


def read_safetensors_matrix(path: Path) -> np.ndarray:
    """Return the only 2-D tensor of a ``.safetensors`` file as float32; raises ModelFileError."""
    with open(path, "rb") as handle:
        head = handle.read(8)
        if len(head) != 8:
            raise ModelFileError("not a safetensors file (too short)", where=str(path))
        (size,) = struct.unpack("<Q", head)
        if size > _MAX_HEADER:
            raise ModelFileError("not a safetensors file (header size)", where=str(path))
        try:
            header = json.loads(handle.read(size))
        except ValueError:
            raise ModelFileError("not a safetensors file (header is not JSON)", where=str(path)) from None
        tensors = {k: v for k, v in header.items() if k != "__metadata__" and len(v.get("shape", [])) == 2}
        if len(tensors) != 1:
            hint = ("this looks like a transformer checkpoint: export it to ONNX (docs/core.md, embedding_dir)"
                    if len(tensors) > 1 else "use a static embedding model (Model2Vec, WordLlama)")
            raise ModelFileError(f"expected one 2-D tensor (the token embeddings), found {len(tensors)}",
                                 where=str(path), hint=hint)
        (name, info), = tensors.items()
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise ModelFileError(f"tensor {name!r} has unsupported dtype {info['dtype']}", where=str(path),
                                 hint="convert the embeddings to float16 or float32")
        start, end = info["data_offsets"]
        rows, dim = info["shape"]
        handle.seek(8 + size + start)
        raw = handle.read(end - start)
    if len(raw) != rows * dim * np.dtype(dtype).itemsize:
        raise ModelFileError("the embedding tensor is truncated", where=str(path))
    return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).reshape(rows, dim).astype(np.float32)


class StaticEmbedding:
    """Token-vector lookup and mean pooling; built from a directory or from saved arrays."""

    kind = "static"

    def __init__(self, tokenizer_json: str, matrix: np.ndarray) -> None:
        tokenizers = _require_tokenizers()
        self.tokenizer_json = tokenizer_json
        self.matrix = np.asarray(matrix, dtype=np.float32)
        self.tokenizer = tokenizers.Tokenizer.from_str(tokenizer_json)
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()

    @classmethod
    def from_directory(cls, directory: str | Path) -> StaticEmbedding:
        """Load ``*tokenizer*.json`` and the ``.safetensors`` matrix of a local model directory."""
        root = Path(directory)
        if not root.is_dir():
            raise ConfigurationError("embedding model directory not found", where=str(root),
                                     hint="give a local directory; nothing is downloaded")
        tokenizer_files = sorted(root.glob("*tokenizer*.json"))
        weight_files = sorted(root.glob("*.safetensors"))
        if len(tokenizer_files) != 1 or len(weight_files) != 1:
            raise ModelFileError(
                "an embedding model directory needs model.onnx + tokenizer.json (a transformer encoder) or "
                "exactly one *tokenizer*.json and one .safetensors file (a static model)",
                where=str(root), hint=f"found {len(tokenizer_files)} tokenizer and {len(weight_files)} weight file(s)")
        return cls(tokenizer_files[0].read_text(encoding="utf-8"), read_safetensors_matrix(weight_files[0]))

    def identity(self) -> dict[str, Any]:
        """What the model card records: kind, dimension and the SHA-256 of matrix + tokenizer."""
        digest = hashlib.sha256(np.ascontiguousarray(self.matrix).tobytes())
        digest.update(self.tokenizer_json.encode("utf-8"))
        return {"kind": self.kind, "dim": self.dim, "sha256": digest.hexdigest(), "bytes": int(self.matrix.nbytes)}

    @property
    def dim(self) -> int:
        """Embedding dimension."""
        return int(self.matrix.shape[1])

    def embed(self, texts: list[str]) -> np.ndarray:
        """Return (n, dim) float32 mean token vectors, unit length (zeros for a text with no token)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        vocabulary = len(self.matrix)
        for row, enc in enumerate(self.tokenizer.encode_batch(list(texts), add_special_tokens=False)):
            ids = np.asarray([i for i in enc.ids if 0 <= i < vocabulary], dtype=np.int64)
            if ids.size:
                out[row] = self.matrix[ids].mean(axis=0)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Return the state as arrays: the matrix and the tokenizer JSON as UTF-8 bytes."""
        return {"embedding_matrix": self.matrix,
                "embedding_tokenizer": np.frombuffer(self.tokenizer_json.encode("utf-8"), dtype=np.uint8)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> StaticEmbedding:
        """Rebuild from ``to_arrays`` output."""
        return cls(bytes(arrays["embedding_tokenizer"]).decode("utf-8"), arrays["embedding_matrix"])


_LOADED: dict[tuple[Any, ...], Any] = {}
_LOADED_LOCK = threading.Lock()


def _fingerprint(root: Path) -> tuple[Any, ...]:
    files = sorted(p for p in root.rglob("*") if p.is_file())[:500]
    return (str(root.resolve()), *((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files))


def load_embedding(directory: str | Path) -> Any:
    """Load the sentence-embedding model of a local directory, detecting its layout.

    An ONNX file (``model.onnx`` or ``onnx/model.onnx``) means a transformer encoder
    (``OnnxEmbedding``); otherwise a static model (``StaticEmbedding``). A directory already
    loaded in this process (same files, sizes and modification times) is reused, so the
    cross-validation members of one training share one model and its cache of embedded texts.
    Raises ConfigurationError (no such directory) or ModelFileError (unusable content).
    """
    root = Path(directory)
    if not root.is_dir():
        what = "is a file, not a directory" if root.exists() else "not found"
        raise ConfigurationError(f"embedding model directory {what}", where=str(root),
                                 hint="give the local directory holding tokenizer.json and model.onnx (or the "
                                      "static model's files); nothing is downloaded")
    from statcoder.models.onnx_embedding import OnnxEmbedding, find_onnx_file

    key = _fingerprint(root)
    with _LOADED_LOCK:
        if key in _LOADED:
            return _LOADED[key]
        model = OnnxEmbedding.from_directory(root) if find_onnx_file(root) else StaticEmbedding.from_directory(root)
        if len(_LOADED) >= 2:
            _LOADED.clear()
        _LOADED[key] = model
        return model


def embedding_from_arrays(arrays: dict[str, np.ndarray]) -> Any:
    """The embedding model saved in a model's arrays (``to_arrays`` output), or None if it has none."""
    if "embedding_onnx" in arrays:
        from statcoder.models.onnx_embedding import OnnxEmbedding

        return OnnxEmbedding.from_arrays(arrays)
    if "embedding_matrix" in arrays:
        return StaticEmbedding.from_arrays(arrays)
    return None
