"""The training-data quality report on real job ads: the noise figure explained, and fit to read."""

from __future__ import annotations

import pandas as pd
import pytest
from reportcheck import check_report

from statcoder.classifications import Classification
from statcoder.quality.check import check_training_data
from statcoder.quality.report import quality_report


@pytest.fixture(scope="module")
def ojalab_result(shared_data):
    tree = Classification.from_csv(shared_data / "classifications" / "isco08.csv")
    ads = pd.read_csv(shared_data / "coding" / "ojalab_pl_job_ads.csv.gz", dtype=str, keep_default_na=False)
    ads = ads[ads["isco08"].map(lambda c: c in tree)].sample(1500, random_state=0).reset_index(drop=True)
    return check_training_data(ads, text_columns=["title"], code_column="isco08", classification=tree, n_splits=3)


def test_noise_is_shown_next_to_the_models_accuracy_and_explained(ojalab_result, tmp_path):
    issues = ojalab_result.label_issues
    assert 0 < issues.model_accuracy < 1
    html = quality_report(ojalab_result).write(tmp_path / "q.html").read_text()
    assert "model&#x27;s out-of-fold accuracy" in html or "model's out-of-fold accuracy" in html
    assert "It is not the coders&#x27; error rate" in html or "It is not the coders' error rate" in html
    assert "0.000</td>" not in html  # tiny probabilities read "< 0.001", not 0.000


def test_no_code_with_flagged_and_unflagged_records_is_estimated_all_noise(ojalab_result):
    per = ojalab_result.label_issues.per_code
    mixed = per[(per["n_flagged"] > 0) & (per["n_flagged"] < per["n_records"])]
    assert len(mixed) > 10
    assert (mixed["estimated_noise_rate"] < 1.0).all()


@pytest.mark.browser
def test_quality_report_fits_the_screen_and_has_no_raw_values(ojalab_result, tmp_path):
    path = quality_report(ojalab_result).write(tmp_path / "quality.html")
    check_report(path, tmp_path / "shots")
