"""``statcoder estimate`` small-area subcommands: fay-herriot, nested-error, zonal, coded-shares.

They share the group, the helpers and the conventions of :mod:`statcoder.cli.estimate`
(tables in, tidy CSV/Parquet out, optional HTML report).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from statcoder.cli._common import SEED_MAX, SEED_MIN, EncodingOpt, console, progress, report_errors
from statcoder.cli.estimate import (
    AuditOpt,
    Columns,
    PredictedOpt,
    _names,
    _read,
    _show,
    _write,
    _write_outputs,
    check_columns,
    estimate_app,
)
from statcoder.errors import InputError


@estimate_app.command("fay-herriot")
@report_errors
def fay_herriot(
    data: Annotated[Path, typer.Option(help="Area table: one row per area.")],
    direct: Annotated[str, typer.Option(help="Direct-estimate column (empty = non-sampled area).")],
    out: Annotated[Path, typer.Option(help="Output table (.csv or .parquet).")],
    variance: Annotated[str | None, typer.Option(help="Sampling-variance column.")] = None,
    se: Annotated[
        str | None, typer.Option(help="Standard-error column (instead of --variance).")
    ] = None,
    covariates: Columns = None,
    categorical: Columns = None,
    area: Annotated[str | None, typer.Option(help="Area identifier column.")] = None,
    method: Annotated[str, typer.Option(help="REML | ML | FH (any case)")] = "REML",
    transform: Annotated[str | None, typer.Option(help="log (fit on the log scale)")] = None,
    on_zero_variance: Annotated[str, typer.Option(help="error | drop")] = "error",
    benchmark_total: Annotated[
        float | None, typer.Option(help="Benchmark to this weighted total.")
    ] = None,
    benchmark_weights: Annotated[
        str | None, typer.Option(help="Weights column of the benchmark.")
    ] = None,
    map_csv: Annotated[Path | None, typer.Option(help="Also write a map-ready CSV here.")] = None,
    report: Annotated[Path | None, typer.Option(help="Also write an HTML report here.")] = None,
    encoding: EncodingOpt = None,
) -> None:
    """Fay-Herriot small-area estimates (EBLUP, MSE, synthetic for non-sampled areas)."""
    from statcoder.estimation.fay_herriot import fay_herriot_method
    from statcoder.estimation.small_area import fay_herriot_table

    method = fay_herriot_method(method)
    frame = _read(data, encoding)
    check_columns(
        frame,
        {
            "--direct": [direct],
            "--variance": [variance] if variance else [],
            "--se": [se] if se else [],
            "--covariates": _names(covariates),
            "--categorical": _names(categorical),
            "--area": [area] if area else [],
            "--benchmark-weights": [benchmark_weights] if benchmark_weights else [],
        },
    )
    result = fay_herriot_table(
        frame,
        direct=direct,
        variance=variance,
        se=se,
        covariates=_names(covariates),
        categorical=_names(categorical),
        area=area,
        method=method,
        transform=transform,
        on_zero_variance=on_zero_variance,
        benchmark_target=benchmark_total,
        benchmark_weights=benchmark_weights,
    )
    built = None
    if report:
        from statcoder.estimation.report import small_area_report

        built = small_area_report(
            result.frame, result.coefficients(), method=method, variance=result.model.variance_
        )
    _write_outputs(result.frame, out, built, report)
    _show(
        result.coefficients(),
        f"Fay-Herriot ({method}) coefficients; A = {result.model.variance_:.6g}",
    )
    if map_csv:
        result.write_map_csv(map_csv)
    console.print(f"wrote {out} ({len(result.frame)} areas)")


@estimate_app.command("nested-error")
@report_errors
def nested_error(
    data: Annotated[Path, typer.Option(help="Unit-level sample (one row per unit).")],
    response: Annotated[str, typer.Option(help="Response column (e.g. surveyed hectares).")],
    area: Annotated[str, typer.Option(help="Area column (same name in --area-means).")],
    area_means: Annotated[
        Path,
        typer.Option(
            help="One row per area: the area, the population mean of each covariate "
            "(under the covariate's name) and the population size."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Output table (.csv or .parquet), one row per area.")],
    covariates: Columns = None,
    population_size: Annotated[
        str | None,
        typer.Option(help="Population-size column of --area-means (finite-population means)."),
    ] = None,
    method: Annotated[
        str, typer.Option(help="REML | ML (variance components; any case).")
    ] = "REML",
    mse: Annotated[str, typer.Option(help="analytic | bootstrap")] = "analytic",
    bootstrap: Annotated[int, typer.Option(help="Bootstrap replicates for --mse bootstrap.")] = 200,
    seed: Annotated[int, typer.Option(min=SEED_MIN, max=SEED_MAX, help="Seed of the bootstrap (0 or more).")] = 0,
    confidence: Annotated[float, typer.Option(help="Confidence level of the intervals.")] = 0.95,
    encoding: EncodingOpt = None,
) -> None:
    """Unit-level small-area means: nested-error (Battese-Harter-Fuller) EBLUP with MSE."""
    from statcoder.estimation.nested_error import nested_error_method
    from statcoder.estimation.unit_level import nested_error_table

    method = nested_error_method(method)
    sample = _read(data, encoding)
    means = _read(area_means, encoding, option="--area-means")
    check_columns(
        sample, {"--response": [response], "--area": [area], "--covariates": _names(covariates)}
    )
    with progress() as bar:
        bar(
            0,
            1,
            "fitting the nested-error model" + (" and bootstrap" if mse == "bootstrap" else ""),
        )
        result = nested_error_table(
            sample,
            means,
            response=response,
            covariates=_names(covariates),
            area=area,
            population_size=population_size,
            method=method,
            mse=mse,
            bootstrap=bootstrap,
            seed=seed,
            confidence=confidence,
        )
        bar(1, 1, "fitting the nested-error model")
    _write(result.frame, out)
    _show(result.coefficients(), f"Nested-error model ({method})")
    console.print(f"wrote {out} ({len(result.frame)} areas)")


@estimate_app.command("zonal")
@report_errors
def zonal(
    raster: Annotated[Path, typer.Option(help="GeoTIFF (e.g. a land-cover or night-light band).")],
    polygons: Annotated[
        Path, typer.Option(help="Area boundaries: GeoPackage, shapefile or GeoJSON.")
    ],
    id: Annotated[str, typer.Option("--id", help="Area identifier attribute of --polygons.")],
    out: Annotated[Path, typer.Option(help="Output table (.csv or .parquet), one row per area.")],
    stat: Annotated[
        list[str] | None, typer.Option(help="mean | sum | min | max; repeat or comma-separate.")
    ] = None,
    classes: Annotated[
        str | None,
        typer.Option(help="Class shares: 'all' or class values, comma-separated (e.g. 1,2,5)."),
    ] = None,
    band: Annotated[int, typer.Option(help="Raster band (1 = first).")] = 1,
    all_touched: Annotated[
        bool,
        typer.Option("--all-touched", help="Use every pixel a polygon touches, not centres."),
    ] = False,
    crs_mismatch: Annotated[
        str, typer.Option(help="reproject (polygons to the raster CRS) | error")
    ] = "reproject",
    prefix: Annotated[str, typer.Option(help="Prefix of the statistic columns.")] = "",
) -> None:
    """Per-area covariates (mean, sum, class shares) from a raster and polygons, ready for
    fay-herriot or nested-error (needs the geo extra: pip install 'statcoder\\[geo]')."""
    from statcoder.estimation.zonal import zonal_statistics

    wanted: str | list[float] | None = classes
    if classes and classes.strip() != "all":
        try:
            wanted = [float(v) for v in _names([classes])]
        except ValueError:
            raise InputError(
                f"cannot read --classes {classes!r}",
                where="--classes",
                hint="write --classes all, or class values such as --classes 1,2,5",
            ) from None
    table = zonal_statistics(
        raster,
        polygons,
        id_column=id,
        statistics=_names(stat) if stat else ("mean", "sum"),
        classes=wanted,
        band=band,
        all_touched=all_touched,
        on_crs_mismatch=crs_mismatch,
        prefix=prefix,
    )
    _write(table, out)
    _show(table, f"Zonal statistics of {raster.name}")
    console.print(f"wrote {out} ({len(table)} areas)")


@estimate_app.command("coded-shares")
@report_errors
def coded_shares(
    data: Annotated[Path, typer.Option(help="Coded records with an area and an audit column.")],
    area: Annotated[str, typer.Option(help="Area (region) column.")],
    out: Annotated[Path, typer.Option(help="Output table (.csv or .parquet): area x code.")],
    predicted: PredictedOpt = "predicted_code",
    audit: AuditOpt = "audit_code",
    area_table: Annotated[
        Path | None, typer.Option(help="One row per area with extra covariates.")
    ] = None,
    covariates: Columns = None,
    method: Annotated[str, typer.Option(help="REML | ML | FH (any case)")] = "REML",
    min_audit: Annotated[
        int, typer.Option(help="Flag areas with fewer audited records than this.")
    ] = 30,
    confidence: Annotated[float, typer.Option(help="Confidence level.")] = 0.95,
    encoding: EncodingOpt = None,
) -> None:
    """Small-area code shares: coding-error-corrected direct shares per area, Fay-Herriot EBLUP
    with the machine share as covariate, MSE and a flag for small audits."""
    from statcoder.estimation.coded_shares import coded_share_areas
    from statcoder.estimation.fay_herriot import fay_herriot_method

    method = fay_herriot_method(method)
    frame = _read(data, encoding)
    check_columns(frame, {"--predicted": [predicted], "--audit": [audit], "--area": [area]})
    areas = _read(area_table, encoding, option="--area-table") if area_table else None
    if areas is not None:
        check_columns(areas, {"--area": [area], "--covariates": _names(covariates)})
    table = coded_share_areas(
        frame,
        predicted=predicted,
        audit=audit,
        area=area,
        area_table=areas,
        covariates=_names(covariates),
        method=method,
        min_audit=min_audit,
        confidence=confidence,
    )
    _write(table, out)
    _show(
        table[
            ["area", "code", "n_audit", "naive", "direct", "estimate", "rmse", "kind", "audit_flag"]
        ],
        f"Small-area code shares (corrected, Fay-Herriot EBLUP, {method})",
    )
    fallback = table.loc[table["kind"].isin(["direct", "none"]), "code"].nunique()
    reduced = table.loc[table["note"].str.contains("left out", regex=False), "code"].nunique()
    if fallback:
        console.print(
            f"{fallback} code(s) without a Fay-Herriot model: corrected direct shares (kind "
            "direct; none where the area has no audit), reason in the note column"
        )
    if reduced:
        console.print(
            f"{reduced} code(s) fitted without the machine share or a covariate that does not "
            "vary over the audited areas (see the note column)"
        )
    console.print(
        f"wrote {out} ({table['area'].nunique()} areas x {table['code'].nunique()} codes)"
    )
