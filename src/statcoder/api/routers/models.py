"""Model-registry routes: list, upload, train, promote, roll back (scope ``admin``)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path as FsPath
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Path, UploadFile

from statcoder.api import convert
from statcoder.api.deps import AdminProject, AnyProject, ContextDep, PrincipalDep
from statcoder.api.routers.common import ERRORS
from statcoder.api.schemas import ModelList, ModelOut, ProjectOut
from statcoder.errors import InputError
from statcoder.io.archive_limits import check_zip
from statcoder.service import registry

router = APIRouter(prefix="/v1/projects/{project_id}/models", tags=["models"], responses=ERRORS)
Version = Annotated[str, Path(min_length=1, max_length=64)]
TABLE_SUFFIXES = {".csv", ".tsv", ".txt", ".parquet", ".xlsx"}


def _spool(upload: UploadFile, directory: FsPath, suffix: str) -> FsPath:
    target = directory / f"upload{suffix}"
    with open(target, "wb") as out:
        shutil.copyfileobj(upload.file, out, length=1 << 20)
    return target


@router.get("", response_model=ModelList)
def list_models(project: AnyProject, ctx: ContextDep) -> ModelList:
    """The project's versions, oldest first, and which one is active."""
    active = project.active_model_version
    rows = registry.list_models(ctx, project.id)
    return ModelList(active_version=active, models=[convert.model_out(m, active) for m in rows])


@router.get("/{version}", response_model=ModelOut)
def get_model(version: Version, project: AnyProject, ctx: ContextDep) -> ModelOut:
    """One version with its model card."""
    return convert.model_out(registry.get_model(ctx, project.id, version), project.active_model_version)


@router.post("", response_model=ModelOut, status_code=201)
def upload_model(
    project: AdminProject, principal: PrincipalDep, ctx: ContextDep,
    file: Annotated[UploadFile, File(description="a model directory (Coder.save) as .zip or .tar.gz")],
) -> ModelOut:
    """Upload a saved model. Refused if tampered with or trained for another classification."""
    with tempfile.TemporaryDirectory(dir=ctx.data_dir) as tmp:
        archive = _spool(file, FsPath(tmp), ".archive")
        row = registry.add_archive(ctx, project, archive, actor=principal.actor)
    return convert.model_out(row, project.active_model_version)


@router.post("/train", response_model=ModelOut, status_code=201)
def train_model(
    project: AdminProject, principal: PrincipalDep, ctx: ContextDep,
    file: Annotated[UploadFile, File(description="labelled records (.csv, .parquet, .xlsx)")],
    text_columns: Annotated[str, Form(max_length=2000, description="comma-separated")] = "text",
    code_column: Annotated[str, Form(max_length=200)] = "code",
    target_accuracy: Annotated[float, Form(ge=0.5, lt=1.0)] = 0.95,
    backend: Annotated[Literal["linear", "fasttext"], Form()] = "linear",
    seed: Annotated[int, Form(ge=0, le=2**31 - 1)] = 0,
) -> ModelOut:
    """Train a model on labelled records with the project's classification (synchronous)."""
    from statcoder.io import read_table

    suffix = FsPath(file.filename or "").suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InputError(f"unsupported training file type {suffix or '(none)'!r}", where="file",
                         hint="send .csv, .parquet or .xlsx")
    columns = [c.strip() for c in text_columns.split(",") if c.strip()]
    with tempfile.TemporaryDirectory(dir=ctx.data_dir) as tmp:
        spooled = _spool(file, FsPath(tmp), suffix)
        if suffix == ".xlsx":  # a zip: declared sizes checked before openpyxl unpacks anything
            check_zip(spooled, registry.archive_limits(ctx), what="training file")
        data = read_table(spooled)
    row = registry.train_model(
        ctx, project, data, text_columns=columns, code_column=code_column,
        target_accuracy=target_accuracy, backend=backend, seed=seed, actor=principal.actor,
    )
    return convert.model_out(row, project.active_model_version)


@router.post("/{version}/promote", response_model=ProjectOut)
def promote(version: Version, project: AdminProject, principal: PrincipalDep, ctx: ContextDep) -> ProjectOut:
    """Make this version the active model; requests switch to it at once."""
    return convert.project_out(registry.promote(ctx, project.id, version, actor=principal.actor))


@router.post("/rollback", response_model=ProjectOut)
def rollback(project: AdminProject, principal: PrincipalDep, ctx: ContextDep) -> ProjectOut:
    """Re-activate the model the current one replaced."""
    return convert.project_out(registry.rollback(ctx, project.id, actor=principal.actor))
