"""``statcoder calibrate``: a new model version whose card says which data the promise refers to."""

import pandas as pd
from typer.testing import CliRunner

from statcoder import Coder
from statcoder.cli import app

runner = CliRunner()


def test_calibrate_writes_a_new_model(shared_data, tmp_path):
    frame = pd.read_csv(shared_data / "coding" / "ilo_isco08_index.csv", dtype=str, keep_default_na=False)
    frame = frame[frame["code"].str.startswith(("72", "22", "51", "93", "83"))].sample(frac=1.0, random_state=0)
    train_part, sample = frame.iloc[:600], frame.iloc[600:].rename(columns={"text": "answer", "code": "truth"})
    train_part.to_csv(tmp_path / "train.csv", index=False)
    sample.to_csv(tmp_path / "sample.csv", index=False)
    isco = str(shared_data / "classifications" / "isco08.csv")
    result = runner.invoke(app, ["train", "--data", str(tmp_path / "train.csv"), "--code", "code", "--classification",
                                 isco, "--out", str(tmp_path / "m"), "--cv-folds", "3"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["calibrate", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "sample.csv"),
                                 "--text", "answer", "--code", "truth", "--out", str(tmp_path / "m2"),
                                 "--source", "survey answers 2026 Q1"])
    assert result.exit_code == 0, result.output
    assert "recalibrated" in result.output
    old, new = Coder.load(tmp_path / "m"), Coder.load(tmp_path / "m2")
    assert new.version != old.version
    ref = new.card.calibration_data
    assert ref.source == "survey answers 2026 Q1" and ref.n == len(sample) and ref.target_population
    assert len(ref.fingerprint) == 64
    # same weights: the best code per text is unchanged, only calibration and thresholds moved
    probe = ["welder", "nurse", "shop assistant"]
    assert (new.predict_proba(probe).argmax(1) == old.predict_proba(probe).argmax(1)).all()

    bad = runner.invoke(app, ["calibrate", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "sample.csv"),
                              "--text", "answer", "--code", "nope", "--out", str(tmp_path / "m3")])
    assert bad.exit_code == 2 and "code column 'nope' not found" in bad.output
    # --text is comma-separated as in every command: each column is looked up on its own
    listed = runner.invoke(app, ["calibrate", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "sample.csv"),
                                 "--text", "answer,sector", "--code", "truth", "--out", str(tmp_path / "m3")])
    assert listed.exit_code == 2 and "text column(s) 'sector' not found" in " ".join(listed.output.split())
    same = runner.invoke(app, ["calibrate", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "sample.csv"),
                               "--text", "answer", "--code", "truth", "--out", str(tmp_path / "m")])
    assert same.exit_code == 2 and "new directory" in same.output

    # an existing file or a directory of other files at --out is refused before any work, untouched
    (tmp_path / "notes.txt").write_text("keep me", encoding="utf-8")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "important.txt").write_text("keep me too", encoding="utf-8")
    for target in ("notes.txt", "mine"):
        refused = runner.invoke(app, ["calibrate", "--model", str(tmp_path / "m"), "--data",
                                      str(tmp_path / "sample.csv"), "--text", "answer", "--code", "truth",
                                      "--out", str(tmp_path / target)])
        assert refused.exit_code == 2 and "would delete it" in refused.output, refused.output
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "keep me"
    assert (tmp_path / "mine" / "important.txt").read_text(encoding="utf-8") == "keep me too"
    refused = runner.invoke(app, ["train", "--data", str(tmp_path / "train.csv"), "--code", "code",
                                  "--classification", isco, "--out", str(tmp_path / "mine"), "--cv-folds", "3"])
    assert refused.exit_code == 2 and "would delete it" in refused.output
    # an existing model directory is replaced; a model directory gets the umask's mode, like other outputs
    assert runner.invoke(app, ["calibrate", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "sample.csv"),
                               "--text", "answer", "--code", "truth", "--out", str(tmp_path / "m2")]).exit_code == 0
    assert (tmp_path / "m2").stat().st_mode & 0o777 == 0o777 & ~_umask()

    # a Latin-1 sample with --encoding, as every command that reads data; rows without a code are reported
    latin = sample.assign(answer=sample["answer"] + " café").copy()
    latin.loc[latin.index[:3], "truth"] = ""
    latin.to_csv(tmp_path / "latin.csv", index=False, encoding="latin-1")
    result = runner.invoke(app, ["calibrate", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "latin.csv"),
                                 "--text", "answer", "--code", "truth", "--out", str(tmp_path / "m4"),
                                 "--encoding", "latin-1"])
    assert result.exit_code == 0, result.output
    assert "3 record(s)" in result.output and "without a code" in result.output
    assert Coder.load(tmp_path / "m4").card.calibration_data.n == len(sample) - 3


def _umask() -> int:
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_calibrating_on_the_training_data_warns_and_a_wrong_classification_says_so(shared_data, tmp_path):
    import warnings

    from statcoder.coder.coder import SameDataCalibrationWarning
    from statcoder.errors import InputError

    frame = pd.read_csv(shared_data / "coding" / "ilo_isco08_index.csv", dtype=str, keep_default_na=False)
    frame = frame[frame["code"].str.startswith(("72", "22", "51"))].iloc[:400]
    from statcoder import Classification, train

    isco = Classification.from_csv(shared_data / "classifications" / "isco08.csv", name="ISCO-08", version="2008")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coder = train(frame, text_columns=["text"], code_column="code", classification=isco, cv_folds=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        coder.recalibrate(frame["text"].tolist(), frame["code"].tolist(), source="the training file")
    assert any(issubclass(w.category, SameDataCalibrationWarning) for w in caught)
    naics = ["111120"] * 300 + frame["code"].tolist()[:100]
    try:
        coder.recalibrate(frame["text"].tolist(), naics, source="naics.csv")
    except InputError as exc:
        assert "300 of 400 record(s)" in exc.message and "first at record 1" in exc.message
        assert "naics.csv" in exc.where and "ISCO-08" in exc.hint
    else:
        raise AssertionError("codes of another classification were accepted")
