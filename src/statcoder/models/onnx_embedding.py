"""Optional transformer sentence encoders from a local directory, run with onnxruntime on the CPU.

The directory is a sentence-transformers / Hugging Face model exported to ONNX (nothing is
downloaded; see docs/core.md for the export, done once on a machine with internet):

- ``tokenizer.json`` (Hugging Face ``tokenizers``); ``tokenizer_config.json`` and
  ``special_tokens_map.json`` are read for the padding token and the maximum length if present;
- ``model.onnx`` or ``onnx/model.onnx`` whose inputs are ``input_ids`` / ``attention_mask`` /
  ``token_type_ids`` (those the graph declares) and whose output is the token embeddings
  (``last_hidden_state`` / ``token_embeddings``) or an already pooled ``sentence_embedding``;
- the sentence-transformers modules: ``1_Pooling/config.json`` (CLS, mean, max, mean-sqrt-len,
  weighted mean, last token; mean when absent) and ``2_Normalize`` (L2 normalisation), found
  through ``modules.json`` when present; ``sentence_bert_config.json`` gives ``max_seq_length``.

An ONNX file is a protobuf graph of standard operators: loading it runs no Python code, and no
custom-operator library is ever registered. Sizes are checked before anything is read (the ONNX
file against ``STATCODER_MAX_MODEL_BYTES``, since it is bundled into the saved model; JSON files
against small fixed limits). Inference is batched (at most ``BATCH`` texts and ``BATCH_TOKENS``
tokens per call) and uses ``STATCODER_THREADS`` intra-op threads, without busy-waiting.
Needs ``pip install 'statcoder[onnx]'`` (onnxruntime and tokenizers).
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np

from statcoder.errors import ConfigurationError, ModelFileError

BATCH = 64  #: most texts per onnxruntime call
BATCH_TOKENS = 16_384  #: most (texts x padded length) per call, which bounds the activations' memory
MAX_JSON_BYTES = 1_000_000  #: configuration files
MAX_TOKENIZER_BYTES = 64_000_000  #: tokenizer.json (large multilingual vocabularies are ~20 MB)
MAX_SEQ_LENGTH = 8192  #: hard cap on the tokens of one text, whatever the configuration says
MEMO_BYTES = 128_000_000  #: training: embeddings of texts already seen (cross-validation reuses them)
POOLING_MODES = ("cls_token", "max_tokens", "mean_tokens", "mean_sqrt_len_tokens", "weightedmean_tokens",
                 "lasttoken")  # sentence-transformers' concatenation order
_TOKEN_OUTPUTS = ("last_hidden_state", "token_embeddings")
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_EXPORT_HINT = "export the model to ONNX as docs/core.md shows (embedding_dir)"


def _require_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise ConfigurationError("transformer sentence embeddings need the package onnxruntime",
                                 hint="pip install 'statcoder[onnx]'") from None
    return onnxruntime


def find_onnx_file(root: Path) -> Path | None:
    """The ONNX file of a model directory: ``model.onnx``, ``onnx/model.onnx`` or the only ``*.onnx``."""
    for candidate in (root / "model.onnx", root / "onnx" / "model.onnx"):
        if candidate.is_file():
            return candidate
    found = sorted(root.glob("*.onnx")) + sorted(root.glob("onnx/*.onnx"))
    if len(found) > 1:
        raise ModelFileError(f"{len(found)} ONNX files and none is named model.onnx: "
                             f"{', '.join(str(p.relative_to(root)) for p in found[:6])}", where=str(root),
                             hint="keep the one to use as model.onnx (e.g. the quantised variant)")
    return found[0] if found else None


def _read_bounded(path: Path, limit: int, what: str) -> bytes:
    size = path.stat().st_size
    if size > limit:
        raise ModelFileError(f"{what} is {size:,} bytes, more than the limit of {limit:,}", where=str(path),
                             hint="use a smaller model, or raise STATCODER_MAX_MODEL_BYTES for the ONNX file")
    return path.read_bytes()


def _read_json(path: Path) -> Any:
    if not path.is_file():
        return None
    try:
        return json.loads(_read_bounded(path, MAX_JSON_BYTES, path.name))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path.name} is not valid JSON ({exc})", where=str(path),
                             hint="restore the file from the exported model") from None


def read_config(root: Path) -> dict[str, Any]:
    """Return the pipeline configuration of a directory: pooling modes, normalisation, max length, pad token."""
    modules = _read_json(root / "modules.json")
    pooling_dir, normalize = root / "1_Pooling", (root / "2_Normalize").is_dir()
    if isinstance(modules, list):
        types = {str(m.get("type", "")).rsplit(".", 1)[-1]: m for m in modules if isinstance(m, dict)}
        if "Pooling" in types:
            pooling_dir = root / str(types["Pooling"].get("path", "1_Pooling"))
        normalize = normalize or "Normalize" in types
        unknown = sorted(set(types) - {"Transformer", "Pooling", "Normalize"})
        if unknown:
            raise ModelFileError(f"modules.json lists module(s) statcoder does not run: {', '.join(unknown)}",
                                 where=str(root / "modules.json"),
                                 hint="use a model made of Transformer, Pooling and Normalize modules only")
    pooling = _read_json(pooling_dir / "config.json") or {"pooling_mode_mean_tokens": True}
    modes = [m for m in POOLING_MODES if pooling.get(f"pooling_mode_{m}") is True]
    if not modes:
        raise ModelFileError("the pooling configuration selects no mode statcoder knows",
                             where=str(pooling_dir / "config.json"), hint=f"use one of {', '.join(POOLING_MODES)}")
    tok_config = _read_json(root / "tokenizer_config.json") or {}
    special = _read_json(root / "special_tokens_map.json") or {}
    st_config = _read_json(root / "sentence_bert_config.json") or {}
    limits = [int(v) for v in (st_config.get("max_seq_length"), tok_config.get("model_max_length"))
              if isinstance(v, (int, float)) and 0 < v < 1e6]
    pad = special.get("pad_token", tok_config.get("pad_token"))
    if isinstance(pad, dict):
        pad = pad.get("content")
    return {"pooling": modes, "normalize": bool(normalize),
            "max_length": min(limits[0] if limits else 512, MAX_SEQ_LENGTH),
            "pad_token": pad if isinstance(pad, str) else None}


class OnnxEmbedding:
    """Tokenizer + ONNX encoder + pooling; built from a directory or from saved arrays."""

    kind = "onnx"

    def __init__(self, model: bytes, tokenizer_json: str, config: dict[str, Any], where: str = "model",
                 memo_bytes: int = 0) -> None:
        from statcoder.models.embedding import _require_tokenizers
        from statcoder.settings import get_settings

        tokenizers, ort = _require_tokenizers(), _require_onnxruntime()
        self.model, self.tokenizer_json, self.config = bytes(model), tokenizer_json, dict(config)
        try:
            self.tokenizer = tokenizers.Tokenizer.from_str(tokenizer_json)
        except Exception as exc:  # noqa: BLE001 - tokenizers raises plain Exception for a bad file
            raise ModelFileError(f"tokenizer.json cannot be read by tokenizers ({exc})", where=where,
                                 hint="use the tokenizer.json saved with the model") from None
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(int(self.config["max_length"]))
        pad = self.config.get("pad_token")
        padding = json.loads(tokenizer_json).get("padding") or {}
        pad_id = self.tokenizer.token_to_id(pad) if pad else None
        self.pad_id = int(pad_id if pad_id is not None else padding.get("pad_id", 0))
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(get_settings().threads)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # no busy-waiting
        try:
            self.session = ort.InferenceSession(self.model, sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime's errors derive from Exception only
            raise ModelFileError(f"onnxruntime cannot load the ONNX model ({str(exc)[:300]})", where=where,
                                 hint=_EXPORT_HINT + "; external weight files (model.onnx_data) are not supported")
        self._inputs = {i.name: (np.int32 if "int32" in i.type else np.int64) for i in self.session.get_inputs()}
        missing = sorted(set(self._inputs) - set(_INPUTS))
        if missing or "input_ids" not in self._inputs:
            raise ModelFileError(f"the ONNX graph's inputs are {', '.join(self._inputs)}; statcoder feeds "
                                 f"{', '.join(_INPUTS)}", where=where, hint=_EXPORT_HINT)
        outputs = {o.name: len(o.shape) for o in self.session.get_outputs()}
        names = [n for n in _TOKEN_OUTPUTS if outputs.get(n) == 3] or [n for n, r in outputs.items() if r == 3]
        self._pooled = not names and outputs.get("sentence_embedding") == 2
        if not names and not self._pooled:
            raise ModelFileError(f"the ONNX graph has no token-embedding output (outputs: {outputs})", where=where,
                                 hint=_EXPORT_HINT)
        self._output = "sentence_embedding" if self._pooled else names[0]
        self._memo: dict[str, np.ndarray] = {}
        self.memo_bytes = int(memo_bytes)  # 0: no memory of embedded texts (a deployed model)
        self._lock = threading.Lock()
        self.dim = int(self._encode(["a"]).shape[1])  # also proves the graph runs

    @classmethod
    def from_directory(cls, directory: str | Path) -> OnnxEmbedding:
        """Load the ONNX encoder, tokenizer and pooling configuration of a local model directory."""
        from statcoder.settings import get_settings

        root = Path(directory)
        onnx_file = find_onnx_file(root)
        if onnx_file is None:
            raise ModelFileError("no ONNX file (model.onnx or onnx/model.onnx)", where=str(root), hint=_EXPORT_HINT)
        names = {onnx_file.name + "_data", onnx_file.name + ".data", onnx_file.stem + ".data"}
        external = sorted(p.name for p in onnx_file.parent.iterdir() if p.name in names)
        if external:
            raise ModelFileError(f"the ONNX model keeps weights in separate file(s) ({', '.join(external)}); statcoder "
                                 "bundles one self-contained file into the saved model", where=str(onnx_file.parent),
                                 hint="re-export with the weights inside the .onnx file (possible below 2 GB)")
        tokenizer = root / "tokenizer.json"
        if not tokenizer.is_file():
            raise ModelFileError("the ONNX model directory has no tokenizer.json", where=str(root),
                                 hint="copy tokenizer.json of the exported model next to model.onnx")
        model = _read_bounded(onnx_file, int(get_settings().max_model_bytes), "the ONNX model")
        text = _read_bounded(tokenizer, MAX_TOKENIZER_BYTES, "tokenizer.json").decode("utf-8", errors="strict")
        return cls(model, text, read_config(root), where=str(root), memo_bytes=MEMO_BYTES)

    def identity(self) -> dict[str, Any]:
        """What the model card records: kind, dimension, pooling and the SHA-256 of model + tokenizer."""
        digest = hashlib.sha256(self.model)
        digest.update(self.tokenizer_json.encode("utf-8"))
        return {"kind": self.kind, "dim": self.dim, "sha256": digest.hexdigest(), "bytes": len(self.model),
                "pooling": list(self.config["pooling"]), "normalize": self.config["normalize"],
                "max_length": self.config["max_length"]}

    def embed(self, texts: list[str]) -> np.ndarray:
        """Return (n, dim) float32 sentence embeddings (unit length when the model normalises)."""
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        todo: dict[str, list[int]] = {}
        for row, text in enumerate(texts):
            hit = self._memo.get(text)
            if hit is None:
                todo.setdefault(text, []).append(row)
            else:
                out[row] = hit
        if todo:
            new = list(todo)
            vectors = self._encode(new)
            for text, vector in zip(new, vectors, strict=True):
                out[todo[text]] = vector
            keep = len(new) * self.dim * 4 <= self.memo_bytes
            with self._lock:
                if keep and (len(self._memo) + len(new)) * self.dim * 4 > self.memo_bytes:
                    self._memo.clear()
                if keep:
                    self._memo.update(zip(new, vectors, strict=True))
        return out

    def _encode(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=True)
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")  # similar lengths share a batch
        result: list[np.ndarray] = [np.empty(0, np.float32)] * len(texts)
        start = 0
        while start < len(order):
            longest, stop = 1, start
            while stop < len(order) and stop - start < BATCH:
                longest_next = max(longest, len(encodings[order[stop]].ids))
                if stop > start and longest_next * (stop - start + 1) > BATCH_TOKENS:
                    break
                longest, stop = longest_next, stop + 1
            batch = [encodings[i] for i in order[start:stop]]
            for i, vector in zip(order[start:stop], self._run(batch, longest), strict=True):
                result[i] = vector
            start = stop
        return np.vstack(result).astype(np.float32, copy=False)

    def _run(self, batch: list[Any], length: int) -> np.ndarray:
        ids = np.full((len(batch), length), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), length), dtype=np.int64)
        types = np.zeros((len(batch), length), dtype=np.int64)
        for row, enc in enumerate(batch):
            n = len(enc.ids)
            ids[row, :n], mask[row, :n], types[row, :n] = enc.ids, enc.attention_mask, enc.type_ids
        arrays = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        feeds = {name: arrays[name].astype(dtype, copy=False) for name, dtype in self._inputs.items()}
        (hidden,) = self.session.run([self._output], feeds)
        hidden = np.asarray(hidden, dtype=np.float32)
        pooled = hidden if self._pooled else pool(hidden, mask, self.config["pooling"])
        if self.config["normalize"]:
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            np.divide(pooled, norms, out=pooled, where=norms > 0)
        return pooled

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Return the state as arrays: ONNX bytes, tokenizer JSON and configuration JSON (uint8)."""
        return {"embedding_onnx": np.frombuffer(self.model, dtype=np.uint8),
                "embedding_tokenizer": np.frombuffer(self.tokenizer_json.encode("utf-8"), dtype=np.uint8),
                "embedding_config": np.frombuffer(json.dumps(self.config).encode("utf-8"), dtype=np.uint8)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> OnnxEmbedding:
        """Rebuild from ``to_arrays`` output (a saved model's weights)."""
        return cls(bytes(arrays["embedding_onnx"]), bytes(arrays["embedding_tokenizer"]).decode("utf-8"),
                   json.loads(bytes(arrays["embedding_config"]).decode("utf-8")), where="weights.npz")

    def __getstate__(self) -> dict[str, Any]:  # an onnxruntime session cannot be copied: rebuild it
        return {"arrays": self.to_arrays()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(OnnxEmbedding.from_arrays(state["arrays"]).__dict__)


def pool(hidden: np.ndarray, mask: np.ndarray, modes: list[str]) -> np.ndarray:
    """Pool (batch, tokens, dim) token embeddings to (batch, dim x len(modes)), as sentence-transformers does."""
    weights = mask[..., None].astype(np.float32)
    counts = np.clip(weights.sum(axis=1), 1e-9, None)
    parts = []
    for mode in modes:
        if mode == "cls_token":
            parts.append(hidden[:, 0])
        elif mode == "max_tokens":
            parts.append(np.where(weights > 0, hidden, -1e9).max(axis=1))
        elif mode == "mean_tokens":
            parts.append((hidden * weights).sum(axis=1) / counts)
        elif mode == "mean_sqrt_len_tokens":
            parts.append((hidden * weights).sum(axis=1) / np.sqrt(counts))
        elif mode == "weightedmean_tokens":
            position = weights * np.arange(1, hidden.shape[1] + 1, dtype=np.float32)[None, :, None]
            parts.append((hidden * position).sum(axis=1) / np.clip(position.sum(axis=1), 1e-9, None))
        else:  # lasttoken: the last real token (right padding)
            last = np.maximum(mask.sum(axis=1).astype(np.int64) - 1, 0)
            parts.append(hidden[np.arange(len(hidden)), last])
    return np.concatenate(parts, axis=1).astype(np.float32, copy=False)
