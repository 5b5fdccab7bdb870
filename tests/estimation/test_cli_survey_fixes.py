"""``statcoder estimate survey``: lonely PSU "adjust", --subset, joint --calibrate with categorical
and numeric margins, refusing --calibrate with --post-stratify/--rake, misspelt columns."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from statcoder.cli import app
from statcoder.estimation import SurveyDesign

runner = CliRunner()


def _clus1(estimation_dir: Path, out: Path, *extra: str) -> list[str]:
    return [
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
        "--out",
        str(out),
        *extra,
    ]


def test_cli_lonely_psu_adjust_total_matches_r(tmp_path: Path) -> None:
    data = tmp_path / "singleton.csv"
    pd.DataFrame(
        {
            "Stratum": [1, 1, 2, 2, 3],
            "PSU": [1, 2, 3, 4, 5],
            "Design_Weight": [10.5, 10.5, 20, 20, 15],
            "Age": [30.5, 40.5, 35, 52, 44],
        }
    ).to_csv(data, index=False)
    out = tmp_path / "t.csv"
    base = ["estimate", "survey", "--data", str(data), "--weights", "Design_Weight"]
    base += ["--strata", "Stratum", "--psu", "PSU", "--total", "Age", "--out", str(out)]
    for rule, variance in (("adjust", 127579.8), ("remove", 126625.0)):
        result = runner.invoke(app, [*base, "--lonely-psu", rule])
        assert result.exit_code == 0, result.output
        assert pd.read_csv(out)["se"].iloc[0] ** 2 == pytest.approx(variance, rel=1e-6)


def test_cli_subset_keeps_the_design(estimation_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    args = _clus1(estimation_dir, out, "--mean", "api00", "--subset", "`sch.wide` == 'No'")
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert round(pd.read_csv(out)["se"].iloc[0], 2) == 28.99


def test_cli_joint_calibration_meets_both_margins(
    estimation_dir: Path, api: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    out = tmp_path / "g.csv"
    args = _clus1(
        estimation_dir,
        out,
        "--calibrate",
        "stype:E=4421,H=755,M=1018",
        "--calibrate",
        "api99=3914069",
        "--total",
        "api99,stype",
        "--mean",
        "api00",
    )
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    rest = table[table["statistic"] != "mean"]
    totals = rest.set_index(rest["category"].fillna("api99"))
    assert totals.loc["api99", "estimate"] == pytest.approx(3914069)
    for level, count in {"E": 4421, "H": 755, "M": 1018}.items():
        assert totals.loc[level, "estimate"] == pytest.approx(count)
    # the same joint calibration through the Python API
    design = SurveyDesign(api["apiclus1"], weights="pw", psu="dnum", fpc="fpc").calibrate(
        {"stype": {"E": 4421, "H": 755, "M": 1018}, "api99": 3914069}
    )
    mean = table[table["statistic"] == "mean"].iloc[0]
    assert mean["se"] == pytest.approx(design.mean("api00").se, rel=1e-10)


@pytest.mark.parametrize(
    "extra",
    [
        ["--post-stratify", "stype:E=4421,H=755,M=1018"],
        ["--rake", "stype:E=4421,H=755,M=1018"],
    ],
)
def test_cli_calibrate_with_post_stratify_or_rake_is_refused(
    estimation_dir: Path, tmp_path: Path, extra: list[str]
) -> None:
    args = _clus1(estimation_dir, tmp_path / "x.csv", "--calibrate", "api99=3914069", *extra)
    result = runner.invoke(app, [*args, "--mean", "api00"])
    assert result.exit_code == 2
    assert "cannot be combined" in result.output and "jointly" in result.output


@pytest.mark.parametrize(
    ("option", "value", "close"),
    [
        ("--mean", "api000", "api00"),
        ("--total", "enrol", "enroll"),
        ("--by", "stpe", "stype"),
        ("--quantile", "api0", "api00"),
        ("--ratio", "api.stu/enrol", "enroll"),
        ("--calibrate", "api98=100", "api99"),
    ],
)
def test_cli_misspelt_column_names_the_option_and_close_matches(
    estimation_dir: Path, tmp_path: Path, option: str, value: str, close: str
) -> None:
    result = runner.invoke(app, _clus1(estimation_dir, tmp_path / "x.csv", option, value))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "KeyError" not in result.output
    assert f"({option} " in result.output and f"did you mean '{close}'" in result.output
