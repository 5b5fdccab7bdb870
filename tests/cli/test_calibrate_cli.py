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
    same = runner.invoke(app, ["calibrate", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "sample.csv"),
                               "--text", "answer", "--code", "truth", "--out", str(tmp_path / "m")])
    assert same.exit_code == 2 and "new directory" in same.output
