"""``statcoder estimate coding-correction``: code shares corrected for coding error with an audit.

Shares the group, the helpers and the conventions of :mod:`statcoder.cli.estimate` (tables in,
tidy CSV/Parquet out, optional HTML report drawn before anything is written).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from statcoder.cli._common import EncodingOpt, console, report_errors
from statcoder.cli.estimate import (
    AuditOpt,
    PredictedOpt,
    _names,
    _read,
    _show,
    _write_outputs,
    check_columns,
    estimate_app,
)
from statcoder.errors import InputError


@estimate_app.command("coding-correction")
@report_errors
def coding_correction(
    data: Annotated[Path, typer.Option(help="Coded records with an audit column.")],
    out: Annotated[Path, typer.Option(help="Output table (.csv or .parquet).")],
    predicted: PredictedOpt = "predicted_code",
    audit: AuditOpt = "audit_code",
    weights: Annotated[
        str | None, typer.Option(help="Survey weights, if the records are a sample.")
    ] = None,
    strata: Annotated[str | None, typer.Option(help="Survey strata.")] = None,
    psu: Annotated[
        list[str] | None,
        typer.Option(
            help="Survey PSU column per stage; repeat or comma-separate (the variance is the "
            "ultimate-cluster one: only the first stage counts)."
        ),
    ] = None,
    audit_strata: Annotated[
        str | None, typer.Option(help="Stratum of the audit (e.g. decision).")
    ] = None,
    classification: Annotated[
        Path | None, typer.Option(help="Classification CSV, for --level.")
    ] = None,
    level: Annotated[
        list[str] | None,
        typer.Option(help="Level(s) of the classification, 1 = top; repeat or comma-separate."),
    ] = None,
    quantity: Annotated[str, typer.Option(help="share | total")] = "share",
    method: Annotated[str, typer.Option(help="difference | PPI | PPI++ (any case)")] = "difference",
    confidence: Annotated[float, typer.Option(help="Confidence level.")] = 0.95,
    report: Annotated[Path | None, typer.Option(help="Also write an HTML report here.")] = None,
    encoding: EncodingOpt = None,
) -> None:
    """Code shares/totals corrected for coding error with an audit sample, next to the naive ones."""
    from statcoder.estimation.coding_error import canonical_method, corrected_shares_from_frame

    method = canonical_method(method)
    levels = _levels(level)
    if levels and classification is None:
        raise InputError(
            "--level needs a classification",
            where="--level",
            hint="pass --classification FILE.csv, or leave out --level to estimate at the codes' own level",
        )
    frame = _read(data, encoding)
    psu_columns = _names(psu)
    check_columns(
        frame,
        {
            "--predicted": [predicted],
            "--audit": [audit],
            "--weights": [weights] if weights else [],
            "--strata": [strata] if strata else [],
            "--psu": psu_columns,
            "--audit-strata": [audit_strata] if audit_strata else [],
        },
    )
    options = {
        "predicted": predicted,
        "audit": audit,
        "weights": weights,
        "strata": strata,
        "psu": psu_columns[0] if psu_columns else None,
        "audit_strata": audit_strata,
        "quantity": quantity,
        "method": method,
        "confidence": confidence,
    }
    scheme = None
    if classification is not None:
        from statcoder.classifications import Classification

        scheme = Classification.from_csv(classification)
        options["classification"] = scheme
        options["levels"] = levels or None
    table = corrected_shares_from_frame(frame, **options)
    built = None
    if report:
        from statcoder.estimation.report import coding_correction_report

        n_audit = int((frame[audit].astype("string").fillna("").str.strip() != "").sum())
        built = coding_correction_report(
            table, audit_size=n_audit, classification=scheme, quantity=quantity, method=method
        )
    _write_outputs(table, out, built, report)
    _show(
        table[
            [
                c
                for c in ("level", "code", "naive", "estimate", "se", "ci_low", "ci_high", "flag")
                if c in table.columns
            ]
        ],
        ("Corrected code shares" if quantity == "share" else "Corrected code totals")
        + f" ({method})",
    )
    if quantity == "share" and (table["estimate"] < 0).any():
        console.print(
            f"{int((table['estimate'] < 0).sum())} corrected share(s) below 0: not "
            "distinguishable from 0 (the output keeps the unbiased estimate; publish 0 or suppress)"
        )
    console.print(f"wrote {out}" + (f" and {report}" if report else ""))


def _levels(values: list[str] | None) -> list[int]:
    """``["1", "2,3"]`` -> ``[1, 2, 3]``; anything but whole numbers is refused."""
    out = []
    for part in _names(values):
        try:
            out.append(int(part))
        except ValueError:
            raise InputError(
                f"cannot read --level {part!r}",
                where="--level",
                hint="give levels as whole numbers, 1 = top: --level 1 --level 2 or --level 1,2",
            ) from None
    return out
