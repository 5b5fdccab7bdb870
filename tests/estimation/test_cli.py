"""``statcoder estimate ...`` end to end with typer's CliRunner on the shared data."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from statcoder.cli import app

runner = CliRunner()


def test_survey_command_matches_r_and_writes_report(estimation_dir, tmp_path) -> None:
    out, html = tmp_path / "est.csv", tmp_path / "est.html"
    result = runner.invoke(
        app,
        [
            "estimate",
            "survey",
            "--data",
            str(estimation_dir / "apistrat.csv"),
            "--weights",
            "pw",
            "--strata",
            "stype",
            "--fpc",
            "fpc",
            "--mean",
            "api00",
            "--total",
            "enroll",
            "--na-rm",
            "--by",
            "stype",
            "--out",
            str(out),
            "--report",
            str(html),
        ],
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert set(table["stype"]) == {"E", "H", "M"} and len(table) == 6
    overall = runner.invoke(
        app,
        [
            "estimate",
            "survey",
            "--data",
            str(estimation_dir / "apistrat.csv"),
            "--weights",
            "pw",
            "--strata",
            "stype",
            "--fpc",
            "fpc",
            "--mean",
            "api00",
            "--out",
            str(out),
        ],
    )
    assert overall.exit_code == 0, overall.output
    row = pd.read_csv(out).iloc[0]
    # svymean(~api00, dstrat): 662.287363159321 (SE 9.40894080278458), R survey 4.1.1
    assert row["estimate"] == pytest.approx(662.287363159321, rel=1e-10)
    assert row["se"] == pytest.approx(9.40894080278458, rel=1e-8)
    text = html.read_text(encoding="utf-8")
    assert "<svg" in text and "api00" in text and 'role="img"' in text


def test_model_assisted_command(estimation_dir, tmp_path) -> None:
    out = tmp_path / "ma.csv"
    result = runner.invoke(
        app,
        [
            "estimate",
            "model-assisted",
            "--data",
            str(estimation_dir / "apisrs.csv"),
            "--population",
            str(estimation_dir / "apipop.csv"),
            "--response",
            "api00",
            "--features",
            "api99,meals",
            "--fpc",
            "fpc",
            "--model",
            "linear",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out).set_index("statistic")
    assert table.loc["total", "estimate"] == pytest.approx(table.loc["mean", "estimate"] * 6194)
    # api99 predicts api00 closely: far below the SRS standard error of the mean (9.25)
    assert table.loc["mean", "se"] < 3


def test_survey_command_calibration_and_replicates(estimation_dir, tmp_path) -> None:
    out = tmp_path / "g.csv"
    result = runner.invoke(
        app,
        [
            "estimate",
            "survey",
            "--data",
            str(estimation_dir / "apiclus1.csv"),
            "--weights",
            "pw",
            "--psu",
            "dnum",
            "--fpc",
            "fpc",
            "--mean",
            "api00",
            "--calibrate",
            "api99=3914069",
            "--population-size",
            "6194",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    row = pd.read_csv(out).iloc[0]
    # svymean(~api00, gclus1) with gclus1 <- calibrate(dclus1, ~api99, population=c(6194, 3914069))
    assert row["estimate"] == pytest.approx(666.717736250273, rel=1e-10)
    assert row["se"] == pytest.approx(3.29588091215716, rel=1e-8)
    result = runner.invoke(
        app,
        [
            "estimate",
            "survey",
            "--data",
            str(estimation_dir / "apiclus1.csv"),
            "--weights",
            "pw",
            "--psu",
            "dnum",
            "--fpc",
            "fpc",
            "--mean",
            "api00",
            "--post-stratify",
            "stype:E=4421,H=755,M=1018",
            "--replicate",
            "auto",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    # svymean(~api00, rclus1p): 642.310788211582 (SE 26.934535367426)
    assert pd.read_csv(out)["se"].iloc[0] == pytest.approx(26.934535367426, rel=1e-8)


def test_survey_command_rake_and_bad_margin(estimation_dir, tmp_path) -> None:
    out = tmp_path / "r.csv"
    args = [
        "estimate",
        "survey",
        "--data",
        str(estimation_dir / "apiclus1.csv"),
        "--weights",
        "pw",
        "--psu",
        "dnum",
        "--fpc",
        "fpc",
        "--total",
        "stype",
        "--out",
        str(out),
    ]
    result = runner.invoke(
        app, [*args, "--rake", "stype:E=4421,H=755,M=1018", "--rake", "sch.wide:No=1072,Yes=5122"]
    )  # xtabs(~stype / ~sch.wide, apipop)
    assert result.exit_code == 0, result.output
    counts = pd.read_csv(out).set_index("category")["estimate"]
    assert counts["E"] == pytest.approx(4421) and counts["H"] == pytest.approx(755)
    bad = runner.invoke(app, [*args, "--rake", "stype=4421"])
    assert bad.exit_code == 2 and "COLUMN:LEVEL=COUNT" in bad.output


def test_survey_command_errors_are_one_line_with_hint(estimation_dir, tmp_path) -> None:
    data = pd.read_csv(estimation_dir / "apistrat.csv", dtype=str, keep_default_na=False)
    data.loc[0, "stype"] = "X"
    path = tmp_path / "lonely.csv"
    data.to_csv(path, index=False)
    result = runner.invoke(
        app,
        [
            "estimate",
            "survey",
            "--data",
            str(path),
            "--weights",
            "pw",
            "--strata",
            "stype",
            "--mean",
            "api00",
            "--out",
            str(tmp_path / "x.csv"),
        ],
    )
    assert result.exit_code == 2
    assert "only one PSU" in result.output and "hint:" in result.output
    assert "Traceback" not in result.output
    fixed = runner.invoke(
        app,
        [
            "estimate",
            "survey",
            "--data",
            str(path),
            "--weights",
            "pw",
            "--strata",
            "stype",
            "--mean",
            "api00",
            "--lonely-psu",
            "certainty",
            "--out",
            str(tmp_path / "x.csv"),
        ],
    )
    assert fixed.exit_code == 0, fixed.output
    quant = runner.invoke(
        app,
        [
            "estimate",
            "survey",
            "--data",
            str(path),
            "--weights",
            "pw",
            "--strata",
            "stype",
            "--lonely-psu",
            "certainty",
            "--quantile",
            "api00",
            "--probs",
            "0.5",
            "--out",
            str(tmp_path / "q.csv"),
        ],
    )
    assert quant.exit_code == 0, quant.output
    assert pd.read_csv(tmp_path / "q.csv")["quantile"].tolist() == [0.5]
    nothing = runner.invoke(
        app,
        [
            "estimate",
            "survey",
            "--data",
            str(path),
            "--weights",
            "pw",
            "--out",
            str(tmp_path / "x.csv"),
        ],
    )
    assert nothing.exit_code == 2 and "nothing to estimate" in nothing.output


def test_fay_herriot_command(estimation_dir, tmp_path) -> None:
    milk = pd.read_csv(estimation_dir / "milk.csv", dtype=str, keep_default_na=False)
    path = tmp_path / "milk.csv"
    milk.to_csv(path, index=False)
    out, map_csv, html = tmp_path / "fh.csv", tmp_path / "map.csv", tmp_path / "fh.html"
    result = runner.invoke(
        app,
        [
            "estimate",
            "fay-herriot",
            "--data",
            str(path),
            "--direct",
            "yi",
            "--se",
            "SD",
            "--covariates",
            "MajorArea",
            "--categorical",
            "MajorArea",
            "--area",
            "SmallArea",
            "--method",
            "ML",
            "--out",
            str(out),
            "--map-csv",
            str(map_csv),
            "--report",
            str(html),
        ],
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    # mseFH(yi ~ as.factor(MajorArea), SD^2, method="ML"): area 1 EBLUP 1.01617332070717, MSE 0.0135799534739889
    assert table["estimate"].iloc[0] == pytest.approx(1.01617332070717, rel=1e-8)
    assert table["mse"].iloc[0] == pytest.approx(0.0135799534739889, rel=1e-8)
    assert list(pd.read_csv(map_csv).columns[:2]) == ["area", "estimate"]
    assert "Fay-Herriot" in html.read_text(encoding="utf-8")


def test_coding_correction_command(tmp_path) -> None:
    frame = pd.DataFrame(
        {
            "predicted_code": ["1111", "1112", "1111", "2211", "1111", "2211", "1112", "1111"],
            "audit_code": ["1111", "", "1112", "", "1111", "2211", "", "1111"],
        }
    )
    path, out = tmp_path / "coded.csv", tmp_path / "shares.csv"
    frame.to_csv(path, index=False)
    result = runner.invoke(
        app,
        [
            "estimate",
            "coding-correction",
            "--data",
            str(path),
            "--out",
            str(out),
            "--report",
            str(tmp_path / "c.html"),
        ],
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, dtype={"code": str}).set_index("code")
    assert table.loc["1111", "naive"] == pytest.approx(4 / 8)
    assert table.loc["1111", "estimate"] == pytest.approx(
        4 / 8 - 1 / 5
    )  # one audited 1111 was 1112
    tree = tmp_path / "tree.csv"
    tree.write_text(
        "code,title,level,parent\n1,One,1,\n2,Two,1,\n11,One-one,2,1\n22,Two-two,2,2\n"
        "111,a,3,11\n221,b,3,22\n1111,x,4,111\n1112,y,4,111\n2211,z,4,221\n",
        encoding="utf-8",
    )
    levels = runner.invoke(
        app,
        [
            "estimate",
            "coding-correction",
            "--data",
            str(path),
            "--out",
            str(out),
            "--classification",
            str(tree),
            "--level",
            "1",
        ],
    )
    assert levels.exit_code == 0, levels.output
    top = pd.read_csv(out, dtype={"code": str}).set_index("code")
    assert top.loc["1", "naive"] == pytest.approx(6 / 8) and top.loc[
        "1", "estimate"
    ] == pytest.approx(6 / 8)
    bad = runner.invoke(
        app,
        [
            "estimate",
            "coding-correction",
            "--data",
            str(path),
            "--out",
            str(out),
            "--audit",
            "human",
        ],
    )
    assert bad.exit_code == 2 and "not found" in bad.output
