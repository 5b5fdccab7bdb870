"""The combined check, the suspicious-records table and the HTML report (with given probabilities)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from statcoder.classifications import Classification
from statcoder.errors import InputError
from statcoder.quality.check import SUSPICIOUS_COLUMNS, check_training_data
from statcoder.quality.noise import detection_scores, inject_label_noise
from statcoder.quality.report import quality_report

CLASSES = ["1111", "1112", "2111"]
PROBA = np.array(
    [
        [0.9, 0.05, 0.05],
        [0.8, 0.1, 0.1],
        [0.7, 0.2, 0.1],
        [0.1, 0.8, 0.1],
        [0.1, 0.8, 0.1],
        [0.2, 0.7, 0.1],
        [0.1, 0.9, 0.0],
        [0.1, 0.1, 0.8],
        [0.0, 0.1, 0.9],
        [0.7, 0.1, 0.2],
    ]
)


@pytest.fixture()
def tree() -> Classification:
    return Classification.from_codes(["1111", "1112", "2111", "2112"], name="toy")


@pytest.fixture()
def frame() -> pd.DataFrame:
    codes = ["1111", "1111", "1111", "1111", "", "1112", "1112", "1112", "2111", "2111", "2111"]
    texts = [
        "Nurse", "nurse", "Nurse, ward", "Midwife", "no code here", "Midwife", "Midwife aide",
        "Midwife senior", "Cook", "Chef tel. 601 234 567", "Pani Anna Kowalska",
    ]
    return pd.DataFrame({"id": [f"r{i}" for i in range(11)], "text": texts, "code": codes,
                         "coder_b": codes[:4] + ["", "1112", "1111", "1112", "2111", "2112", "2111"]})


def test_check_and_suspicious_records(tree, frame):
    result = check_training_data(
        frame, text_columns=["text"], code_column="code", classification=tree, redact=True,
        coder_columns=["code", "coder_b"], proba=PROBA, classes=CLASSES,
    )
    assert result.n_records == 11 and result.n_without_code == 1
    # row positions refer to the input frame (row 4 has no code and was skipped)
    sus = result.suspicious_records()
    assert sus["id"].tolist() == ["r3", "r10"]
    assert sus["row_number"].tolist() == [4, 11]
    assert sus["suggested_code"].tolist() == ["1112", "1111"]
    assert sus["relation"].tolist() == ["same_group", "across_groups"]
    assert list(sus.columns) == [*frame.columns, *SUSPICIOUS_COLUMNS]
    # redaction touched the phone number and the name, and the suspicious rows carry redacted text
    assert result.pii.n_touched == 2
    assert sus.loc[1, "text"] == "Pani <<NAME>>"
    assert frame.loc[10, "text"] == "Pani Anna Kowalska"
    assert result.duplicates.n_conflicting_texts == 1  # "Midwife": 1111 and 1112; "Nurse"/"nurse" agree
    assert result.duplicates.conflict_pairs[["code_a", "code_b"]].values.tolist() == [["1111", "1112"]]
    assert result.duplicates.n_normalised_duplicates == 2  # nurse, midwife
    assert result.coverage.per_level.set_index("level").loc[4, "n_missing"] == 1  # 2112
    agreement = result.agreement.set_index("level")
    assert agreement.loc[4, "n_records"] == 10
    assert agreement.loc[4, "percent_agreement"] == pytest.approx(8 / 10)


def test_report_has_no_record_text(tree, frame, tmp_path):
    result = check_training_data(frame, text_columns=["text"], code_column="code", classification=tree,
                                 proba=PROBA, classes=CLASSES)
    path = quality_report(result).write(tmp_path / "report.html")
    html = path.read_text(encoding="utf-8")
    for section in ("Label issues", "Coverage of the classification", "Duplicates and conflicts", "Personal data"):
        assert section in html
    assert "<svg" in html and 'aria-label="' in html
    assert "Kowalska" not in html and "601 234" not in html and "Midwife" not in html


def test_bad_inputs(tree, frame):
    with pytest.raises(InputError):
        check_training_data(frame, text_columns=["nope"], code_column="code", classification=tree)
    with pytest.raises(InputError):
        check_training_data(frame, text_columns=["text"], code_column="code", classification=tree,
                            proba=PROBA[:5], classes=CLASSES)
    clash = frame.rename(columns={"id": "score"})
    result = check_training_data(clash, text_columns=["text"], code_column="code", classification=tree,
                                 proba=PROBA, classes=CLASSES)
    with pytest.raises(InputError):
        result.suspicious_records()


def test_inject_noise_uniform_and_within_group():
    tree = Classification.from_codes(["1111", "1112", "1113", "2111", "2112", "3111"], name="toy")
    codes = ["1111"] * 40 + ["1112"] * 30 + ["2111"] * 20 + ["2112"] * 10 + ["3111"] * 20
    noisy, flipped = inject_label_noise(codes, rate=0.1, mode="uniform", seed=1)
    assert flipped.sum() == 12
    assert all((a != b) == f for a, b, f in zip(codes, noisy, flipped))
    noisy, flipped = inject_label_noise(codes, rate=0.1, mode="within_group", classification=tree, seed=1)
    assert flipped.sum() == 12
    for a, b, f in zip(codes, noisy, flipped):
        if f:
            assert a != b and a[:3] == b[:3] and b in set(codes)  # same minor group, a code seen in the data
    assert not any(f for c, f in zip(codes, flipped) if c == "3111")  # 3111 has no sibling in the data
    with pytest.raises(InputError):
        inject_label_noise(["3111"] * 10, rate=0.5, mode="within_group", classification=tree)


def test_detection_scores():
    s = detection_scores(np.array([1, 1, 0, 0], bool), np.array([1, 0, 1, 0], bool))
    assert s["precision"] == 0.5 and s["recall"] == 0.5 and s["f1"] == 0.5
