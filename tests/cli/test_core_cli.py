import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from statcoder.cli import app

runner = CliRunner()


def test_classification_check_summary(shared_data):
    result = runner.invoke(app, ["classification", "check", str(shared_data / "classifications" / "isco08.csv")])
    assert result.exit_code == 0, result.output
    assert "619 codes" in result.output and "436" in result.output


def test_classification_check_lists_problems(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("code,title,level,parent\n1,A,1,\n11,B,2,1\n11,C,2,1\n12,D,2,9\n")
    result = runner.invoke(app, ["classification", "check", str(path)])
    assert result.exit_code == 1
    assert f"{path}:4: duplicate code '11'" in result.output.replace("\n", "")
    assert "parent '9'" in result.output


@pytest.fixture(scope="module")
def small_training(shared_data, tmp_path_factory):
    frame = pd.read_csv(shared_data / "coding" / "ilo_isco08_index.csv", dtype=str, keep_default_na=False)
    frame = frame[frame["code"].str.startswith(("72", "22"))].reset_index(drop=True)
    folder = tmp_path_factory.mktemp("cli")
    frame.to_csv(folder / "train.csv", index=False)
    return folder, frame


def test_train_code_round_trip(small_training, shared_data):
    folder, _frame = small_training
    model = folder / "model"
    result = runner.invoke(app, ["train", "--data", str(folder / "train.csv"), "--text", "text", "--code", "code",
                                 "--classification", str(shared_data / "classifications" / "isco08.csv"),
                                 "--out", str(model), "--cv-folds", "3"])
    assert result.exit_code == 0, result.output
    assert (model / "model.json").is_file() and "held-out" in result.output
    pd.DataFrame({"id": ["7", "8"], "text": ["pipe welder", "nurse"]}).to_parquet(folder / "new.parquet")
    result = runner.invoke(app, ["code", "--model", str(model), "--data", str(folder / "new.parquet"),
                                 "--out", str(folder / "out.xlsx"), "--top-k", "2"])
    assert result.exit_code == 0, result.output
    out = pd.read_excel(folder / "out.xlsx", dtype=str)
    assert out["id"].tolist() == ["7", "8"]
    assert len(json.loads(out.loc[0, "candidates"])) == 2
    assert out["model_version"].str.startswith("m-").all()


def test_code_prefix_hierarchy(small_training):
    folder, _ = small_training
    result = runner.invoke(app, ["train", "--data", str(folder / "train.csv"), "--code", "code",
                                 "--code-prefix-hierarchy", "--out", str(folder / "m2"), "--cv-folds", "2"])
    assert result.exit_code == 0, result.output
    card = json.loads((folder / "m2" / "model.json").read_text())
    assert card["classification"]["depth"] == 4


def test_missing_column_is_a_clear_error(small_training, shared_data):
    folder, _ = small_training
    result = runner.invoke(app, ["train", "--data", str(folder / "train.csv"), "--text", "job_title", "--code", "code",
                                 "--classification", str(shared_data / "classifications" / "isco08.csv"),
                                 "--out", str(folder / "m3")])
    assert result.exit_code == 2
    assert "error: text column(s) 'job_title' not found" in result.output
    assert "hint: the columns are: text, code" in result.output
    assert "Traceback" not in result.output


def test_unknown_codes_exit_2_with_rows(tmp_path, shared_data):
    path = tmp_path / "t.csv"
    pd.DataFrame({"text": ["a", "b", "c"], "code": ["2512", "99", "2513"]}).to_csv(path, index=False)
    result = runner.invoke(app, ["train", "--data", str(path), "--code", "code", "--out", str(tmp_path / "m"),
                                 "--classification", str(shared_data / "classifications" / "isco08.csv")])
    assert result.exit_code == 2
    assert "not in isco08" in result.output and "row 3" in result.output


def test_bad_model_dir_exit_2(tmp_path):
    (tmp_path / "in.csv").write_text("text\nx\n")
    result = runner.invoke(app, ["code", "--model", str(tmp_path / "none"), "--data", str(tmp_path / "in.csv"),
                                 "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 2 and "model directory not found" in result.output


def test_train_options_for_extra_text_and_model_choice_reach_the_card(small_training, shared_data):
    """--no-titles, --note-column and --select-model change what is trained and are recorded in the card."""
    import json

    folder, frame = small_training
    isco = str(shared_data / "classifications" / "isco08.csv")
    base = ["train", "--data", str(folder / "train.csv"), "--code", "code", "--classification", isco, "--cv-folds", "2"]
    cards = {}
    for name, extra in (("plain", ["--no-titles"]), ("notes", ["--note-column", "includes", "--select-model"])):
        result = runner.invoke(app, [*base, *extra, "--out", str(folder / name)])
        assert result.exit_code == 0, result.output
        cards[name] = json.loads((folder / name / "model.json").read_text())
        output = " ".join(result.output.split())
        if name == "notes":  # the summary says what was chosen, with each candidate's validation figure
            chosen = cards[name]["model_selection"]
            assert "--select-model: chose " in output and "the default model" in output and "C = " in output
            top = chosen["validation_top1"][chosen["chosen"]]
            assert f"{top:.3f}" in output
        else:
            assert "--select-model" not in output
    plain, notes = cards["plain"]["model_selection"], cards["notes"]["model_selection"]
    assert "title_examples" not in plain and "extra_examples" not in plain and "candidates" not in plain
    n_codes = frame["code"].nunique()
    assert 0 < notes["title_examples"] <= n_codes and notes["extra_examples"] > n_codes  # several includes per code
    assert len(notes["candidates"]) >= 2
    refused = runner.invoke(app, [*base[:5], "--note-column", "includes", "--code-prefix-hierarchy",
                                  "--out", str(folder / "x")])
    assert refused.exit_code != 0 and "--note-column needs --classification" in " ".join(refused.output.split())


def test_head_weight_option_reaches_the_card_and_is_checked(small_training, shared_data):
    """--head-weight W trains the head block and is recorded; a bad weight or the fastText backend is refused."""
    folder, frame = small_training
    ads = frame.assign(text=[f"{t}\nOpis: {t} w firmie" for t in frame["text"]])
    ads.to_csv(folder / "ads.csv", index=False)
    base = ["train", "--data", str(folder / "ads.csv"), "--code", "code", "--classification",
            str(shared_data / "classifications" / "isco08.csv"), "--cv-folds", "2"]
    result = runner.invoke(app, [*base, "--head-weight", "1.5", "--out", str(folder / "headed")])
    assert result.exit_code == 0, result.output
    assert json.loads((folder / "headed" / "model.json").read_text())["head_weight"] == 1.5
    assert "head block: weight 1.5" in result.output
    short = runner.invoke(app, ["train", "--data", str(folder / "train.csv"), *base[3:], "--head-weight", "1",
                                "--out", str(folder / "short")])
    assert short.exit_code == 0 and "no training text has a head" in " ".join(short.output.split())
    for extra in (["--head-weight", "-1"], ["--head-weight", "1", "--backend", "fasttext"]):
        refused = runner.invoke(app, [*base, *extra, "--out", str(folder / "x")])
        assert refused.exit_code == 2, refused.output
        assert "head" in " ".join(refused.output.split())
