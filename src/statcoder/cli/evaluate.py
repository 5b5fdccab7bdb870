"""``statcoder evaluate``: accuracy per level, automation, calibration, and the quality report."""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from statcoder.cli import app
from statcoder.cli._common import (
    SEED_MAX,
    SEED_MIN,
    CodeOpt,
    DataOpt,
    EncodingOpt,
    MaxTextLengthOpt,
    ModelTextOpt,
    SeedOpt,
    ShowTextsOpt,
    TopKOpt,
    check_max_text_length,
    check_top_k,
    console,
    model_limits,
    progress,
    read_input,
    report_errors,
    text_columns,
    warn,
)
from statcoder.errors import InputError


def _pct(x: object) -> str:
    from statcoder.report.format import pct

    return pct(x)


def _num(x: object, decimals: int = 3) -> str:
    from statcoder.report.format import number

    return number(x, decimals)


def _print_evaluation(results: dict, name: str = "") -> None:
    acc = results["accuracy"]
    table = Table(title=f"Accuracy per level {name}".strip(), title_justify="left")
    for col in ("level", "n", "accuracy (95% CI)", f"top-{acc['top_k']}", "macro-F1", "weighted-F1"):
        table.add_column(col, justify="right")
    for r in acc["by_level"]:
        from statcoder.report.format import share_interval

        table.add_row(
            str(r["level"]), f"{r['n']:,}",
            f"{_num(r['accuracy'])} ({share_interval(r['accuracy_lower'], r['accuracy_upper'])})",
            _num(r["top_k_accuracy"]), _num(r["macro_f1"]), _num(r["weighted_f1"]),
        )
    console.print(table)
    decisions = Table(title="Decisions (accuracy at the level coded)", title_justify="left")
    decisions.add_column("decision")
    for col in ("records", "share", "accuracy", "mean level"):
        decisions.add_column(col, justify="right")
    for r in results["automation"]["summary"]:
        level = r["mean_level"]
        decisions.add_row(r["decision"], f"{r['n']:,}", _pct(r["share"]), _pct(r["accuracy"]), _num(level, 2))
    console.print(decisions)
    c = results["calibration"]
    before = c.get("before")
    console.print(
        f"Expected calibration error (top label, full depth): {_num(c['after']['top_label_ece'], 4)}"
        + (f" (before calibration {_num(before['top_label_ece'], 4)})" if before else "")
        + f"; classwise ECE {_num(c['after']['classwise_ece'], 5)}",
        highlight=False,
    )
    flagged = results["summary"].get("n_flagged_groups", 0)
    if results["subgroups"]["columns"]:
        console.print(f"Subgroups significantly worse than the rest (BH, q < 0.05): {flagged}", highlight=False)


@app.command()
@report_errors
def evaluate(
    model: Annotated[list[Path], typer.Option("--model", help="Model directory; give twice to compare two models.")],
    data: DataOpt,
    code: CodeOpt,
    text: ModelTextOpt = None,
    group: Annotated[list[str], typer.Option("--group", help="Grouping column for subgroup results; repeatable.")] = [],  # noqa: B006
    report: Annotated[Path | None, typer.Option("--report", help="Write the HTML evaluation report (the QF4SA quality dimensions) here.")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write every figure as JSON here.")] = None,
    model_card: Annotated[Path | None, typer.Option("--model-card", help="Write the Markdown model card here.")] = None,
    top_k: TopKOpt = 5,
    bootstrap: Annotated[int, typer.Option("--bootstrap", min=0, help="Bootstrap resamples for intervals.")] = 1000,
    seed: SeedOpt = 0,
    min_cell: Annotated[int, typer.Option("--min-cell", min=1, help="Suppress subgroups below this count.")] = 10,
    minutes_per_record: Annotated[float, typer.Option("--minutes-per-record", min=0, help="Manual coding time.")] = 1.0,
    cost_per_hour: Annotated[float | None, typer.Option("--cost-per-hour", min=0, help="Cost of an hour of coding (none by default: hours only).")] = None,
    partial_effort: Annotated[float, typer.Option("--partial-effort", min=0, max=1, help="Share of manual time a partial record still needs.")] = 0.5,
    cost_per_error: Annotated[float | None, typer.Option("--cost-per-error", min=0, help="Cost of one wrong automatic code (none by default).")] = None,
    volume: Annotated[int | None, typer.Option("--volume", min=1, help="Records per production run for the cost model.")] = None,
    train_data: Annotated[Path | None, typer.Option("--train-data", help="Training data: retrain with other seeds and report churn.")] = None,
    retrain_seed: Annotated[list[int], typer.Option("--retrain-seed", min=SEED_MIN, max=SEED_MAX, help="Seeds for the churn check (0 or more); repeatable.")] = [1, 2],  # noqa: B006
    on_unknown_code: Annotated[str, typer.Option("--on-unknown-code", help="error or drop rows with codes not in the classification.")] = "error",
    show_texts: ShowTextsOpt = False,
    max_text_length: MaxTextLengthOpt = None,
    encoding: EncodingOpt = None,
) -> None:
    """Evaluate MODEL on labelled DATA: accuracy and macro-F1 per level, shares auto/partial/review
    with their accuracy, calibration, top-k accuracy; optionally the full HTML evaluation report."""
    from statcoder.coder import Coder
    from statcoder.coder.overlap import TrainingDataWarning
    from statcoder.evaluation.compare import compare
    from statcoder.evaluation.cost import CostInputs
    from statcoder.evaluation.holistic import evaluate as run_evaluation
    from statcoder.evaluation.holistic import to_json_values
    from statcoder.io import atomic_write_text

    if len(model) > 2:
        raise InputError("at most two models can be compared", hint="pass --model twice")
    check_top_k(top_k)
    cost = CostInputs(minutes_per_record=minutes_per_record, cost_per_hour=cost_per_hour or 0.0,
                      partial_effort=partial_effort, cost_per_error=cost_per_error or 0.0, volume=volume)
    evaluations = []
    with progress() as bar:
        bar.stage(f"reading {data.name}")
        frame = read_input(data, encoding=encoding)
        retrain = read_input(train_data, encoding=encoding, option="--train-data") if train_data is not None else None
        for directory in model:
            bar.stage(f"loading {directory}")
            started = time.perf_counter()
            coder = Coder.load(directory)
            load_seconds = time.perf_counter() - started
            columns = text_columns(text, model_limits(coder)["text_columns"])
            bar.stage(f"evaluating {directory.name} on {len(frame):,} records")
            with warnings.catch_warnings():  # said once below, in the CLI's words, naming the model
                warnings.filterwarnings("ignore", category=TrainingDataWarning)
                evaluations.append(run_evaluation(
                    coder, frame, text_columns=columns, code_column=code, group_columns=group, top_k=top_k,
                    n_boot=bootstrap, seed=seed, min_cell=min_cell, cost=cost, retrain_data=retrain,
                    retrain_seeds=retrain_seed, on_unknown_code=on_unknown_code, source=str(data),
                    timings={"model_load_seconds": load_seconds}, on_progress=bar,
                    max_text_length=check_max_text_length(max_text_length, coder),
                ))
            said = evaluations[-1].results["meta"]["training_overlap"]["warning"]
            if said:
                warn(f"{said} ({directory})")
    payloads = [ev.to_dict() for ev in evaluations]
    for i, payload in enumerate(payloads):
        _print_evaluation(payload, f"({chr(ord('A') + i)}: {payload['meta']['model_version']})" if len(payloads) > 1 else "")
    comparison = None
    if len(evaluations) == 2:
        comparison = compare(evaluations, n_boot=bootstrap, seed=seed)
        diffs = Table(title="B minus A: accuracy difference (paired bootstrap 95% CI, McNemar p)", title_justify="left")
        for col in ("level", "difference", "95% CI", "McNemar p"):
            diffs.add_column(col, justify="right")
        from statcoder.report.format import NA, is_missing, p_value

        for r in comparison["differences"].itertuples():
            interval = (NA + " (--bootstrap 0)" if is_missing(r.lower) or is_missing(r.upper)
                        else f"{r.lower:+.4f} to {r.upper:+.4f}")
            diffs.add_row(str(r.level), f"{r.accuracy_difference:+.4f}", interval, p_value(r.mcnemar_p))
        console.print(diffs)
    if json_path is not None:
        body = payloads[0] if comparison is None else {"comparison": to_json_values(comparison), "models": payloads}
        atomic_write_text(json_path, json.dumps(body, indent=1, allow_nan=False, default=str))
        console.print(f"JSON written to {json_path}", highlight=False)
    if model_card is not None:
        atomic_write_text(model_card, payloads[0]["model_card_markdown"])
        console.print(f"Model card written to {model_card}", highlight=False)
    if report is not None:
        from statcoder.evaluation.report import build_comparison_report, build_report

        html_report = (build_report(evaluations[0], show_texts=show_texts) if comparison is None
                       else build_comparison_report(evaluations, comparison, show_texts=show_texts))
        html_report.write(report)
        note = " (internal: contains unredacted texts)" if show_texts else ""
        console.print(f"Report written to {report}{note}", highlight=False)
