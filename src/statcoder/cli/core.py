"""Core commands: ``train``, ``code``, ``classification check`` and ``demo``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from statcoder.cli import app
from statcoder.cli._common import (
    SEED_MAX,
    SEED_MIN,
    CodeOpt,
    CvFoldsOpt,
    DataOpt,
    EncodingOpt,
    MaxTextLengthOpt,
    ModelOpt,
    ModelTextOpt,
    SeedOpt,
    TargetAccuracyOpt,
    TextOpt,
    TopKOpt,
    TrainMaxTextLengthOpt,
    check_cv_folds,
    check_max_text_length,
    check_target_accuracy,
    check_top_k,
    console,
    err_console,
    hidden_alias,
    model_limits,
    progress,
    read_input,
    report_errors,
    required,
    text_columns,
    use_alias,
    warn,
)
from statcoder.contract import DECISIONS
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
    table = Table(title=f"{path.name}: {len(tree):,} codes, {tree.depth} levels")
    for column in ("level", "name", "codes"):
        table.add_column(column, justify="right" if column != "name" else "left")
    for level, name, count in tree.summary():
        table.add_row(str(level), name, str(count))
    console.print(table)
    console.print(f"leaves: {len(tree.leaves)}; fingerprint {tree.fingerprint[:16]}", highlight=False)


@app.command()
@report_errors
def train(
    data: DataOpt,
    code: CodeOpt,
    out: Annotated[Path, typer.Option("--out", help="Model directory to write.")],
    text: TextOpt = None,
    classification: Annotated[Path | None, typer.Option("--classification", help="Classification CSV.")] = None,
    code_prefix_hierarchy: Annotated[bool, typer.Option("--code-prefix-hierarchy", help="Build the tree from code prefixes.")] = False,
    target_accuracy: TargetAccuracyOpt = 0.95,
    backend: Annotated[str, typer.Option(help="linear (default), fasttext, or linear+fasttext (ensemble).")] = "linear",
    seed: SeedOpt = 0,
    on_unknown_code: Annotated[str, typer.Option(help="error (default) or drop rows with codes not in the classification.")] = "error",
    index: Annotated[Path | None, typer.Option("--index", help="Exact-match index table (text,code) consulted before the model.")] = None,
    cv_folds: CvFoldsOpt = None,
    max_text_length: TrainMaxTextLengthOpt = None,
    flat: Annotated[bool, typer.Option("--flat", help="One flat SVM over all codes instead of the hierarchy-aware model (slower to train).")] = False,
    encoding: EncodingOpt = None,
    embedding_dir: Annotated[Path | None, typer.Option("--embedding-dir", help="Local sentence-embedding model directory (static, or a transformer exported to ONNX) whose embeddings are added to the linear model's features; bundled into the model, nothing is downloaded.")] = None,
    titles: Annotated[bool, typer.Option("--titles/--no-titles", help="Add the classification's titles of the codes as extra training text (never used for calibration).")] = True,
    note_column: Annotated[list[str], typer.Option("--note-column", help="A column of the --classification file (e.g. includes) whose lines are added as extra training text for their code; repeatable.")] = [],  # noqa: B006
    select_model: Annotated[bool, typer.Option("--select-model", help="Choose hierarchy-aware vs flat and C by validation on the first cross-validation fold (slower: one extra model per candidate).")] = False,
    head_weight: Annotated[float, typer.Option("--head-weight", help="Weight of an extra feature block from each text's head (its first line, or first --text column, or first sentence of a long line); 0 = none (default). Opt-in: helps long texts under a title, such as job ads.")] = 0.0,
) -> None:
    """Train a coder from labelled records and write the model directory OUT."""
    check_cv_folds(cv_folds)
    if note_column and classification is None:
        raise ConfigurationError("--note-column needs --classification FILE", where="--note-column",
                                 hint="the notes are read from the classification file's columns")
    if select_model and flat:
        raise ConfigurationError("--select-model chooses between flat and hierarchy-aware itself",
                                 where="--select-model / --flat", hint="leave out --flat")
    if select_model and backend != "linear":
        raise ConfigurationError("--select-model works with --backend linear only", where=f"--backend {backend}",
                                 hint="use --backend linear or leave out --select-model")
    if embedding_dir is not None and backend == "fasttext":
        raise ConfigurationError("--embedding-dir works with the linear backends only", where="--backend fasttext",
                                 hint="use --backend linear or linear+fasttext, or leave out --embedding-dir")
    from statcoder.text.head import check_head_weight  # imports scikit-learn: not at CLI start-up

    check_head_weight(head_weight, where="--head-weight")
    if head_weight > 0 and backend == "fasttext":
        raise ConfigurationError("--head-weight works with the linear backends only", where="--backend fasttext",
                                 hint="use --backend linear or linear+fasttext, or leave out --head-weight")
    check_target_accuracy(target_accuracy)
    limit = check_max_text_length(max_text_length)
    columns = text_columns(text)
    from statcoder.models.persistence import check_model_target

    check_model_target(out)  # before the work: --out must not be a file or a directory of other files
    with progress() as bar:
        bar.stage(f"reading {data.name}")
        frame = read_input(data, encoding=encoding)
        from statcoder.coder import CodingIndex
        from statcoder.coder import train as train_coder

        if code not in frame.columns:
            raise InputError(f"code column {code!r} not found", where=str(data),
                             hint=f"the columns are: {', '.join(map(str, list(frame.columns)[:30]))}")
        tree = _load_classification(classification, code_prefix_hierarchy, frame[code].tolist(), data.stem)
        coding_index = CodingIndex.from_file(index) if index is not None else None
        notes = None
        if note_column:
            from statcoder.coder.train import note_examples

            # notes of codes the training data has, as for titles: a code is not learnt from its notes alone
            notes = note_examples(classification, columns=note_column,
                                  codes={str(c).strip() for c in frame[code].tolist()})
        bar.stage(f"training on {len(frame):,} records")
        coder = train_coder(
            frame, text_columns=columns, code_column=code, classification=tree, target_accuracy=target_accuracy,
            backend=backend, seed=seed, on_unknown_code=on_unknown_code, index=coding_index, cv_folds=cv_folds,
            max_text_length=limit, hierarchical=not flat, on_progress=bar, where=str(data),
            model_params={"embedding_dir": str(embedding_dir)} if embedding_dir is not None else None,
            title_examples=titles, extra_examples=notes, select_model=select_model, head_weight=head_weight,
        )
        bar.stage(f"writing {out}")
        coder.save(out)
    _print_training_summary(coder, out)


def _print_training_summary(coder, out: Path) -> None:
    from statcoder.report import format as fmt

    card = coder.card
    held = card.heldout
    console.print(
        f"trained {card.backend} coder {coder.version} on {fmt.integer(card.training_data.n_records)} records, "
        f"{fmt.integer(card.training_data.n_codes)} codes, in {card.train_seconds:.1f} s -> {out}",
        highlight=False, soft_wrap=True,
    )
    reasons = {"empty_text": "with an empty text", "empty_code": "with an empty code",
               "unknown_code": "with a code not in the classification"}
    dropped = [f"{fmt.integer(n)} {reasons.get(k, k.replace('_', ' '))}"
               for k, n in card.training_data.dropped.items() if n and k != "truncated"]
    if dropped:
        console.print(f"rows left out: {', '.join(dropped)}", highlight=False)
    if card.training_data.n_truncated:
        console.print(f"{card.training_data.n_truncated} text(s) cut to {card.limits.max_text_length} characters",
                      highlight=False)
    if card.head_weight:
        features = getattr(getattr(coder.model, "final_estimator_", None), "features_", None)
        head = getattr(features, "head_", None)
        if head is not None and not sum(head.block_sizes):
            warn(f"--head-weight {card.head_weight:g}: no training text has a head (a first line or field followed "
                 "by more text), so the head block is empty and the model is the one without it")
        else:
            console.print(f"head block: weight {card.head_weight:g}", highlight=False)
    selection = card.model_selection or {}
    if selection.get("candidates"):
        console.print(f"--select-model: {_model_choice(selection)}", highlight=False, soft_wrap=True)
    table = Table(title=f"held-out ({held.cv_folds}-fold) figures, target accuracy {card.target_accuracy}")
    for column in ("level", "top-1 accuracy", "threshold", "coded at this level", "their accuracy"):
        table.add_column(column, justify="right")
    for level, fig in held.levels.items():
        thr = coder.thresholds.get(int(level), float("inf"))
        table.add_row(str(level), fmt.number(fig.accuracy, 3), "never" if thr == float("inf") else fmt.number(thr, 3),
                      fmt.pct(fig.coded_share), fmt.number(fig.coded_accuracy, 3))
    console.print(table)
    shares = ", ".join(
        f"{name} {fmt.pct(v.share)}" + (f" (accuracy {fmt.number(v.accuracy, 3)})" if v.accuracy is not None else "")
        for name, v in held.decisions.items()
    )
    console.print(f"decisions: {shares}; ECE {fmt.number(held.ece, 3)} "
                  f"(before calibration {fmt.number(held.ece_before_calibration, 3)})",
                  highlight=False)


def _model_choice(selection: dict) -> str:
    """Return which candidate ``--select-model`` chose and each one's validation top-1, in words."""
    from statcoder.report import format as fmt

    def name(change: dict) -> str:
        if not change:
            return "the default model"
        return ", ".join("flat (no hierarchy)" if k == "groups" and v is None else f"{k} = {v:g}"
                         if isinstance(v, float) else f"{k} = {v}" for k, v in change.items())

    candidates, tops = selection["candidates"], selection.get("validation_top1", [])
    chosen = selection.get("chosen", 0)
    scores = "; ".join(f"{name(c)}: {fmt.number(t, 3)}" for c, t in zip(candidates, tops, strict=False))
    n = selection.get("validation_n")
    on = f" on {fmt.integer(n)} held-out records of the first fold" if n else ""
    return f"chose {name(candidates[chosen])} (validation top-1{on}: {scores})"


@app.command()
@report_errors
def code(
    model: ModelOpt,
    data: Annotated[Path | None, typer.Option("--data", help="Records to code: csv, tsv, parquet, a directory of Parquet files or a hive-partitioned dataset (also xlsx, sav, dta).")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Output: .csv, .tsv, .parquet, .xlsx, or a directory (Parquet dataset, input partitioning kept).")] = None,
    text: ModelTextOpt = None,
    top_k: TopKOpt = 5,
    max_text_length: MaxTextLengthOpt = None,
    encoding: EncodingOpt = None,
    engine: Annotated[str, typer.Option("--engine", help="local (streaming, all cores) or spark (needs the spark extra of statcoder).")] = "local",
    workers: Annotated[int | None, typer.Option("--workers", help="Local engine: worker processes (default: every core).")] = None,
    chunk_size: Annotated[int, typer.Option("--chunk-size", help="Local engine: records per chunk.")] = 20_000,
    resume: Annotated[bool, typer.Option("--resume", help="Local engine: continue an interrupted run from its last completed chunk.")] = False,
    spark_master: Annotated[str | None, typer.Option("--spark-master", help="Spark engine: master URL (default: spark-submit's, else local[*]).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar or progress lines.")] = False,
    input: Annotated[Path | None, hidden_alias("--input")] = None,
    output: Annotated[Path | None, hidden_alias("--output")] = None,
) -> None:
    """Code the records in DATA with MODEL and write OUT atomically (nothing there until complete)."""
    data = required(use_alias(data, input, old="--input", new="--data"), "--data", "FILE (the records to code)")
    out = required(use_alias(out, output, old="--output", new="--out"), "--out", "FILE or DIRECTORY")
    check_top_k(top_k)
    from types import SimpleNamespace

    from statcoder.batch.progress import batch_progress
    from statcoder.models.persistence import read_model_dir

    if engine not in ("local", "spark"):
        raise InputError(f"unknown engine {engine!r}", where="--engine", hint="use local or spark")
    if workers is not None and workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}", where="--workers", hint="e.g. --workers 2")
    if chunk_size < 1:
        raise InputError(f"--chunk-size must be at least 1, got {chunk_size}", where="--chunk-size",
                         hint="e.g. --chunk-size 20000")
    card, _ = read_model_dir(model)  # hash-checked; the workers load the model themselves
    limits = model_limits(SimpleNamespace(card=card))
    columns = text_columns(text, limits["text_columns"])
    trained_on = list(limits["text_columns"] or [])
    if text and trained_on and columns != trained_on:
        warn(f"the model was trained on the text column(s) {', '.join(trained_on)}; coding with "
             f"{', '.join(columns)}: its accuracy promise refers to texts built like the training texts")
    limit = check_max_text_length(max_text_length, SimpleNamespace(card=card))
    from statcoder.batch.local import check_not_input

    check_not_input(data, out)
    if engine == "spark":
        from statcoder.batch.spark import code_path

        started = time.perf_counter()
        rows = code_path(model, data, out, text_columns=columns, top_k=top_k, max_text_length=limit,
                         master=spark_master)
        seconds = time.perf_counter() - started
        console.print(f"coded {rows:,} records with Spark in {seconds:.1f} s "
                      f"({rows / max(seconds, 1e-9):,.0f} records/s) -> {out}", highlight=False)
        return
    from statcoder.batch import code_files

    try:
        with batch_progress(quiet=quiet) as on_progress:
            result = code_files(model, data, out, text_columns=columns, top_k=top_k, max_text_length=limit,
                                workers=workers, chunk_size=chunk_size, resume=resume, encoding=encoding,
                                on_progress=on_progress)
    except KeyboardInterrupt:
        from statcoder.batch.sinks import finished_chunks

        kept = finished_chunks(out)
        err_console.print(f"interrupted: nothing written at {out}; "
                          + (f"{kept} finished chunk(s) kept: run the same command with --resume to continue"
                             if kept else "no chunk had finished"), highlight=False, soft_wrap=True)
        raise typer.Exit(code=130) from None
    if result.rows == 0 and not result.resumed_chunks:
        warn(f"{data} (--data) has 0 records (a header only); the results below describe no data")
    total = sum(result.decisions.values()) or 1
    resumed = f" (resumed: {result.resumed_chunks} chunk(s) kept from the interrupted run)" if result.resumed_chunks else ""
    console.print(
        f"coded {result.rows:,} records in {result.seconds:.1f} s ({result.rate:,.0f} records/s) -> {out}{resumed}; "
        + ", ".join(f"{k} {result.decisions.get(k, 0) / total:.1%}" for k in DECISIONS),
        highlight=False, soft_wrap=True,
    )
    if result.problems:
        console.print("rows with problems (coded review): " + ", ".join(
            f"{kind} {n:,}" for kind, n in sorted(result.problems.items())), highlight=False, soft_wrap=True)
    if result.problems.get("invalid_encoding") and encoding is None:
        warn(f"{result.problems['invalid_encoding']:,} record(s) have text that is not valid UTF-8 (coded review, "
             "text replaced): if the file is in another encoding, code it again with --encoding (e.g. cp1250, "
             "latin-1)")


@app.command()
@report_errors
def demo(
    workdir: Annotated[Path | None, typer.Option(help="Where to cache the download and write outputs (default .demo).")] = None,
    seed: Annotated[int, typer.Option(min=SEED_MIN, max=SEED_MAX, help="Random seed of the 80/20 split and training.")] = 0,
) -> None:
    """Train and evaluate a coder on the ONS UK SOC 2010 coding index, end to end."""
    from statcoder.demo import run_demo
    from statcoder.settings import get_settings

    with progress() as bar:
        run_demo(workdir or get_settings().demo_dir, seed=seed, console=console, on_progress=bar)

