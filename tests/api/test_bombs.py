"""Decompression bombs are refused from their declared sizes, before any large allocation or write."""

from __future__ import annotations

import io
import json
import shutil
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from apikit import error_code

from statcoder.io.archive_limits import ArchiveLimits, ArchiveTooLargeError, check_npz, check_zip
from statcoder.models.persistence import card_hash, sha256_file

MB = 1 << 20


def _zeros_member(zf: zipfile.ZipFile, name: str, size: int, header: bytes = b"") -> None:
    """Write ``header`` then ``size`` zero bytes as a deflated member, 1 MB at a time."""
    block = bytes(MB)
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with zf.open(info, "w", force_zip64=True) as out:
        out.write(header)
        for _ in range(size // MB):
            out.write(block)


def _npy_header(shape: tuple[int, ...], dtype: str = "<f8") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def _bomb_model(model_dir: Path, target: Path, *, declared: tuple[int, ...], stored_mb: int) -> Path:
    """A copy of a real model whose weights.npz holds a crafted array; card hashes recomputed,
    so only the size checks stand between the upload and numpy."""
    shutil.copytree(model_dir, target)
    weights = target / "weights.npz"
    weights.unlink()
    with zipfile.ZipFile(weights, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        _zeros_member(zf, "coef.npy", stored_mb * MB, _npy_header(declared))
    card = json.loads((target / "model.json").read_text())
    card["files"]["weights.npz"] = sha256_file(weights)
    card["content_hash"] = card_hash(card)
    (target / "model.json").write_text(json.dumps(card))
    return target


def _zip_dir(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(directory.iterdir()):
            zf.write(path, f"model/{path.name}")
    return buffer.getvalue()


def _peak_bytes(call) -> tuple[object, int]:
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _upload(client, tenant, data: bytes):
    return client.post(f"/v1/projects/{tenant.id}/models", headers=tenant.headers("admin"),
                       files={"file": ("model.zip", data)})


def test_a_weights_array_declaring_gigabytes_is_refused_before_numpy_allocates(client, tenant, model_dir, tmp_path):
    # 2 GiB declared by the .npy header, 1 MB of zeros stored: numpy would allocate the 2 GiB first.
    bomb = _bomb_model(model_dir, tmp_path / "bomb", declared=(1 << 28,), stored_mb=1)
    r, peak = _peak_bytes(lambda: _upload(client, tenant, _zip_dir(bomb)))
    assert r.status_code == 422 and error_code(r) == "invalid_model", r.text
    assert peak < 50 * MB, peak


def test_a_weights_array_that_decompresses_past_the_model_limit_is_refused(tmp_path, model_dir, limited_client):
    client, tenant = limited_client  # max_model_bytes = 20 MB
    # 64 MB of float64 zeros, honestly declared, stored in ~64 kB: past the limit without being read.
    bomb = _bomb_model(model_dir, tmp_path / "bomb", declared=(8 * MB,), stored_mb=64)
    r, peak = _peak_bytes(lambda: _upload(client, tenant, _zip_dir(bomb)))
    assert r.status_code == 422 and error_code(r) == "invalid_model", r.text
    assert "weights.npz" in r.json()["error"]["message"]
    assert peak < 30 * MB, peak


def test_a_zip_member_bomb_is_refused_before_anything_is_written(limited_client, tmp_path):
    client, tenant = limited_client
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("model/model.json", "{}")
        _zeros_member(zf, "model/weights.npz", 64 * MB)
    data_dir = client.app.state.context.data_dir
    r, peak = _peak_bytes(lambda: _upload(client, tenant, buffer.getvalue()))
    assert r.status_code == 413 and error_code(r) == "payload_too_large", r.text
    assert peak < 30 * MB, peak
    written = [p for p in data_dir.rglob("*") if p.is_file() and p.stat().st_size > MB]
    assert written == []  # nothing unpacked to disk


def test_an_xlsx_training_file_bomb_is_refused(limited_client):
    client, tenant = limited_client
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        _zeros_member(zf, "xl/worksheets/sheet1.xml", 64 * MB)
    r = client.post(f"/v1/projects/{tenant.id}/models/train", headers=tenant.headers("admin"),
                    files={"file": ("train.xlsx", buffer.getvalue())})
    assert r.status_code == 413 and error_code(r) == "archive_too_large", r.text


def test_check_functions_read_only_the_declarations(tmp_path):
    path = tmp_path / "w.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        _zeros_member(zf, "a.npy", 0, _npy_header((1 << 30,)))  # 8 GiB declared, nothing stored
    from statcoder.errors import ModelFileError

    with pytest.raises(ModelFileError, match="declares more data"):
        check_npz(path)
    ok = tmp_path / "ok.npz"
    np.savez(ok, a=np.arange(10.0), b=np.zeros((3, 4), dtype=np.int32))
    assert check_npz(ok) == 80 + 48
    with pytest.raises(ArchiveTooLargeError):
        check_zip(ok, ArchiveLimits(max_total_bytes=100))
    obj = tmp_path / "obj.npz"
    np.savez(obj, a=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ModelFileError, match="pickle"):
        check_npz(obj)


@pytest.fixture
def limited_client(settings, tmp_path, model_dir):
    from apikit import make_tenant
    from fastapi.testclient import TestClient

    from statcoder.api.app import create_app

    limited = settings.model_copy(update={"max_model_bytes": 20 * MB, "max_upload_bytes": 100 * MB})
    with TestClient(create_app(limited, start_worker=False), raise_server_exceptions=False) as client:
        yield client, make_tenant(client.app.state.context, "alpha", tmp_path / "cls-a", model_dir)
