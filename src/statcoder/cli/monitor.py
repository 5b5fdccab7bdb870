"""``statcoder monitor``: compare production periods with the reference, alert, write the report."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from statcoder.cli import app
from statcoder.cli._common import (
    EncodingOpt,
    MaxTextLengthOpt,
    ModelOpt,
    ModelTextOpt,
    SeedOpt,
    check_max_text_length,
    console,
    hidden_alias,
    model_limits,
    progress,
    read_input,
    report_errors,
    text_columns,
    use_alias,
    warn,
)
from statcoder.errors import ConfigurationError, InputError


def check_columns(frame, columns: dict[str, list[str]], *, path: Path) -> None:
    """Raise the project's error when a column named by an option is not in the file at ``path``.

    ``columns`` maps each option (``--text``, ``--column``...) to the columns it names; the first
    missing one is reported as ``column 'x' not found in <file> (<option>)`` with the file's columns
    as hint, so a column present in one file but not in the other is named with the right file.
    """
    for option, names in columns.items():
        missing = [n for n in dict.fromkeys(names) if n not in frame.columns]
        if missing:
            shown = ", ".join(map(repr, missing))
            raise InputError(f"column{'s' if len(missing) > 1 else ''} {shown} not found in {path}", where=option,
                             hint=f"the columns of {path.name} are: {', '.join(map(str, list(frame.columns)[:30]))}")


def _tolerances(items: list[str]) -> dict[str, float]:
    out = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise ConfigurationError(f"cannot read tolerance {item!r}", where="--tolerance",
                                     hint="write SIGNAL=VALUE, e.g. --tolerance accuracy=0.03") from None
    from statcoder.monitoring.alerts import check_tolerance_names

    check_tolerance_names(out, where="--tolerance")
    return out


@app.command()
@report_errors
def monitor(
    model: ModelOpt,
    reference: Annotated[Path, typer.Option("--reference", help="Labelled held-out records (the reference).")],
    current: Annotated[Path, typer.Option("--current", help="Production records (raw or coded output).")],
    report: Annotated[Path, typer.Option("--report", help="HTML report to write.")],
    period_col: Annotated[str | None, typer.Option("--period-col", help="Column naming the period of each record.")] = None,
    period_size: Annotated[int | None, typer.Option("--period-size", help="Split into periods of N consecutive records instead.")] = None,
    audit_col: Annotated[str | None, typer.Option("--audit-col", help="Column with auditors' codes for sampled auto records (empty elsewhere).")] = None,
    text: ModelTextOpt = None,
    code: Annotated[str | None, typer.Option("--code", help="Column holding the true codes of the reference (default: the model's code column, else code).")] = None,
    column: Annotated[list[str], typer.Option("--column", help="Auxiliary column to test for drift; repeatable.")] = [],  # noqa: B006
    estimator: Annotated[str, typer.Option("--estimator", help="Label-free estimator that can raise alerts: cbpe, atc, average_confidence, label_shift (with --label-shift).")] = "cbpe",
    label_shift: Annotated[bool, typer.Option("--label-shift", help="Also estimate with EM prior correction (Saerens et al. 2002).")] = False,
    tolerance: Annotated[list[str], typer.Option("--tolerance", help="SIGNAL=VALUE, e.g. accuracy=0.03 or oov_share=0.1; repeatable.")] = [],  # noqa: B006
    q: Annotated[float, typer.Option("--q", help="Error rate of the multiple-testing control per period.")] = 0.05,
    method: Annotated[str, typer.Option("--method", help="bh (Benjamini-Hochberg) or holm.")] = "bh",
    json_out: Annotated[Path | None, typer.Option("--json", help="Write periods and alerts as JSON here.")] = None,
    training: Annotated[Path | None, typer.Option("--training", help="Training data of the model (its texts give the vocabulary for the unseen-token share).")] = None,
    seed: SeedOpt = 0,
    max_text_length: MaxTextLengthOpt = None,
    encoding: EncodingOpt = None,
    label_col: Annotated[str | None, hidden_alias("--label-col")] = None,
    chunk_size: Annotated[int | None, hidden_alias("--chunk-size")] = None,
) -> None:
    """Monitor a coder for decay: drift, label-free accuracy estimates, audit accuracy and alerts."""
    code = use_alias(code, label_col, old="--label-col", new="--code")
    period_size = use_alias(period_size, chunk_size, old="--chunk-size", new="--period-size")
    if period_col is not None and period_size is not None:
        raise ConfigurationError("both --period-col and --period-size were given", where="--period-col / --period-size",
                                 hint="split the current data either by a period column or into periods of N records")
    if period_size is not None and period_size < 1:
        raise ConfigurationError(f"--period-size must be at least 1, got {period_size}", where="--period-size",
                                 hint="e.g. --period-size 1000")
    from statcoder.coder import Coder
    from statcoder.coder.overlap import TrainingDataWarning
    from statcoder.io.atomic import atomic_write_text
    from statcoder.monitoring import AlertPolicy, Monitor
    from statcoder.monitoring.records import split_periods

    policy = AlertPolicy(tolerances=_tolerances(tolerance), q=q, method=method, estimator=estimator)
    coder = Coder.load(model)
    limits = model_limits(coder)
    text = text_columns(text, limits["text_columns"])
    code = code or limits["code_column"] or "code"
    mon = Monitor(coder, text_columns=text, label_column=code, audit_column=audit_col, columns=column,
                  period_column=period_col, chunk_size=period_size, label_shift=label_shift, policy=policy, seed=seed,
                  max_text_length=check_max_text_length(max_text_length, coder))
    with progress() as bar:
        training_texts = None
        if training is not None:
            from statcoder.text import join_columns

            bar.stage(f"reading {training.name}")
            training_frame = read_input(training, encoding=encoding, option="--training")
            check_columns(training_frame, {"--text": text}, path=training)
            training_texts = join_columns(training_frame, text, where=str(training))
        # Both files are read and the periods split before any coding, so that a wrong column
        # or period option fails in seconds, not after the reference has been coded.
        bar.stage(f"reading {reference.name}")
        reference_frame = read_input(reference, encoding=encoding, option="--reference")
        bar.stage(f"reading {current.name}")
        current_frame = read_input(current, encoding=encoding, option="--current")
        # --column is compared between the reference and the periods, so it must be in both files
        check_columns(reference_frame, {"--text": text, "--code": [code], "--column": column}, path=reference)
        check_columns(current_frame, {"--text": text, "--audit-col": [audit_col] if audit_col else [],
                                      "--column": column},
                      path=current)
        periods = split_periods(current_frame, period_column=period_col, chunk_size=period_size, where=str(current))
        bar.stage(f"coding the reference ({len(reference_frame):,} records)")
        with warnings.catch_warnings():  # said below in the CLI's words, naming the file
            warnings.filterwarnings("ignore", category=TrainingDataWarning)
            mon.fit(reference_frame, training_texts=training_texts)
        said = mon.reference_overlap_.warning("the monitoring reference")
        if said:
            warn(f"{said} ({reference}); without held-out records, drift alerts compare production with "
                 "what the model memorised")
        result = mon.calculate(periods, on_progress=bar)
        bar.stage(f"writing {report}")
        result.write_report(report, title=f"Model monitoring: {coder.classification.name}")
    if json_out is not None:
        atomic_write_text(json_out, result.to_json())
    if audit_col and audit_col in current_frame.columns:
        given = int((current_frame[audit_col].astype(str).str.strip() != "").sum())
        used = sum(int(p["n_audited"]) for p in result.summary())
        if given > used:
            warn(f"{given - used:,} of {given:,} audit codes in {audit_col!r} are on records not coded auto and "
                 "were not used: the audit measures the accuracy of auto-coded records")
    from statcoder.monitoring.wording import advice_for, describe_alert, group_alerts
    from statcoder.report import format as fmt

    table = Table(title="Periods", title_justify="left")
    for name in ("period", "records", f"estimated accuracy ({estimator})", "audited", "audit accuracy", "alerts"):
        table.add_column(name, justify="right")
    for p in result.summary():
        est = p["estimated_accuracy"]
        audit = p["audit_accuracy"]
        table.add_row(str(p["period"]), f"{p['n_records']:,}", fmt.number(est, 3),
                      f"{p['n_audited']:,}", fmt.number(audit, 3), f"{p['n_alerts']:,}")
    console.print(table)
    for cause, alerts in group_alerts(result.alerts).items():
        console.print(f"[bold red]{cause}[/]: {len(alerts)} alert(s). {advice_for(cause)}", highlight=False,
                      soft_wrap=True)
        for alert in alerts:
            console.print(f"  {alert.period}: {describe_alert(alert)} ({alert.severity}, since {alert.since})",
                          highlight=False, soft_wrap=True)
    console.print(f"{len(result.alerts)} alert(s); report written to {report}"
                  + (f", JSON to {json_out}" if json_out else ""), highlight=False)
