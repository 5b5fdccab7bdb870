"""``statcoder estimate``: survey, model-assisted, small-area and coding-error-corrected estimates.

Each subcommand reads a table (CSV, Parquet, Excel, SPSS, Stata), calls statcoder.estimation,
writes a tidy CSV/Parquet (``--out``) and optionally an HTML report (``--report``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from statcoder.cli import app
from statcoder.cli._common import (
    SEED_MAX,
    SEED_MIN,
    EncodingOpt,
    check_cv_folds,
    console,
    hidden_alias,
    progress,
    report_errors,
    use_alias,
)
from statcoder.errors import InputError

if TYPE_CHECKING:  # the estimation stack (pandas, numpy, scipy) loads inside the commands
    import pandas as pd

estimate_app = typer.Typer(
    help="Estimates with confidence intervals: survey designs, model-assisted, small areas, "
    "code shares corrected for coding error.",
    no_args_is_help=True,
)
#: the coded-records columns of the commands that correct for coding errors (one definition each)
PredictedOpt = Annotated[str, typer.Option("--predicted", help="Machine-code column.")]
AuditOpt = Annotated[str, typer.Option("--audit", help="Human code of audited records (empty elsewhere).")]
app.add_typer(estimate_app, name="estimate")

Columns = Annotated[list[str] | None, typer.Option(help="Column name; repeat or comma-separate.")]


def _names(values: list[str] | None) -> list[str]:
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


def _read(path: Path, encoding: str | None = None, option: str = "--data") -> pd.DataFrame:
    """Read an input table (text files in ``encoding``, see --encoding) like every command does."""
    from statcoder.cli._common import read_input

    return read_input(path, encoding=encoding, option=option)


def _write(frame: pd.DataFrame, path: Path) -> None:
    from statcoder.io import write_table_atomic

    write_table_atomic(frame, path)


def _write_outputs(frame: pd.DataFrame, out: Path, report: Any = None, path: Path | None = None) -> None:
    """Write the table and the report, the report rendered first: the figures are drawn before
    anything is written, so a report that fails leaves no new table behind (each file is
    written atomically: a crash leaves the old file or the new one)."""
    html = report.render() if report is not None else None
    _write(frame, out)
    if html is not None and path is not None:
        from statcoder.io.atomic import atomic_write_text

        atomic_write_text(path, html)


#: columns shown the same way in every row (and as in the HTML reports): CVs in percent,
#: design effects and shrinkage factors with fixed decimals
FIXED_FORMATS: dict[str, str | int] = {"cv": "pct", "direct_cv": "pct", "deff": 2, "gamma": 3}
CV_HEADERS = {"cv": "CV", "direct_cv": "direct CV"}


def _show(frame: pd.DataFrame, title: str, max_rows: int = 30) -> None:
    from rich.table import Table

    from statcoder.report.format import column_formatter, header, is_numeric_column, text_cell

    # rows mix statistics of different sizes (a mean next to a total): each estimate cell gets
    # about three significant figures of its own, with thousands separators; CVs are percentages
    # and design effects have two decimals in every row, as in the HTML reports
    table = Table(title=title, show_lines=False)
    shown = frame.head(max_rows)
    cells = []
    for column in frame.columns:
        values = shown[column].tolist()
        numeric = is_numeric_column(values)
        name = CV_HEADERS.get(str(column), header(column))
        table.add_column(name, justify="right" if numeric else "left")
        spec = FIXED_FORMATS.get(str(column))
        if numeric and spec is not None:
            kind, decimals = (spec, None) if isinstance(spec, str) else (None, spec)
            cells.append(column_formatter(column, values, kind=kind, decimals=decimals))
        else:
            cells.append(text_cell)
    for row in shown.itertuples(index=False):
        table.add_row(*[cell(v) for cell, v in zip(cells, row, strict=True)])
    console.print(table)
    if len(frame) > max_rows:
        console.print(f"... {len(frame) - max_rows} more rows in the output file")


def parse_totals(values: list[str] | None, option: str) -> dict[str, float]:
    """``["api99=3914069"]`` -> ``{"api99": 3914069.0}``."""
    out = {}
    for value in values or []:
        name, sep, number = value.partition("=")
        try:
            out[name.strip()] = float(number)
        except ValueError:
            sep = ""
        if not sep:
            raise InputError(
                f"cannot read {option} {value!r}",
                where=option,
                hint=f"write {option} COLUMN=TOTAL, e.g. {option} api99=3914069",
            )
    return out


def parse_margin(value: str, option: str) -> tuple[str, dict[str, float]]:
    """``"stype:E=4421,H=755,M=1018"`` -> ``("stype", {"E": 4421.0, ...})``."""
    column, sep, rest = value.partition(":")
    counts = parse_totals(rest.split(","), option) if sep else {}
    if not counts:
        raise InputError(
            f"cannot read {option} {value!r}",
            where=option,
            hint=f"write {option} COLUMN:LEVEL=COUNT,LEVEL=COUNT, e.g. stype:E=4421,H=755,M=1018",
        )
    return column.strip(), counts


def parse_calibration(values: list[str] | None) -> dict[str, float | dict[str, float]]:
    """``["stype:E=4421,H=755", "api99=3914069"]`` -> one joint set of calibration totals:
    ``COLUMN:LEVEL=COUNT,...`` is a categorical margin, ``COLUMN=TOTAL`` a numeric total."""
    out: dict[str, float | dict[str, float]] = {}
    for value in values or []:
        if ":" in value:
            column, counts = parse_margin(value, "--calibrate")
            out[column] = counts
        else:
            out.update(parse_totals([value], "--calibrate"))
    return out


def check_columns(frame: pd.DataFrame, named: dict[str, list[str]]) -> None:
    """Raise a clear error (option, column, close matches) for a column not in ``frame``."""
    from statcoder.estimation.columns import require_column

    for option, columns in named.items():
        for column in columns:
            require_column(frame, column, option=option)


@estimate_app.command("survey")
@report_errors
def survey(
    data: Annotated[Path, typer.Option(help="Survey microdata file.")],
    out: Annotated[Path, typer.Option(help="Output table (.csv or .parquet).")],
    weights: Annotated[
        str | None, typer.Option(help="Weight column (omit to derive from --fpc).")
    ] = None,
    strata: Annotated[str | None, typer.Option(help="Stratum column.")] = None,
    psu: Columns = None,
    fpc: Columns = None,
    mean: Columns = None,
    total: Columns = None,
    proportion: Columns = None,
    ratio: Annotated[
        list[str] | None, typer.Option(help="NUMERATOR/DENOMINATOR; repeatable.")
    ] = None,
    quantile: Columns = None,
    probs: Annotated[
        str, typer.Option(help="Quantile levels for --quantile, comma-separated.")
    ] = "0.25,0.5,0.75",
    by: Columns = None,
    na_rm: Annotated[
        bool, typer.Option("--na-rm", help="Estimate from records with a value.")
    ] = False,
    lonely_psu: Annotated[
        str,
        typer.Option(
            help="Strata with one PSU: fail | certainty | remove | adjust (R >= 4.4, alias "
            "centre) | adjust-zero (R < 4.4) | average"
        ),
    ] = "fail",
    subset: Annotated[
        str | None,
        typer.Option(
            help="Estimate for a sub-population, keeping the full design (R subset()): a "
            "pandas query, e.g. \"`sch.wide` == 'No'\"."
        ),
    ] = None,
    calibrate: Annotated[
        list[str] | None,
        typer.Option(
            help="COLUMN=TOTAL (numeric) or COLUMN:LEVEL=COUNT,... (categorical); repeatable, "
            "all margins calibrated jointly (linear GREG)."
        ),
    ] = None,
    population_size: Annotated[
        float | None, typer.Option(help="Population size (calibration intercept).")
    ] = None,
    post_stratify: Annotated[
        str | None, typer.Option(help="COLUMN:LEVEL=COUNT,LEVEL=COUNT")
    ] = None,
    rake: Annotated[
        list[str] | None, typer.Option(help="Margin COLUMN:LEVEL=COUNT,...; repeatable.")
    ] = None,
    replicate: Annotated[
        str | None, typer.Option(help="Replicate variance: auto | JK1 | JKn | bootstrap.")
    ] = None,
    replicates: Annotated[int, typer.Option(help="Bootstrap replicates.")] = 50,
    confidence: Annotated[float, typer.Option(help="Confidence level of the intervals.")] = 0.95,
    report: Annotated[Path | None, typer.Option(help="Also write an HTML report here.")] = None,
    encoding: EncodingOpt = None,
) -> None:
    """Totals, means, ratios and proportions by domain for a survey design (R survey's svymean...)."""
    from statcoder.estimation import SurveyDesign

    if (calibrate or population_size is not None) and (post_stratify or rake):
        raise InputError(
            "--calibrate/--population-size cannot be combined with --post-stratify or --rake",
            where="--calibrate with " + ("--post-stratify" if post_stratify else "--rake"),
            hint="two calibrations in sequence give weights that no longer meet the first totals; "
            "put every margin in --calibrate (categorical as --calibrate COLUMN:LEVEL=COUNT,...) "
            "so they are met jointly in one step",
        )
    totals = parse_calibration(calibrate)
    post = parse_margin(post_stratify, "--post-stratify") if post_stratify else None
    margins = dict(parse_margin(v, "--rake") for v in rake or [])
    frame = _read(data, encoding)
    ratio_columns = [c.strip() for spec in ratio or [] for c in spec.split("/", 1)]
    check_columns(
        frame,
        {
            "--weights": [weights] if weights else [],
            "--strata": [strata] if strata else [],
            "--psu": _names(psu),
            "--fpc": _names(fpc),
            "--mean": _names(mean),
            "--total": _names(total),
            "--proportion": _names(proportion),
            "--ratio": [c for c in ratio_columns if c],
            "--quantile": _names(quantile),
            "--by": _names(by),
            "--calibrate": list(totals),
            "--post-stratify": [post[0]] if post else [],
            "--rake": list(margins),
        },
    )
    design = SurveyDesign(
        frame,
        weights=weights,
        strata=strata,
        psu=_names(psu) or None,
        fpc=_names(fpc) or None,
        lonely_psu=lonely_psu,
    )
    if calibrate or population_size is not None:
        design = design.calibrate(totals, population_size=population_size)
    if post:
        design = design.post_stratify(*post)
    if margins:
        design = design.rake(margins)
    target = design.replicate(replicate, replicates=replicates) if replicate else design
    if subset:
        target = target.subset(subset)
    groups = _names(by) or None
    results = []
    opts = {"by": groups, "na_rm": na_rm, "confidence": confidence}
    if mean:
        results.append(target.mean(_names(mean), **opts).frame)
    if total:
        results.append(target.total(_names(total), **opts).frame)
    if proportion:
        results.append(target.proportion(_names(proportion), **opts).frame)
    for spec in ratio or []:
        num, sep, den = spec.partition("/")
        if not sep:
            raise InputError(
                f"cannot read --ratio {spec!r}",
                where="--ratio",
                hint="write --ratio NUMERATOR/DENOMINATOR, e.g. api.stu/enroll",
            )
        results.append(target.ratio(num.strip(), den.strip(), **opts).frame)
    for variable in _names(quantile):
        try:
            levels = [float(p) for p in probs.split(",")]
        except ValueError:
            raise InputError(
                f"cannot read --probs {probs!r}",
                where="--probs",
                hint="write levels between 0 and 1, e.g. --probs 0.25,0.5,0.75",
            ) from None
        results.append(
            target.quantile(variable, levels, by=groups, na_rm=na_rm, confidence=confidence).frame
        )
    if not results:
        raise InputError(
            "nothing to estimate",
            where="options",
            hint="add --mean, --total, --proportion, --ratio or --quantile",
        )
    import pandas as pd

    table = pd.concat(results, ignore_index=True)
    built = None
    if report:
        from statcoder.estimation.report import survey_report

        described = (
            f"{data.name}: weights={weights}, strata={strata}, psu={_names(psu)}, fpc={_names(fpc)}"
        )
        built = survey_report(table, design=described, confidence=confidence)
    _write_outputs(table, out, built, report)
    _show(table, "Survey estimates")
    console.print(f"wrote {out}" + (f" and {report}" if report else ""))


@estimate_app.command("model-assisted")
@report_errors
def model_assisted(
    data: Annotated[Path, typer.Option(help="Sample file (response and auxiliaries).")],
    population: Annotated[Path, typer.Option(help="Population frame: auxiliaries for every unit.")],
    response: Annotated[str, typer.Option(help="Response column.")],
    out: Annotated[Path, typer.Option(help="Output table (.csv or .parquet).")],
    features: Columns = None,
    weights: Annotated[str | None, typer.Option(help="Weight column.")] = None,
    strata: Annotated[str | None, typer.Option(help="Stratum column.")] = None,
    psu: Columns = None,
    fpc: Columns = None,
    model: Annotated[
        str, typer.Option(help="linear | gradient-boosting | random-forest | logistic")
    ] = "gradient-boosting",
    cv_folds: Annotated[
        int | None, typer.Option("--cv-folds", help="Cross-fitting folds of PSUs, at least 2 (default 5).")
    ] = None,
    folds: Annotated[int | None, hidden_alias("--folds")] = None,
    variance: Annotated[str, typer.Option(help="linearisation | replicate")] = "linearisation",
    seed: Annotated[int, typer.Option(min=SEED_MIN, max=SEED_MAX, help="Seed for folds and model (0 or more).")] = 0,
    report: Annotated[Path | None, typer.Option(help="Also write an HTML report here.")] = None,
    encoding: EncodingOpt = None,
) -> None:
    """Cross-fitted GREG total and mean with a machine-learning working model."""
    from statcoder.estimation import SurveyDesign
    from statcoder.estimation.model_assisted import CrossFittedGREG, make_working_model

    sample = _read(data, encoding)
    frame = _read(population, encoding, option="--population")
    check_columns(
        sample,
        {
            "--response": [response],
            "--features": _names(features),
            "--weights": [weights] if weights else [],
            "--strata": [strata] if strata else [],
            "--psu": _names(psu),
            "--fpc": _names(fpc),
        },
    )
    design = SurveyDesign(
        sample,
        weights=weights,
        strata=strata,
        psu=_names(psu) or None,
        fpc=_names(fpc) or None,
    )
    n_folds = check_cv_folds(use_alias(cv_folds, folds, old="--folds", new="--cv-folds")) or 5
    estimator = CrossFittedGREG(
        make_working_model(model, seed=seed), n_folds=n_folds, seed=seed, variance=variance
    )
    with progress() as bar:
        bar(0, 1, "fitting the working model")
        estimator.fit(design, response, _names(features), frame)
        bar(1, 1, "fitting the working model")
    table = estimator.result_.frame
    built = None
    if report:
        from statcoder.estimation.report import survey_report

        built = survey_report(
            table, title="Model-assisted estimates", design=f"{data.name}, working model {model}"
        )
    _write_outputs(table, out, built, report)
    _show(table, f"Cross-fitted GREG ({model})")


# the small-area and coding-correction subcommands live in their own modules; importing them
# registers them
from statcoder.cli import estimate_coding as _coding  # noqa: F401
from statcoder.cli import estimate_small_area as _small_area  # noqa: F401
