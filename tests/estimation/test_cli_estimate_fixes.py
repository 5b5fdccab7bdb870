"""Fixes from a new-user tryout of ``statcoder estimate``: rare codes in coded-shares, negative
corrected shares in the report, --level beyond the classification, method names in any case,
list-valued column options, CV/deff formatting, file rows and --encoding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from statcoder.cli import app
from statcoder.errors import EstimationError, InputError
from statcoder.estimation.coded_shares import coded_share_areas
from statcoder.estimation.columns import file_rows
from statcoder.estimation.fay_herriot import FayHerriot, independent_columns

runner = CliRunner()

TREE = (
    "code,title,level,parent\n1,One,1,\n2,Two,1,\n11,One-one,2,1\n22,Two-two,2,2\n"
    "111,a,3,11\n221,b,3,22\n1111,x,4,111\n1112,y,4,111\n2211,z,4,221\n"
)


def _rare_codes(areas: int = 5, seed: int = 2) -> pd.DataFrame:
    """Full-depth codes, most of them rare: many are never machine-coded in an area."""
    rng = np.random.default_rng(seed)
    codes = [f"{i:04d}" for i in range(1000, 1400)]
    p = rng.dirichlet(np.ones(len(codes)) * 0.1)
    frames = []
    for a in range(areas):
        truth = rng.choice(codes, size=200, p=p)
        machine = np.where(rng.random(200) < 0.8, truth, rng.choice(codes, size=200, p=p))
        audit = np.full(200, "", dtype=object)
        audit[:40] = truth[:40]
        frames.append(
            pd.DataFrame({"region": f"r{a}", "predicted_code": machine, "audit_code": audit})
        )
    return pd.concat(frames, ignore_index=True)


# ---- 1. coded-shares with rare codes ------------------------------------------------------


def test_rare_full_depth_codes_are_estimated_with_the_degenerate_covariate_left_out() -> None:
    # this data made the Fay-Herriot design matrix singular (LinAlgError) before
    table = coded_share_areas(
        _rare_codes(), predicted="predicted_code", audit="audit_code", area="region"
    )
    assert set(table["kind"]) <= {"eblup", "synthetic", "exact", "direct", "none"}
    reduced = table[table["note"].str.contains("naive left out", regex=False)]
    assert len(reduced) > 0 and (reduced["kind"] == "eblup").all()
    assert table["estimate"].between(0, 1).all()


def test_coded_shares_command_on_rare_codes_and_twenty_areas(tmp_path) -> None:
    path, out = tmp_path / "coded.csv", tmp_path / "cshares.csv"
    _rare_codes(areas=20, seed=5).to_csv(path, index=False)
    result = runner.invoke(
        app,
        ["estimate", "coded-shares", "--data", str(path), "--area", "region",
         "--min-audit", "30", "--method", "reml", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "REML" in result.output and "Traceback" not in result.output
    assert "note" in pd.read_csv(out).columns


def test_code_without_a_fittable_model_keeps_direct_shares_with_a_note() -> None:
    # one audited area cannot fit a coefficient and a variance
    data = _rare_codes(areas=2)
    data.loc[data["region"] == "r1", "audit_code"] = ""
    table = coded_share_areas(data, predicted="predicted_code", audit="audit_code", area="region")
    assert set(table.loc[table["area"] == "r0", "kind"]) == {"direct"}
    assert set(table.loc[table["area"] == "r1", "kind"]) == {"none"}
    assert table.loc[table["area"] == "r1", "estimate"].isna().all()
    assert table["note"].str.startswith("Fay-Herriot model not fitted").all()


def test_no_area_with_an_audit_is_a_clear_input_error() -> None:
    data = _rare_codes(areas=3)
    data["audit_code"] = ""
    with pytest.raises(InputError, match="no area has 2 or more audited records"):
        coded_share_areas(data, predicted="predicted_code", audit="audit_code", area="region")


def test_fay_herriot_names_a_constant_covariate() -> None:
    x = np.column_stack([np.ones(6), np.zeros(6), np.arange(6.0)])
    with pytest.raises(EstimationError, match="naive is constant"):
        FayHerriot().fit(
            x, np.arange(6.0), np.full(6, 0.5), covariate_names=["(intercept)", "naive", "size"]
        )
    assert independent_columns(x) == [0, 2]
    assert independent_columns(np.column_stack([np.ones(4), np.arange(4.0), 2 * np.arange(4.0)])) == [0, 1]


# ---- 2. negative corrected shares in the report ----------------------------------------------


def _over_coded(path) -> None:
    """Code 1112 is machine-coded twice but both audited ones are 1111: corrected share < 0."""
    pd.DataFrame(
        {
            "predicted_code": ["1112", "1112", "1111", "1111", "1111"] + ["1111"] * 5,
            "audit_code": ["1111"] * 5 + [""] * 5,
        }
    ).to_csv(path, index=False)


def test_report_of_negative_corrected_shares(tmp_path) -> None:
    path, out, html = tmp_path / "coded.csv", tmp_path / "shares.csv", tmp_path / "shares.html"
    _over_coded(path)
    tree = tmp_path / "tree.csv"
    tree.write_text(TREE, encoding="utf-8")
    result = runner.invoke(
        app,
        ["estimate", "coding-correction", "--data", str(path), "--classification", str(tree),
         "--level", "1", "--level", "4", "--out", str(out), "--report", str(html)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, dtype={"code": str}).set_index(["level", "code"])
    assert table.loc[(4, "1112"), "estimate"] == pytest.approx(0.2 - 0.4)  # unbiased, not clipped
    text = html.read_text(encoding="utf-8")
    assert "not distinguishable from 0" in text
    assert "not distinguishable from 0" in result.output


def test_a_failing_report_leaves_no_new_table(tmp_path, monkeypatch) -> None:
    from statcoder.estimation import report

    path, out, html = tmp_path / "coded.csv", tmp_path / "shares.csv", tmp_path / "shares.html"
    _over_coded(path)

    def broken(*args, **kwargs):
        raise RuntimeError("drawing failed")

    monkeypatch.setattr(report, "coding_correction_report", broken)
    result = runner.invoke(
        app,
        ["estimate", "coding-correction", "--data", str(path), "--out", str(out),
         "--report", str(html)],
    )  # fmt: skip
    assert result.exit_code != 0
    assert not out.exists() and not html.exists()


def test_interval_figure_draws_an_estimate_outside_its_clipped_interval() -> None:
    from statcoder.estimation.report import _interval_figure

    fig = _interval_figure(["a", "b"], [-0.2, 0.5], [0.0, 0.4], [0.1, 0.6], xlabel="share")
    assert fig.axes[0].get_xlim()[0] <= -0.2


# ---- 3. --level beyond the classification ------------------------------------------------------


def test_level_deeper_than_the_classification_is_refused(tmp_path) -> None:
    path, tree = tmp_path / "coded.csv", tmp_path / "tree.csv"
    _over_coded(path)
    tree.write_text(TREE, encoding="utf-8")
    result = runner.invoke(
        app,
        ["estimate", "coding-correction", "--data", str(path), "--classification", str(tree),
         "--level", "5", "--out", str(tmp_path / "s.csv")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "level 5 does not exist" in result.output and "4 level(s)" in result.output
    assert "--level" in result.output
    assert not (tmp_path / "s.csv").exists()
    listed = runner.invoke(
        app,
        ["estimate", "coding-correction", "--data", str(path), "--classification", str(tree),
         "--level", "1,2", "--level", "4", "--out", str(tmp_path / "s.csv")],
    )  # fmt: skip
    assert listed.exit_code == 0, listed.output
    assert sorted(set(pd.read_csv(tmp_path / "s.csv")["level"])) == [1, 2, 4]
    bad = runner.invoke(
        app,
        ["estimate", "coding-correction", "--data", str(path), "--classification", str(tree),
         "--level", "top", "--out", str(tmp_path / "s.csv")],
    )  # fmt: skip
    assert bad.exit_code == 2 and "cannot read --level 'top'" in bad.output


# ---- 4. method names in any case ------------------------------------------------------------


def test_method_names_in_any_case_and_one_wording_for_unknown_ones(tmp_path) -> None:
    path = tmp_path / "coded.csv"
    _over_coded(path)
    ok = runner.invoke(
        app,
        ["estimate", "coding-correction", "--data", str(path), "--method", "PPI",
         "--out", str(tmp_path / "s.csv"), "--report", str(tmp_path / "s.html")],
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "Corrected code shares (ppi)" in ok.output
    assert "(ppi estimator)" in (tmp_path / "s.html").read_text(encoding="utf-8")
    areas = tmp_path / "areas.csv"
    pd.DataFrame(
        {"area": list("abcdefgh"), "y": [1.0, 1.4, 0.8, 1.1, 1.9, 1.2, 0.7, 1.5],
         "v": [0.04] * 8, "x": [1.0, 1.5, 0.7, 1.0, 2.0, 1.1, 0.9, 1.4]}
    ).to_csv(areas, index=False)  # fmt: skip
    fh = ["estimate", "fay-herriot", "--data", str(areas), "--direct", "y", "--variance", "v",
          "--covariates", "x", "--area", "area", "--out", str(tmp_path / "fh.csv")]  # fmt: skip
    lower = runner.invoke(app, [*fh, "--method", "reml"])
    assert lower.exit_code == 0, lower.output
    assert "Fay-Herriot (REML)" in lower.output
    messages = []
    for command in (fh, ["estimate", "coding-correction", "--data", str(path),
                         "--out", str(tmp_path / "s.csv")]):  # fmt: skip
        bad = runner.invoke(app, [*command, "--method", "bogus"])
        assert bad.exit_code == 2
        messages.append(bad.output)
    for text in messages:
        assert "unknown" in text and "method 'bogus'" in text and "any case" in text
        assert "--method" in text


# ---- 5. list-valued column options ------------------------------------------------------------


def test_psu_is_a_comma_list_with_the_survey_command_checks(tmp_path) -> None:
    path = tmp_path / "coded.csv"
    frame = pd.DataFrame(
        {"predicted_code": ["1111", "1112"] * 6, "audit_code": ["1111", "1111", ""] * 4,
         "w": [2.0] * 12, "region": list("aabbccddeeff"), "sex": ["f", "m"] * 6}
    )  # fmt: skip
    frame.to_csv(path, index=False)
    base = ["estimate", "coding-correction", "--data", str(path), "--weights", "w",
            "--out", str(tmp_path / "s.csv")]  # fmt: skip
    ok = runner.invoke(app, [*base, "--psu", "region,sex"])
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(app, [*base, "--psu", "region,sexx"])
    assert bad.exit_code == 2
    assert "column 'sexx' not found" in bad.output and "--psu sexx" in bad.output
    assert "did you mean 'sex'" in bad.output and "[" not in bad.output


# ---- 6. formatting -------------------------------------------------------------------------


def test_file_rows_are_file_rows_and_say_when_they_are_cut() -> None:
    assert file_rows([0]) == "row 2"
    assert file_rows([26, 27, 43, 44, 45, 46]) == "rows 28, 29, 45, 46, 47 (first 5 of 6)"


def test_survey_missing_values_name_file_rows(tmp_path) -> None:
    path = tmp_path / "s.csv"
    pd.DataFrame({"y": ["1", "", "3", "", "", "", "", "", "2"], "w": ["1"] * 9}).to_csv(
        path, index=False
    )
    result = runner.invoke(
        app,
        ["estimate", "survey", "--data", str(path), "--weights", "w", "--mean", "y",
         "--out", str(tmp_path / "o.csv")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "rows 3, 5, 6, 7, 8 (first 5 of 6)" in result.output


def test_terminal_shows_cv_in_percent_and_deff_with_two_decimals(capsys) -> None:
    from statcoder.cli.estimate import _show

    _show(pd.DataFrame({"estimate": [12.5, 0.5], "cv": [0.018, 0.2], "deff": [1.0, 0.987]}), "t")
    text = capsys.readouterr().out
    assert "1.8 %" in text and "20.0 %" in text
    assert "1.00" in text and "0.99" in text and "0.987" not in text


# ---- 7. --encoding ---------------------------------------------------------------------------


def test_estimate_commands_read_the_encoding_given(tmp_path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(
        "predicted_code,audit_code,région\n1111,1111,Île\n1112,1111,Île\n1111,,Évry\n".encode(
            "latin-1"
        )
    )
    base = ["estimate", "coding-correction", "--data", str(path), "--out", str(tmp_path / "s.csv")]
    plain = runner.invoke(app, base)
    assert plain.exit_code == 2 and "--encoding" in plain.output
    ok = runner.invoke(app, [*base, "--encoding", "latin-1"])
    assert ok.exit_code == 0, ok.output
    for command in ("survey", "model-assisted", "fay-herriot", "nested-error", "coded-shares"):
        help_text = runner.invoke(app, ["estimate", command, "--help"]).output
        assert "--encoding" in help_text, command
