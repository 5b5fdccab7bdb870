"""The model registry: immutable versions per project, one active, promote and roll back.

A version is the coder's content hash, so the same bytes always get the same name and a
stored version never changes. Every change is recorded in the audit log. Promotion loads the
new model before switching, so requests move to it without a restart (hot swap).
"""

from __future__ import annotations

import json
import re
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy.exc import IntegrityError

from statcoder.errors import InputError, ModelFileError
from statcoder.io.archive_limits import ArchiveLimits, ArchiveTooLargeError, check_npz, check_zip
from statcoder.service.audit import record
from statcoder.service.coding import model_path
from statcoder.service.context import ServiceContext
from statcoder.service.errors import (
    ClassificationMismatchError,
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    shown_id,
)
from statcoder.store import utcnow
from statcoder.store.projects import ProjectRepository
from statcoder.store.registry import ModelRepository
from statcoder.store.tables import ModelActivation, ModelVersion, Project

if TYPE_CHECKING:
    from statcoder.coder import Coder

MAX_ARCHIVE_MEMBERS = 1000
MIN_TRAIN_RECORDS = 10
SAFE_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def _check_classification(project: Project, coder: Coder) -> None:
    fingerprint = coder.classification.fingerprint
    if fingerprint != project.classification_fingerprint:
        raise ClassificationMismatchError(
            f"the model was trained for {coder.classification.name} "
            f"(fingerprint {fingerprint[:12]}), not for the project's {project.classification_name} "
            f"(fingerprint {project.classification_fingerprint[:12]})",
            where="model.json: classification",
            hint="train the model with the project's classification file",
        )


def add_coder(ctx: ServiceContext, project: Project, coder: Coder, *, source: str, actor: str) -> ModelVersion:
    """Store a coder as a new immutable version of the project; returns the version row.

    ClassificationMismatchError if its classification differs from the project's;
    ConflictError if this exact version is already stored.
    """
    _check_classification(project, coder)
    parent = ctx.data_dir / "models" / project.id
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".incoming.", dir=parent))
    try:
        # Saving writes only the files the format knows and stamps the content hash (version).
        coder.save(staging / "model")
        version = coder.version
        if not SAFE_VERSION.match(version):
            raise ModelFileError(f"unexpected model version {version!r}", hint="re-save the model with statcoder")
        relative = model_path(project.id, version)
        final = ctx.data_dir / relative
        with ctx.db.read() as session:
            if ModelRepository(session).get(project.id, version) is not None:
                raise ConflictError(
                    f"model version {version} already exists",
                    hint="versions are immutable; promote the existing one instead",
                )
        if final.exists():  # left by a crash between the copy and the row: replace it
            shutil.rmtree(final)
        (staging / "model").rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    try:
        with ctx.db.write() as session:
            row = ModelRepository(session).add(
                ModelVersion(
                    project_id=project.id, version=version, path=relative,
                    classification_fingerprint=coder.classification.fingerprint,
                    card_json=json.dumps(coder.card.to_dict(), default=str), source=source, created_by=actor,
                    created_at=utcnow(),
                )
            )
            record(session, project.id, actor=actor, action="model.add", target=version,
                   details={"source": source})
    except IntegrityError:  # the same version uploaded twice at the same moment
        raise ConflictError(f"model version {version} already exists", hint="promote it instead") from None
    return row


def archive_limits(ctx: ServiceContext) -> ArchiveLimits:
    """Return the unpacking limits of uploads (model archives, xlsx training files)."""
    size = ctx.settings.max_model_bytes
    return ArchiveLimits(max_total_bytes=size, max_member_bytes=size, max_ratio=ctx.settings.max_archive_ratio,
                         max_members=MAX_ARCHIVE_MEMBERS)


def _safe_extract(archive: Path, into: Path, *, limits: ArchiveLimits) -> None:
    """Extract a .zip or .tar(.gz) refusing absolute paths, '..', links and oversize content.

    Every member's declared size (zip: also its compression ratio) is checked against
    ``limits`` before the first byte is written.
    """
    def check(name: str, size: int, total: int) -> int:
        member = Path(name)
        if member.is_absolute() or ".." in member.parts:
            raise ModelFileError("the archive holds a path outside its root", where=name[:100],
                                 hint="archive the model directory itself")
        total += size
        if total > limits.max_total_bytes:
            raise PayloadTooLargeError(f"the archive unpacks to more than {limits.max_total_bytes} bytes",
                                       hint="check the archive; it may be a decompression bomb")
        return total

    total = 0
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            try:
                check_zip(zf, limits, what="model archive")
            except ArchiveTooLargeError as exc:
                raise PayloadTooLargeError(exc.message, where=exc.where, hint=exc.hint) from None
            for info in zf.infolist():
                total = check(info.filename, info.file_size, total)
            try:
                zf.extractall(into)  # stops at a member's declared size (its CRC then fails)
            except (zipfile.BadZipFile, EOFError):
                raise ModelFileError("the archive is damaged: a file's content does not match its header",
                                     hint="archive the model directory again") from None
        return
    try:
        with tarfile.open(archive) as tf:
            members = []
            for m in tf:  # headers are read one by one; stop at the first member over a limit
                if len(members) >= MAX_ARCHIVE_MEMBERS:
                    raise ModelFileError("the archive has too many files", hint="archive the model directory only")
                if not (m.isfile() or m.isdir()):
                    raise ModelFileError("the archive holds links or devices", where=m.name[:100],
                                         hint="archive plain files only")
                total = check(m.name, m.size, total)
                members.append(m)
            tf.extractall(into, members=members, filter="data")
    except tarfile.TarError:
        raise ModelFileError("the upload is neither a zip nor a tar archive",
                             hint="send the model directory as .zip or .tar.gz") from None


def _model_root(directory: Path) -> Path:
    """Return the directory holding model.json: the root or its single sub-directory."""
    if (directory / "model.json").is_file():
        return directory
    subdirs = [p for p in directory.iterdir() if p.is_dir()]
    if len(subdirs) == 1 and (subdirs[0] / "model.json").is_file():
        return subdirs[0]
    raise ModelFileError("no model.json in the archive", hint="archive a directory written by Coder.save")


def add_archive(ctx: ServiceContext, project: Project, archive: Path, *, actor: str) -> ModelVersion:
    """Unpack an uploaded model archive, verify it (content hash, classification), store it."""
    from statcoder.coder import Coder

    with tempfile.TemporaryDirectory(dir=ctx.data_dir) as tmp:
        _safe_extract(archive, Path(tmp), limits=archive_limits(ctx))
        root = _model_root(Path(tmp))
        if (root / "weights.npz").is_file():  # array sizes from their headers, before numpy allocates
            size = ctx.settings.max_model_bytes
            check_npz(root / "weights.npz", max_array_bytes=size, max_total_bytes=size,
                      max_ratio=ctx.settings.max_archive_ratio)
        try:
            coder = Coder.load(root)
        except (TypeError, KeyError, ValueError, AttributeError, IndexError) as exc:
            # hash-checked files that do not hold what statcoder writes (a crafted upload)
            raise ModelFileError(f"the model's files do not hold a statcoder model ({type(exc).__name__})",
                                 hint="upload a directory written by `statcoder train`, or retrain") from None
        return add_coder(ctx, project, coder, source="upload", actor=actor)


def train_model(
    ctx: ServiceContext, project: Project, data: pd.DataFrame, *, text_columns: list[str],
    code_column: str, target_accuracy: float = 0.95, backend: str = "linear", seed: int = 0,
    actor: str,
) -> ModelVersion:
    """Train a coder on labelled ``data`` with the project's classification and store it."""
    from statcoder.coder import train

    if len(data) > ctx.settings.max_train_records:
        raise PayloadTooLargeError(
            f"{len(data)} training records; the limit is {ctx.settings.max_train_records}",
            hint="train offline with `statcoder train` and upload the model",
        )
    if not 0.5 <= target_accuracy < 1.0:
        raise InputError("target_accuracy must be in [0.5, 1)", where="target_accuracy", hint="e.g. 0.95")
    if len(data) < MIN_TRAIN_RECORDS:
        raise InputError(
            f"{len(data)} training records; at least {MIN_TRAIN_RECORDS} are needed",
            where="file", hint="send more labelled records (several per code)",
        )
    try:
        coder = train(
            data, text_columns=text_columns, code_column=code_column,
            classification=ctx.classification(project), target_accuracy=target_accuracy,
            backend=backend, seed=seed,
        )
    except ValueError as exc:  # e.g. fewer records of a code than cross-validation folds
        raise InputError(
            f"the model cannot be trained on these records ({type(exc).__name__})", where="file",
            hint="send more labelled records: several per code, for most codes",
        ) from None
    return add_coder(ctx, project, coder, source="train", actor=actor)


def list_models(ctx: ServiceContext, project_id: str) -> list[ModelVersion]:
    """Return the project's versions, oldest first."""
    with ctx.db.read() as session:
        return ModelRepository(session).for_project(project_id)


def get_model(ctx: ServiceContext, project_id: str, version: str) -> ModelVersion:
    """Return one version; NotFoundError if the project has no such version."""
    with ctx.db.read() as session:
        row = ModelRepository(session).get(project_id, version)
    if row is None:
        raise NotFoundError(f"model version {shown_id(version)} not found", hint="list the project's models")
    return row


def _activate(
    ctx: ServiceContext, project_id: str, version: str, *, previous_of_target: Any, action: str, actor: str
) -> Project:
    row = get_model(ctx, project_id, version)
    ctx.models.get(project_id, version, row.path)  # load before switching: a bad model never serves
    with ctx.db.write() as session:
        project = ProjectRepository(session).get_for_update(project_id)
        if project is None:
            raise NotFoundError(f"project {shown_id(project_id)} not found", hint="check the project id")
        current = project.active_model_version
        previous = current if previous_of_target is ... else previous_of_target
        ModelRepository(session).add_activation(
            ModelActivation(project_id=project_id, version=version, previous_version=previous,
                            actor=actor, created_at=utcnow())
        )
        project.active_model_version = version
        record(session, project_id, actor=actor, action=action, target=version,
               details={"from": current, "to": version})
    ctx.models.activate(project_id, version, row.path)
    ctx.auth_cache.drop("project", project_id)
    return project


def promote(ctx: ServiceContext, project_id: str, version: str, *, actor: str) -> Project:
    """Make ``version`` the active model (audited); returns the project."""
    return _activate(ctx, project_id, version, previous_of_target=..., action="model.promote", actor=actor)


def rollback(ctx: ServiceContext, project_id: str, *, actor: str) -> Project:
    """Re-activate the version the current one replaced (audited); ConflictError if none.

    Roll-backs unwind like a stack: two roll-backs after two promotions return to the first.
    """
    with ctx.db.read() as session:
        history = ModelRepository(session).activations(project_id)
    if not history or history[0].previous_version is None:
        raise ConflictError("there is no earlier model to roll back to", hint="promote a version instead")
    target = history[0].previous_version
    earlier = next((a for a in history[1:] if a.version == target), None)
    return _activate(
        ctx, project_id, target, previous_of_target=earlier.previous_version if earlier else None,
        action="model.rollback", actor=actor,
    )
