"""``statcoder quality``: training-data checks before a model is trained on the data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from statcoder.cli import app
from statcoder.cli._common import (
    CodeOpt,
    CvFoldsOpt,
    DataOpt,
    EncodingOpt,
    SeedOpt,
    TextOpt,
    TrainMaxTextLengthOpt,
    check_cv_folds,
    check_max_text_length,
    console,
    hidden_alias,
    progress,
    read_input,
    report_errors,
    text_columns,
    use_alias,
    warn,
)
from statcoder.errors import ConfigurationError, InputError


def _split_columns(values: list[str] | None) -> list[str]:
    # accepts "--coder-columns a,b" as well as "--coder-columns a --coder-columns b"
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


def read_expected_shares(path: Path, *, encoding: str | None = None) -> dict[str, float]:
    """Read a table with a ``code`` column and a ``share`` (or ``expected_share``/``count``) column."""
    from statcoder.io import read_table

    frame = read_table(path, encoding=encoding)
    value_col = next((c for c in ("share", "expected_share", "count") if c in frame.columns), None)
    if "code" not in frame.columns or value_col is None:
        raise InputError(
            "the expected-shares file needs a 'code' column and a 'share' column",
            where=str(path),
            hint="one row per code: code,share (proportions or counts; they are rescaled to sum to 1)",
        )
    shares: dict[str, float] = {}
    for i, (code, value) in enumerate(zip(frame["code"], frame[value_col]), start=2):
        try:
            shares[str(code).strip()] = shares.get(str(code).strip(), 0.0) + float(value)
        except ValueError:
            raise InputError(
                f"share {value!r} is not a number", where=f"{path}: row {i}, column {value_col}",
                hint="write shares as plain numbers, e.g. 0.012",
            ) from None
    return shares


def review_sink(project: str):
    """A callable ``(suspicious, text_columns) -> tasks created`` for the service project ``project``.

    The tasks are made by the service use case
    ``statcoder.service.review.add_quality_tasks(ctx, project_id, suspicious, *, text_columns, actor) -> int``.
    Raises ``ConfigurationError`` before any work is done when the service does not offer it.
    """
    try:
        from statcoder.service.context import ServiceContext
        from statcoder.service.review import add_quality_tasks  # type: ignore[attr-defined]
    except ImportError:
        raise ConfigurationError(
            "--to-review needs the service part of statcoder (statcoder.service.review.add_quality_tasks, "
            "which turns suspicious records into review tasks); this installation does not provide it",
            where=f"--to-review {project}",
            hint="leave out --to-review and send suspicious.csv to the coders, or use a statcoder with that service function",
        ) from None

    def send(suspicious, text_columns: list[str]) -> int:
        ctx = ServiceContext()
        ctx.start()
        try:
            return int(add_quality_tasks(ctx, project, suspicious, text_columns=text_columns, actor="cli:quality"))
        finally:
            ctx.close()

    return send


@app.command("quality")
@report_errors
def quality(
    data: DataOpt,
    code: CodeOpt,
    classification: Annotated[Path, typer.Option("--classification", help="Classification CSV (code,title,level,parent).")],
    out: Annotated[Path, typer.Option("--out", help="Directory for report.html and suspicious.csv.")],
    text: TextOpt = None,
    redact: Annotated[bool, typer.Option("--redact", help="Redact personal data in the texts before training and in suspicious.csv.")] = False,
    coder_columns: Annotated[
        list[str] | None,
        typer.Option("--coder-columns", help="Code columns of double coding (comma-separated or repeated) for coder agreement."),
    ] = None,
    expected_shares: Annotated[
        Path | None, typer.Option("--expected-shares", help="Table code,share with the expected population share of codes.")
    ] = None,
    to_review: Annotated[
        str | None, typer.Option("--to-review", help="Service project: create review tasks for the suspicious records.")
    ] = None,
    min_examples: Annotated[int, typer.Option(help="Codes with fewer training examples are reported as 'few'.")] = 5,
    filter_by: Annotated[
        str, typer.Option(help="both | prune_by_noise_rate | prune_by_class | confident_learning | predicted_neq_given")
    ] = "both",
    score: Annotated[str, typer.Option(help="normalized_margin | self_confidence")] = "normalized_margin",
    group_level: Annotated[int | None, typer.Option(help="Level of the 'same group' test (default: one above the deepest).")] = None,
    backend: Annotated[str, typer.Option(help="Model for out-of-fold probabilities: linear | fasttext.")] = "linear",
    cv_folds: CvFoldsOpt = None,
    seed: SeedOpt = 0,
    max_text_length: TrainMaxTextLengthOpt = None,
    encoding: EncodingOpt = None,
    folds: Annotated[int | None, hidden_alias("--folds")] = None,
) -> None:
    """Check training data: label errors, coverage, duplicates/conflicts, coder agreement, personal data."""
    from statcoder.classifications import Classification
    from statcoder.io import write_table_atomic
    from statcoder.quality.check import check_training_data
    from statcoder.quality.report import quality_report

    if filter_by not in ("both", "prune_by_noise_rate", "prune_by_class", "confident_learning", "predicted_neq_given"):
        raise ConfigurationError(f"unknown --filter-by {filter_by!r}", where="--filter-by",
                                 hint="both, prune_by_noise_rate, prune_by_class, confident_learning or predicted_neq_given")
    if score not in ("normalized_margin", "self_confidence"):
        raise ConfigurationError(f"unknown --score {score!r}", where="--score", hint="normalized_margin or self_confidence")
    if out.exists() and not out.is_dir():
        raise InputError("--out must be a directory", where=str(out), hint="give a directory path (it is created)")
    cv_folds = check_cv_folds(use_alias(cv_folds, folds, old="--folds", new="--cv-folds"))
    limit = check_max_text_length(max_text_length)
    text = text_columns(text)
    sink = review_sink(to_review) if to_review else None
    tree = Classification.from_csv(classification)
    coders = _split_columns(coder_columns)
    if coders and len(coders) < 2:
        raise InputError("--coder-columns needs at least two columns", where="--coder-columns",
                         hint="e.g. --coder-columns code_a,code_b")
    with progress() as bar:
        bar.stage(f"reading {data.name}")
        frame = read_input(data, encoding=encoding)
        shares = read_expected_shares(expected_shares, encoding=encoding) if expected_shares else None
        from statcoder.text import join_columns

        # the same length rule as `statcoder train` on the same data: over-long texts are cut and counted
        n_long = sum(len(t) > limit for t in join_columns(frame, text, where=str(data)))
        if n_long:
            warn(f"{n_long:,} text(s) longer than {limit:,} characters cut to that length ({data}), as train cuts them")
        bar.stage(f"checking {len(frame):,} records (personal data, coverage, duplicates)")
        result = check_training_data(
            frame, text_columns=text, code_column=code, classification=tree, redact=redact,
            coder_columns=coders or None, expected_shares=shares, min_examples=min_examples,
            filter_by=filter_by, score=score, group_level=group_level, backend=backend,
            n_splits=cv_folds, seed=seed, on_progress=bar, max_text_length=limit, where=str(data),
        )
        bar.stage(f"writing {out}")
        suspicious = result.suspicious_records()
        out.mkdir(parents=True, exist_ok=True)
        write_table_atomic(suspicious, out / "suspicious.csv")
        quality_report(result).write(out / "report.html")

    flagged = len(suspicious)
    console.print(f"{result.n_records:,} records checked; {flagged:,} suspected label errors", highlight=False)
    deepest = result.coverage.per_level.iloc[-1]
    console.print(
        f"coverage at level {int(deepest['level'])}: {int(deepest['n_missing'])} codes without examples, "
        f"{int(deepest['n_few'])} with fewer than {min_examples}",
        highlight=False,
    )
    unknown = result.coverage.unknown_codes
    if len(unknown):
        n_rows = int(unknown["n_records"].sum())
        listed = ", ".join(f"{c} ({n:,})" for c, n in zip(unknown["code"].head(5), unknown["n_records"].head(5),
                                                          strict=True))
        warn(f"{n_rows:,} of {result.n_records:,} rows have a code not in {tree.name} "
             f"({len(unknown):,} distinct: {listed}{' ...' if len(unknown) > 5 else ''}); "
             "train refuses them (or leaves them out with --on-unknown-code drop)")
    console.print(
        f"{result.duplicates.n_conflicting_texts:,} texts with more than one code; "
        f"personal data in {result.pii.n_touched:,} records" + (" (redacted)" if redact else ""),
        highlight=False,
    )
    console.print(f"wrote {out / 'report.html'} and {out / 'suspicious.csv'}", highlight=False)
    if sink is not None:
        created = sink(suspicious, text)
        console.print(f"created {created:,} review tasks in project {to_review}", highlight=False)
