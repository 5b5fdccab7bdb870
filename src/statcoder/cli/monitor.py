"""``statcoder monitor``: compare production periods with the reference, alert, write the report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from statcoder.cli import app
from statcoder.cli._common import console, progress, report_errors
from statcoder.errors import ConfigurationError


def _tolerances(items: list[str]) -> dict[str, float]:
    out = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise ConfigurationError(f"cannot read tolerance {item!r}", where="--tolerance",
                                     hint="write SIGNAL=VALUE, e.g. --tolerance accuracy=0.03") from None
    return out


@app.command()
@report_errors
def monitor(
    model: Annotated[Path, typer.Option("--model", help="Model directory (from statcoder train).")],
    reference: Annotated[Path, typer.Option("--reference", help="Labelled held-out records (the reference).")],
    current: Annotated[Path, typer.Option("--current", help="Production records (raw or coded output).")],
    report: Annotated[Path, typer.Option("--report", help="HTML report to write.")],
    period_col: Annotated[str | None, typer.Option("--period-col", help="Column naming the period of each record.")] = None,
    chunk_size: Annotated[int | None, typer.Option("--chunk-size", help="Split into periods of N consecutive records instead.")] = None,
    audit_col: Annotated[str | None, typer.Option("--audit-col", help="Column with auditors' codes for sampled auto records (empty elsewhere).")] = None,
    text: Annotated[list[str], typer.Option("--text", help="Text column(s); repeat for several.")] = ["text"],  # noqa: B006
    label_col: Annotated[str, typer.Option("--label-col", help="True-code column of the reference.")] = "code",
    column: Annotated[list[str], typer.Option("--column", help="Auxiliary column to test for drift; repeatable.")] = [],  # noqa: B006
    estimator: Annotated[str, typer.Option("--estimator", help="Label-free estimator that can raise alerts: cbpe, atc, average_confidence, label_shift (with --label-shift).")] = "cbpe",
    label_shift: Annotated[bool, typer.Option("--label-shift", help="Also estimate with EM prior correction (Saerens et al. 2002).")] = False,
    tolerance: Annotated[list[str], typer.Option("--tolerance", help="SIGNAL=VALUE, e.g. accuracy=0.03 or oov_share=0.1; repeatable.")] = [],  # noqa: B006
    q: Annotated[float, typer.Option("--q", help="Error rate of the multiple-testing control per period.")] = 0.05,
    method: Annotated[str, typer.Option("--method", help="bh (Benjamini-Hochberg) or holm.")] = "bh",
    json_out: Annotated[Path | None, typer.Option("--json", help="Write periods and alerts as JSON here.")] = None,
    training: Annotated[Path | None, typer.Option("--training", help="Training data of the model (its texts give the vocabulary for the unseen-token share).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of permutations and simulations.")] = 0,
) -> None:
    """Monitor a coder for decay: drift, label-free accuracy estimates, audit accuracy and alerts."""
    from statcoder.coder import Coder
    from statcoder.io import read_table
    from statcoder.io.atomic import atomic_write_text
    from statcoder.monitoring import AlertPolicy, Monitor

    policy = AlertPolicy(tolerances=_tolerances(tolerance), q=q, method=method, estimator=estimator)
    coder = Coder.load(model)
    mon = Monitor(coder, text_columns=text, label_column=label_col, audit_column=audit_col, columns=column,
                  period_column=period_col, chunk_size=chunk_size, label_shift=label_shift, policy=policy, seed=seed)
    with progress() as bar:
        training_texts = None
        if training is not None:
            from statcoder.text import join_columns

            training_texts = join_columns(read_table(training), text, where=str(training))
        mon.fit(read_table(reference), training_texts=training_texts)
        result = mon.calculate(read_table(current), on_progress=bar)
    result.write_report(report, title=f"Model monitoring: {coder.classification.name}")
    if json_out is not None:
        atomic_write_text(json_out, result.to_json())
    table = Table(title="Periods", title_justify="left")
    for name in ("period", "records", f"estimated accuracy ({estimator})", "audited", "audit accuracy", "alerts"):
        table.add_column(name, justify="right")
    for p in result.summary():
        est = p["estimated_accuracy"]
        audit = p["audit_accuracy"]
        table.add_row(str(p["period"]), f"{p['n_records']:,}", "-" if est is None else f"{est:.3f}",
                      str(p["n_audited"]), "-" if audit is None else f"{audit:.3f}", str(p["n_alerts"]))
    console.print(table)
    for alert in result.alerts:
        level = "" if alert.level is None else f" level {alert.level}"
        console.print(f"[bold red]alert[/] {alert.period}: {alert.signal}{level} size {alert.size:+.3f} "
                      f"(tolerance {alert.tolerance:g}, since {alert.since})", highlight=False)
    console.print(f"{len(result.alerts)} alert(s); report written to {report}"
                  + (f", JSON to {json_out}" if json_out else ""), highlight=False)
