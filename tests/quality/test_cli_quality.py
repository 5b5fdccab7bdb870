"""``statcoder quality`` end to end on a small hand-written data set (real models, no mocks)."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from statcoder.cli import app

RUNNER = CliRunner()

TITLES = {
    "2211": ["general practitioner", "family doctor", "medical doctor", "physician", "gp doctor"],
    "2221": ["nurse", "registered nurse", "ward nurse", "staff nurse", "nurse practitioner"],
    "5120": ["cook", "chef", "line cook", "kitchen chef", "head chef"],
    "7212": ["welder", "pipe welder", "tig welder", "mig welder", "arc welder"],
}


@pytest.fixture()
def files(tmp_path):
    classification = pd.DataFrame(
        [
            ("2", "Professionals", 1, ""), ("22", "Health professionals", 2, "2"),
            ("221", "Medical doctors", 3, "22"), ("2211", "Generalist medical practitioners", 4, "221"),
            ("222", "Nursing professionals", 3, "22"), ("2221", "Nursing professionals", 4, "222"),
            ("5", "Service workers", 1, ""), ("51", "Personal service workers", 2, "5"),
            ("512", "Cooks", 3, "51"), ("5120", "Cooks", 4, "512"),
            ("7", "Craft workers", 1, ""), ("72", "Metal trades", 2, "7"),
            ("721", "Welders", 3, "72"), ("7212", "Welders and flame cutters", 4, "721"),
            ("7213", "Sheet-metal workers", 4, "721"),
        ],
        columns=["code", "title", "level", "parent"],
    )
    rows = []
    for code, titles in TITLES.items():
        for k in range(4):
            for t in titles:
                rows.append({"id": f"{code}-{len(rows)}", "title": f"{t} {['', 'senior', 'junior', 'assistant'][k]}".strip(),
                             "employer": "", "code": code, "code_b": code})
    frame = pd.DataFrame(rows)
    # two planted label errors and a phone number / name in the free text
    frame.loc[0, "code"] = "5120"  # a "general practitioner" coded as cook
    frame.loc[25, "code"] = "7212"  # a nurse coded as welder
    frame.loc[3, "employer"] = "Pani Anna Kowalska, tel. 601 234 567"
    frame.loc[7, "code_b"] = "2221"
    cls_path = tmp_path / "isco.csv"
    data_path = tmp_path / "train.csv"
    shares_path = tmp_path / "shares.csv"
    classification.to_csv(cls_path, index=False)
    frame.to_csv(data_path, index=False)
    pd.DataFrame({"code": ["2211", "2221", "5120", "7212", "7213"], "share": [1, 2, 3, 2, 2]}).to_csv(shares_path, index=False)
    return cls_path, data_path, shares_path, frame


def test_quality_command_writes_report_and_suspicious(files, tmp_path):
    cls_path, data_path, shares_path, frame = files
    out = tmp_path / "out"
    result = RUNNER.invoke(
        app,
        ["quality", "--data", str(data_path), "--text", "title", "--text", "employer", "--code", "code",
         "--classification", str(cls_path), "--out", str(out), "--redact", "--coder-columns", "code,code_b",
         "--expected-shares", str(shares_path), "--cv-folds", "4"],
    )
    assert result.exit_code == 0, result.output
    assert "Kowalska" not in result.output and "601 234" not in result.output
    sus = pd.read_csv(out / "suspicious.csv", dtype=str, keep_default_na=False)
    assert set(frame.columns) <= set(sus.columns)
    assert {"suggested_code", "score", "row_number"} <= set(sus.columns)
    # both planted errors are found, with the right suggestion
    found = sus.set_index("id")
    assert found.loc[frame.loc[0, "id"], "suggested_code"] == "2211"
    assert found.loc[frame.loc[25, "id"], "suggested_code"] == "2221"
    scores = sus["score"].astype(float).tolist()
    assert scores == sorted(scores)  # most suspicious first
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Coder agreement" in html and "Coverage of the classification" in html
    assert "Kowalska" not in html
    # 7213 has no example: 20 % of the expected population
    assert "0.200" in html
    if frame.loc[3, "id"] in found.index:  # redacted text in the suspicious file
        assert "Kowalska" not in found.loc[frame.loc[3, "id"], "employer"]


def test_quality_command_user_errors(files, tmp_path):
    cls_path, data_path, _, _ = files
    bad = RUNNER.invoke(app, ["quality", "--data", str(data_path), "--text", "nope", "--code", "code",
                              "--classification", str(cls_path), "--out", str(tmp_path / "o")])
    assert bad.exit_code == 2
    assert "not found" in bad.output and "Traceback" not in bad.output
    one = RUNNER.invoke(app, ["quality", "--data", str(data_path), "--text", "title", "--code", "code",
                              "--classification", str(cls_path), "--out", str(tmp_path / "o"),
                              "--coder-columns", "code"])
    assert one.exit_code == 2 and "at least two" in one.output


def test_to_review_creates_quality_tasks_in_the_service_project(files, tmp_path, monkeypatch):
    from statcoder.service.context import ServiceContext
    from statcoder.service.projects import create_project
    from statcoder.service.review import list_tasks

    monkeypatch.setenv("STATCODER_DATA_DIR", str(tmp_path / "service"))
    monkeypatch.delenv("STATCODER_DATABASE_URL", raising=False)
    cls_path, data_path, _, _ = files
    ctx = ServiceContext()
    ctx.start()
    try:
        create_project(ctx, "lfs", name="LFS occupation", classification_csv=cls_path, actor="test")
    finally:
        ctx.close()
    out = tmp_path / "o"
    result = RUNNER.invoke(app, ["quality", "--data", str(data_path), "--text", "title", "--code", "code",
                                 "--classification", str(cls_path), "--out", str(out), "--to-review", "lfs"])
    assert result.exit_code == 0, result.output
    suspicious = pd.read_csv(out / "suspicious.csv", dtype=str, keep_default_na=False)
    assert "created" in result.output
    ctx = ServiceContext()
    ctx.start()
    try:
        tasks = list_tasks(ctx, "lfs", reason="quality", limit=1000)
    finally:
        ctx.close()
    assert len(tasks) == len(suspicious) > 0
    assert [t.predicted_code for t in tasks] == suspicious["suggested_code"].tolist()
    assert all(t.status == "open" and t.decision == "review" for t in tasks)


def test_to_review_unknown_project_fails_clearly(files, tmp_path, monkeypatch):
    monkeypatch.setenv("STATCODER_DATA_DIR", str(tmp_path / "service"))
    monkeypatch.delenv("STATCODER_DATABASE_URL", raising=False)
    cls_path, data_path, _, _ = files
    result = RUNNER.invoke(app, ["quality", "--data", str(data_path), "--text", "title", "--code", "code",
                                 "--classification", str(cls_path), "--out", str(tmp_path / "o"), "--to-review", "nope"])
    assert result.exit_code == 2
    assert "project 'nope' not found" in result.output


def test_quality_refuses_data_coded_in_another_classification_as_train_does(files, tmp_path):
    """Every code outside the classification: the same error and hint as train/evaluate, no report."""
    cls_path, _, _, frame = files
    other = frame.assign(code="A01.1")
    other.to_csv(tmp_path / "other.csv", index=False)
    common = ["--data", str(tmp_path / "other.csv"), "--text", "title", "--code", "code",
              "--classification", str(cls_path)]
    checked = RUNNER.invoke(app, ["quality", *common, "--out", str(tmp_path / "q")])
    trained = RUNNER.invoke(app, ["train", *common, "--out", str(tmp_path / "m")])
    assert checked.exit_code == trained.exit_code == 2, checked.output
    said = " ".join(checked.output.split())
    assert "none of the codes given is in" in said and "--classification" in said and "Traceback" not in said
    assert said.split("error:")[1].split("hint:")[0].strip() == (
        " ".join(trained.output.split()).split("error:")[1].split("hint:")[0].strip())
    assert not (tmp_path / "q" / "report.html").exists()


def test_quality_prints_how_many_rows_have_codes_not_in_the_classification(files, tmp_path):
    cls_path, _, _, frame = files
    some = frame.copy()
    some.loc[[1, 2, 30], "code"] = ["9999", "9999", "1234"]
    some.to_csv(tmp_path / "some.csv", index=False)
    result = RUNNER.invoke(app, ["quality", "--data", str(tmp_path / "some.csv"), "--text", "title", "--code", "code",
                                 "--classification", str(cls_path), "--out", str(tmp_path / "q"), "--cv-folds", "3"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert f"3 of {len(frame)} rows have a code not in" in said and "9999 (2), 1234 (1)" in said
