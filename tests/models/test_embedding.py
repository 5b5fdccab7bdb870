"""Static sentence embeddings from a local directory: the model the ``wordllama`` package ships."""

from __future__ import annotations

import importlib.util
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import tokenizers  # noqa: F401 -- the embeddings extra (part of dev): a missing one fails, never skips

from statcoder.errors import ConfigurationError, ModelFileError
from statcoder.models.embedding import StaticEmbedding, read_safetensors_matrix
from statcoder.models.linear import LinearTextCoder


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A local model directory laid out from the files the wordllama wheel ships (no download)."""
    spec = importlib.util.find_spec("wordllama")
    if spec is None or spec.origin is None:
        pytest.fail("wordllama (dev extra) is not installed: run make test / pip install -e '.[dev]'")
    package = Path(spec.origin).parent
    directory = tmp_path_factory.mktemp("wordllama")
    shutil.copy(package / "weights" / "l2_supercat_256.safetensors", directory / "model.safetensors")
    shutil.copy(package / "tokenizers" / "l2_supercat_tokenizer_config.json", directory / "tokenizer.json")
    return directory


def test_embeddings_carry_meaning(model_dir):
    emb = StaticEmbedding.from_directory(model_dir)
    assert emb.dim == 256
    vectors = emb.embed(["chef", "cook", "truck driver", ""])
    np.testing.assert_allclose(np.linalg.norm(vectors[:3], axis=1), 1.0, rtol=1e-5)
    assert not vectors[3].any()  # no token: a zero vector, not NaN
    # a cook is closer to a chef than a truck driver is
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_safetensors_reader_matches_the_bytes(tmp_path):
    matrix = np.arange(12, dtype=np.float32).reshape(3, 4)
    header = json.dumps({"emb": {"dtype": "F32", "shape": [3, 4], "data_offsets": [0, 48]}}).encode()
    (tmp_path / "m.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + matrix.tobytes())
    np.testing.assert_array_equal(read_safetensors_matrix(tmp_path / "m.safetensors"), matrix)
    (tmp_path / "bad.safetensors").write_bytes(b"\x05")
    with pytest.raises(ModelFileError):
        read_safetensors_matrix(tmp_path / "bad.safetensors")


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigurationError):
        StaticEmbedding.from_directory(tmp_path / "absent")
    with pytest.raises(ModelFileError):
        StaticEmbedding.from_directory(tmp_path)  # empty: no tokenizer, no weights


def test_linear_model_with_embeddings_persists_to_identical_scores(model_dir):
    texts = ["chef", "head cook", "pastry cook", "nurse", "staff nurse", "midwife", "truck driver", "bus driver",
             "lorry driver"] * 3
    codes = ["5120", "5120", "5120", "2221", "2221", "2222", "8332", "8331", "8332"] * 3
    model = LinearTextCoder(embedding_dir=str(model_dir)).fit(texts, codes)
    assert model.features_.n_features_out_ == model.coef_.shape[1]
    assert model.feature_names()[-1] == "e:255"
    state, arrays, _ = model.to_state()
    state = json.loads(json.dumps(state))
    again = LinearTextCoder.from_state(state, arrays)
    queries = ["sous chef", "night nurse", "delivery driver"]
    np.testing.assert_allclose(again.decision_function(queries), model.decision_function(queries), rtol=1e-6)
