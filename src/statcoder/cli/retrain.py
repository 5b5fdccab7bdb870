"""``statcoder retrain --project P``: train a candidate on training data + coders' decisions, gate it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from statcoder.cli import app
from statcoder.cli._common import SEED_MAX, SEED_MIN, console, progress, report_errors


@app.command()
@report_errors
def retrain(
    project: Annotated[str, typer.Option("--project", help="project id of the coding service")],
    data: Annotated[Path | None, typer.Option(
        "--data", help="labelled training data to store as the project's base (CSV/Parquet/XLSX); "
        "kept for later retrains")] = None,
    text: Annotated[list[str] | None, typer.Option("--text", help="text column(s) of --data")] = None,
    code: Annotated[str, typer.Option("--code", help="code column of --data")] = "code",
    seed: Annotated[int, typer.Option(min=SEED_MIN, max=SEED_MAX, help="seed of the held-out split, training and bootstrap (0 or more)")] = 0,
    heldout_share: Annotated[float, typer.Option(help="share of decisions held out for the comparison")] = 0.3,
    min_heldout: Annotated[int, typer.Option(help="fewest held-out decisions to compare on")] = 30,
    data_dir: Annotated[Path | None, typer.Option(help="data directory (default: STATCODER_DATA_DIR)")] = None,
    database_url: Annotated[str | None, typer.Option(help="database URL (default: STATCODER_DATABASE_URL)")] = None,
) -> None:
    """Retrain PROJECT's model on its training data plus the coders' decisions.

    The candidate is compared with the active model on the same held-out decisions (audit and
    double-coded first) and promoted only if it is not worse in top-1 accuracy and in the
    automation share at the target accuracy; otherwise it is kept as a candidate.
    """
    from statcoder.cli.service import _actor, _context
    from statcoder.errors import InputError
    from statcoder.io import read_table
    from statcoder.service.projects import get_project
    from statcoder.service.workbench.retrain import retrain as run_retrain
    from statcoder.service.workbench.retrain import set_training_data

    if not 0.0 < heldout_share < 1.0:
        raise InputError("--heldout-share must be between 0 and 1", where="--heldout-share", hint="e.g. 0.3")
    ctx = _context(data_dir, database_url)
    try:
        target = get_project(ctx, project)
        if data is not None:
            n = set_training_data(ctx, target, read_table(data), text_columns=list(text or ["text"]),
                                  code_column=code)
            console.print(f"stored {n:,} training records for {project}")
        with progress() as bar:
            run = run_retrain(ctx, target, actor=_actor(), seed=seed, heldout_share=heldout_share,
                              min_heldout=min_heldout, on_progress=bar)
        comparison = json.loads(run.comparison_json)
        console.print(f"{run.status}: candidate {run.candidate_version} (active was {run.active_version})")
        console.print(comparison.get("verdict", ""))
    finally:
        ctx.close()
