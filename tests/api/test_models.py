"""Model registry: upload, immutability, tamper and classification checks, promote, roll back."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

from apikit import error_code

from statcoder.coder import Coder


def zipped(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                zf.write(path, Path("model") / path.relative_to(directory))
    return buffer.getvalue()


def upload(client, tenant, data: bytes, name: str = "model.zip"):
    return client.post(f"/v1/projects/{tenant.id}/models", files={"file": (name, data)},
                       headers=tenant.headers("admin"))


def code_version(client, tenant) -> str:
    r = client.post(f"/v1/projects/{tenant.id}/code", json={"records": [{"text": "baker"}]},
                    headers=tenant.headers("code"))
    return r.json()["model_version"]


def test_upload_promote_hot_swap_and_rollback(client, tenant, model_dir, second_model_dir):
    first = Coder.load(model_dir).version
    second = Coder.load(second_model_dir).version
    assert first != second
    r = upload(client, tenant, zipped(second_model_dir))
    assert r.status_code == 201 and r.json()["version"] == second and r.json()["active"] is False
    assert r.json()["card"]["classification"]["fingerprint"]
    again = upload(client, tenant, zipped(second_model_dir))
    assert again.status_code == 409  # versions are immutable: same content, same version
    listed = client.get(f"/v1/projects/{tenant.id}/models", headers=tenant.headers("code")).json()
    assert listed["active_version"] == first and [m["version"] for m in listed["models"]] == [first, second]

    assert code_version(client, tenant) == first
    r = client.post(f"/v1/projects/{tenant.id}/models/{second}/promote", headers=tenant.headers("admin"))
    assert r.status_code == 200 and r.json()["active_model_version"] == second
    assert code_version(client, tenant) == second  # hot swap, no restart
    r = client.post(f"/v1/projects/{tenant.id}/models/rollback", headers=tenant.headers("admin"))
    assert r.json()["active_model_version"] == first
    assert code_version(client, tenant) == first
    r = client.post(f"/v1/projects/{tenant.id}/models/rollback", headers=tenant.headers("admin"))
    assert r.status_code == 409 and error_code(r) == "conflict"  # the first promotion has nothing before it

    events = client.get(f"/v1/projects/{tenant.id}/audit", headers=tenant.headers("admin")).json()["events"]
    actions = [(e["action"], e["target"]) for e in events]
    assert actions[:3] == [("model.rollback", first), ("model.promote", second), ("model.add", second)]
    assert events[0]["actor"] == f"key:{tenant.key_ids['admin']}"
    assert events[0]["details"] == {"from": second, "to": first}


def test_model_of_another_classification_is_refused(client, tenant, foreign_model_dir):
    r = upload(client, tenant, zipped(foreign_model_dir))
    assert r.status_code == 422 and error_code(r) == "classification_mismatch"


def test_tampered_or_malformed_uploads_are_refused(client, tenant, second_model_dir, tmp_path):
    tampered = tmp_path / "tampered"
    shutil.copytree(second_model_dir, tampered)
    card = json.loads((tampered / "model.json").read_text())
    weights = [p for p in tampered.rglob("*") if p.is_file() and p.name != "model.json"]
    target = max(weights, key=lambda p: p.stat().st_size)
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    r = upload(client, tenant, zipped(tampered))
    assert r.status_code == 422 and error_code(r) == "invalid_model"
    assert card  # the card itself was left alone
    assert error_code(upload(client, tenant, b"not an archive")) == "invalid_model"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("../escape/model.json", "{}")
    r = upload(client, tenant, buffer.getvalue())
    assert r.status_code == 422 and error_code(r) == "invalid_model"
    assert not (tmp_path.parent / "escape").exists()


def test_unknown_version_is_404(client, tenant):
    r = client.post(f"/v1/projects/{tenant.id}/models/m-000000000000/promote", headers=tenant.headers("admin"))
    assert r.status_code == 404 and error_code(r) == "not_found"


def test_train_a_model_through_the_api(client, tenant):
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "service"))
    from kit import WORDS, labelled_frame

    frame = labelled_frame(WORDS, per_code=15, seed=7)
    r = client.post(f"/v1/projects/{tenant.id}/models/train", headers=tenant.headers("admin"),
                    files={"file": ("train.csv", frame.to_csv(index=False).encode())},
                    data={"text_columns": "text", "code_column": "code"})
    assert r.status_code == 201, r.text
    assert r.json()["source"] == "train" and r.json()["active"] is False
    bad = client.post(f"/v1/projects/{tenant.id}/models/train", headers=tenant.headers("admin"),
                      files={"file": ("train.csv", b"text,code\nbaker,99\n")},
                      data={"text_columns": "text", "code_column": "code"})
    assert 400 <= bad.status_code < 500


def _recrafted(directory: Path, **changes) -> None:
    """Rewrite a model card with ``changes`` and a matching content hash (the hash is no signature)."""
    from statcoder.models.persistence import card_hash

    card = json.loads((directory / "model.json").read_text())
    card.update(changes)
    card["content_hash"] = card_hash(card)
    (directory / "model.json").write_text(json.dumps(card))


def test_a_card_naming_files_outside_the_model_cannot_probe_the_server(client, tenant, second_model_dir, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("server file")
    for name in (str(secret), "../secret.txt", "sub/../../secret.txt"):
        crafted = tmp_path / f"crafted-{abs(hash(name))}"
        shutil.copytree(second_model_dir, crafted)
        files = json.loads((crafted / "model.json").read_text())["files"]
        _recrafted(crafted, files={**files, name: "0" * 64})
        r = upload(client, tenant, zipped(crafted))
        assert r.status_code == 422 and error_code(r) == "invalid_model", r.text
        assert "not plain names" in r.json()["error"]["message"] and "secret" not in r.text


def test_an_over_large_json_file_is_refused_before_it_is_parsed(client, tenant, second_model_dir, tmp_path, monkeypatch):
    from statcoder.models import persistence

    monkeypatch.setattr(persistence, "MAX_JSON_BYTES", 1_000)  # the real limit is 64 MB; the card alone is ~3 kB
    r = upload(client, tenant, zipped(second_model_dir))
    assert r.status_code == 422 and "limited to 1,000 bytes" in r.json()["error"]["message"], r.text


def test_a_zip_member_longer_than_its_header_says_is_a_clear_4xx(client, tenant, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("model/model.json", b"x" * 200_000)
    data = bytearray(buffer.getvalue())
    # the local header and the central directory both say 1,000 bytes uncompressed
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.infolist()[0]
    import struct

    central = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 1000)
    struct.pack_into("<I", data, info.header_offset + 22, 1000)
    r = upload(client, tenant, bytes(data))
    assert r.status_code == 422 and error_code(r) == "invalid_model", r.text
    assert "does not match its header" in r.json()["error"]["message"]


def test_hash_checked_files_that_hold_no_model_are_a_clear_4xx(client, tenant, second_model_dir, tmp_path):
    from statcoder.models.persistence import sha256_file

    crafted = tmp_path / "crafted"
    shutil.copytree(second_model_dir, crafted)
    state = json.loads((crafted / "model_state.json").read_text())
    state["classes"] = "SECRETX"
    (crafted / "model_state.json").write_text(json.dumps(state))
    files = json.loads((crafted / "model.json").read_text())["files"]
    _recrafted(crafted, files={**files, "model_state.json": sha256_file(crafted / "model_state.json")})
    r = upload(client, tenant, zipped(crafted))
    assert r.status_code == 422 and error_code(r) == "invalid_model", r.text
    assert "SECRETX" not in r.text


def test_deeply_nested_json_in_a_model_is_a_clear_4xx(client, tenant, second_model_dir, tmp_path):
    from statcoder.models.persistence import sha256_file

    deep = "[" * 100_000 + "]" * 100_000
    crafted = tmp_path / "deep-state"
    shutil.copytree(second_model_dir, crafted)
    (crafted / "classification.json").write_text(deep)
    files = json.loads((crafted / "model.json").read_text())["files"]
    _recrafted(crafted, files={**files, "classification.json": sha256_file(crafted / "classification.json")})
    card = tmp_path / "deep-card"
    shutil.copytree(second_model_dir, card)
    (card / "model.json").write_text(deep)
    for folder in (crafted, card):
        r = upload(client, tenant, zipped(folder))
        assert r.status_code == 422 and error_code(r) == "invalid_model", r.text
        assert "nested too deeply" in r.json()["error"]["message"]
