"""``statcoder calibrate``: re-choose a model's calibration and thresholds on the target population."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from statcoder.cli import app
from statcoder.cli._common import (
    EncodingOpt,
    ModelTextOpt,
    console,
    read_input,
    report_errors,
    text_columns,
    warn,
)


@app.command()
@report_errors
def calibrate(
    model: Annotated[Path, typer.Option("--model", help="Model directory written by `statcoder train`.")],
    data: Annotated[Path, typer.Option("--data", help="Labelled sample of the records to code (csv, parquet, xlsx...).")],
    code: Annotated[str, typer.Option("--code", help="Column holding the true codes.")],
    out: Annotated[Path, typer.Option("--out", help="New model directory to write.")],
    text: ModelTextOpt = None,
    source: Annotated[str | None, typer.Option(help="What the sample is, for the model card (default: the file name).")] = None,
    encoding: EncodingOpt = None,
) -> None:
    """Recalibrate MODEL on a labelled sample of the target population and write OUT.

    The model's weights are kept; its probability calibration, per-level thresholds and
    prediction-set quantiles are re-chosen on the sample, and the new model card records which
    data the accuracy promise refers to.
    """
    from statcoder.coder import Coder
    from statcoder.errors import InputError
    from statcoder.models.persistence import check_model_target
    from statcoder.text import join_columns

    if out.resolve() == model.resolve():
        raise InputError("--out must be a new directory, not the model being recalibrated", where=str(out),
                         hint="write the recalibrated model next to the original, e.g. MODEL-calibrated")
    check_model_target(out)
    coder = Coder.load(model)
    frame = read_input(data, encoding=encoding)
    if code not in frame.columns:
        raise InputError(f"code column {code!r} not found", where=str(data),
                         hint=f"the columns are: {', '.join(map(str, list(frame.columns)[:30]))}")
    columns = text_columns(text, coder.card.limits.text_columns)
    texts = join_columns(frame, columns, where=str(data))
    codes = frame[code].fillna("").astype(str).str.strip().tolist()
    keep = [i for i, c in enumerate(codes) if c]
    if len(keep) < len(codes):
        warn(f"{len(codes) - len(keep):,} record(s) of {data} without a code ({code!r}) left out")
    new = coder.recalibrate([texts[i] for i in keep], [codes[i] for i in keep], source=source or data.name)
    new.save(out)
    held = new.card.heldout
    console.print(
        f"recalibrated {coder.version} on {held.n:,} records of {new.card.calibration_data.source} -> "
        f"{new.version} ({out}); temperature {held.temperature:.3f}, ECE {held.ece:.3f}",
        highlight=False,
    )
    shares = ", ".join(
        f"{name} {v.share:.1%}" + (f" (accuracy {v.accuracy:.3f})" if v.accuracy is not None else "")
        for name, v in held.decisions.items()
    )
    console.print(f"decisions on the sample: {shares}", highlight=False)
