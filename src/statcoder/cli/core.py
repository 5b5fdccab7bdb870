"""Core commands: ``train``, ``code``, ``classification check`` and ``demo``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from statcoder.cli import app
from statcoder.cli._common import console, progress, report_errors
from statcoder.errors import ConfigurationError, InputError

classification_app = typer.Typer(help="Work with classification files.", no_args_is_help=True)
app.add_typer(classification_app, name="classification")


def _load_classification(path: Path | None, prefix: bool, codes: list[str] | None, name: str):
    from statcoder.classifications import Classification

    if path is not None and prefix:
        raise ConfigurationError("give either --classification or --code-prefix-hierarchy, not both")
    if path is not None:
        return Classification.from_csv(path)
    if prefix and codes is not None:
        return Classification.from_codes(codes, name=name)
    raise ConfigurationError(
        "no classification given",
        hint="pass --classification FILE (code,title,level,parent) or --code-prefix-hierarchy",
    )


@classification_app.command("check")
@report_errors
def classification_check(path: Annotated[Path, typer.Argument(help="Classification CSV (code,title,level,parent).")]) -> None:
    """Validate a classification file and print codes per level, or every problem with its line."""
    from statcoder.classifications import check_file

    tree, problems = check_file(path)
    if problems:
        console.print(f"[bold red]{len(problems)} problem(s)[/] in {path}:", highlight=False)
        for problem in problems:
            console.print(f"  {path}:{problem.line}: {problem.message}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1)
    assert tree is not None
    table = Table(title=f"{path.name}: {len(tree)} codes, {tree.depth} levels")
    for column in ("level", "name", "codes"):
        table.add_column(column, justify="right" if column != "name" else "left")
    for level, name, count in tree.summary():
        table.add_row(str(level), name, str(count))
    console.print(table)
    console.print(f"leaves: {len(tree.leaves)}; fingerprint {tree.fingerprint[:16]}", highlight=False)


@app.command()
@report_errors
def train(
    data: Annotated[Path, typer.Option("--data", help="Labelled records (csv, tsv, parquet, xlsx, sav, dta).")],
    code: Annotated[str, typer.Option("--code", help="Column holding the codes.")],
    out: Annotated[Path, typer.Option("--out", help="Model directory to write.")],
    text: Annotated[list[str], typer.Option("--text", help="Text column(s); repeat for several.")] = ["text"],  # noqa: B006
    classification: Annotated[Path | None, typer.Option("--classification", help="Classification CSV.")] = None,
    code_prefix_hierarchy: Annotated[bool, typer.Option("--code-prefix-hierarchy", help="Build the tree from code prefixes.")] = False,
    target_accuracy: Annotated[float, typer.Option(help="Accuracy that auto-coded records must reach.")] = 0.95,
    backend: Annotated[str, typer.Option(help="linear (default), fasttext, or linear+fasttext (ensemble).")] = "linear",
    seed: Annotated[int, typer.Option(help="Random seed (folds, solvers).")] = 0,
    on_unknown_code: Annotated[str, typer.Option(help="error (default) or drop rows with codes not in the classification.")] = "error",
    index: Annotated[Path | None, typer.Option("--index", help="Exact-match index table (text,code) consulted before the model.")] = None,
    cv_folds: Annotated[int | None, typer.Option(help="Cross-validation folds (default 5, or 3 above 20,000 records).")] = None,
    max_text_length: Annotated[int, typer.Option(help="Longest text accepted, in characters.")] = 10_000,
    flat: Annotated[bool, typer.Option("--flat", help="One flat SVM over all codes instead of the hierarchy-aware model (slower to train).")] = False,
) -> None:
    """Train a coder from labelled records and write the model directory OUT."""
    from statcoder.coder import CodingIndex
    from statcoder.coder import train as train_coder
    from statcoder.io import read_table

    frame = read_table(data)
    if code not in frame.columns:
        raise InputError(f"code column {code!r} not found", where=str(data),
                         hint=f"the columns are: {', '.join(map(str, list(frame.columns)[:30]))}")
    tree = _load_classification(classification, code_prefix_hierarchy, frame[code].tolist(), data.stem)
    coding_index = CodingIndex.from_file(index) if index is not None else None
    with progress() as bar:
        coder = train_coder(
            frame, text_columns=text, code_column=code, classification=tree, target_accuracy=target_accuracy,
            backend=backend, seed=seed, on_unknown_code=on_unknown_code, index=coding_index, cv_folds=cv_folds,
            max_text_length=max_text_length, hierarchical=not flat, on_progress=bar, where=str(data),
        )
    coder.save(out)
    _print_training_summary(coder, out)


def _print_training_summary(coder, out: Path) -> None:
    card = coder.card
    held = card["heldout"]
    console.print(
        f"trained {card['backend']} coder {coder.version} on {card['training_data']['n_records']} records, "
        f"{card['training_data']['n_codes']} codes, in {card['train_seconds']:.1f} s -> {out}",
        highlight=False,
    )
    dropped = {k: v for k, v in card["training_data"]["dropped"].items() if v}
    if dropped:
        console.print(f"rows left out: {dropped}", highlight=False)
    table = Table(title=f"held-out ({held['cv_folds']}-fold) figures, target accuracy {card['target_accuracy']}")
    for column in ("level", "top-1 accuracy", "threshold", "coded at this level", "their accuracy"):
        table.add_column(column, justify="right")
    for level, fig in held["levels"].items():
        thr = coder.thresholds.get(int(level), float("inf"))
        table.add_row(level, f"{fig['accuracy']:.3f}", "never" if thr == float("inf") else f"{thr:.3f}",
                      f"{fig['coded_share']:.1%}",
                      "–" if fig["coded_accuracy"] is None else f"{fig['coded_accuracy']:.3f}")
    console.print(table)
    shares = ", ".join(
        f"{name} {v['share']:.1%}" + (f" (accuracy {v['accuracy']:.3f})" if v.get("accuracy") is not None else "")
        for name, v in held["decisions"].items()
    )
    console.print(f"decisions: {shares}; ECE {held['ece']:.3f} (before calibration {held['ece_before_calibration']:.3f})",
                  highlight=False)


@app.command()
@report_errors
def code(
    model: Annotated[Path, typer.Option("--model", help="Model directory written by `statcoder train`.")],
    input: Annotated[Path, typer.Option("--input", help="Records to code (csv, tsv, parquet, xlsx, sav, dta).")],
    output: Annotated[Path, typer.Option("--output", help="Output file; format from the extension (csv, parquet, xlsx).")],
    text: Annotated[list[str] | None, typer.Option("--text", help="Text column(s); default: those the model was trained on.")] = None,
    top_k: Annotated[int, typer.Option("--top-k", help="Candidates listed per record.")] = 5,
    max_text_length: Annotated[int, typer.Option(help="Longest text accepted, in characters.")] = 10_000,
) -> None:
    """Code the records in INPUT with MODEL and write OUTPUT atomically."""
    from statcoder.coder import Coder
    from statcoder.io import write_table_atomic

    coder = Coder.load(model)
    columns = text or coder.card.get("training_data", {}).get("text_columns", ["text"])
    started = time.perf_counter()
    with progress() as bar:
        coded = coder.code_file(input, text_columns=columns, top_k=top_k, max_text_length=max_text_length,
                                on_progress=bar)
    seconds = time.perf_counter() - started
    coded["model_version"] = coder.version
    write_table_atomic(coded, output)
    shares = coded["decision"].value_counts(normalize=True)
    console.print(
        f"coded {len(coded)} records in {seconds:.1f} s ({len(coded) / max(seconds, 1e-9):,.0f} records/s) -> {output}; "
        + ", ".join(f"{k} {shares.get(k, 0):.1%}" for k in ("auto", "partial", "review")),
        highlight=False,
    )


@app.command()
@report_errors
def demo(
    workdir: Annotated[Path | None, typer.Option(help="Where to cache the download and write outputs (default .demo).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed of the 80/20 split and training.")] = 0,
) -> None:
    """Train and evaluate a coder on the ONS UK SOC 2010 coding index, end to end."""
    from statcoder.demo import run_demo
    from statcoder.settings import get_settings

    run_demo(workdir or get_settings().demo_dir, seed=seed, console=console)

