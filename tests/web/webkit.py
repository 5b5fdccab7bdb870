"""Helpers of the workbench tests: a project with a real model, queued tasks, accounts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from kit import write_classification

from statcoder.service import accounts, projects, registry
from statcoder.store.review import ReviewRepository

PASSWORD = "correct horse battery"
# texts of the fixture classification (see tests/service/kit.py): bakers 11, butchers 12,
# carpenters 21, electricians 22
TEXTS = {
    "11": ["bread oven", "pastry dough", "bakery bread", "oven dough pastry"],
    "12": ["meat sausage", "abattoir carcass", "butcher meat", "slaughter sausage"],
    "21": ["timber joiner", "wood cabinet", "furniture carpenter", "joiner wood"],
    "22": ["wiring cable", "circuit voltage", "electrical wiring", "cable electrician"],
}


def make_project(ctx, project_id: str, directory: Path, model: Path | None) -> object:
    """Create a project with the fixture classification and, if given, the model active."""
    from statcoder.coder import Coder

    csv_path = write_classification(directory)
    projects.create_project(ctx, project_id, name=project_id.upper(), classification_csv=csv_path,
                            classification_name="trades", actor="cli:test")
    project = projects.get_project(ctx, project_id)
    if model is not None:
        row = registry.add_coder(ctx, project, Coder.load(model), source="cli", actor="cli:test")
        registry.promote(ctx, project_id, row.version, actor="cli:test")
        project = projects.get_project(ctx, project_id)
    return project


def queue(ctx, project, texts: list[str], *, reason: str = "review", decision: str = "review") -> list[int]:
    """Code ``texts`` with the project's active model and queue them as tasks; returns task ids."""
    from statcoder.service.coding import active_coder

    version, coder = active_coder(ctx, project)
    coded = coder.code(list(texts), top_k=5)
    coded["decision"] = decision
    rows = []
    for i, text in enumerate(texts):
        rows.append({
            "project_id": project.id, "job_id": None, "record_id": f"r{i}", "text": text, "reason": reason,
            "predicted_code": str(coded["predicted_code"].iloc[i]) or "1",
            "predicted_level": int(coded["predicted_level"].iloc[i]) or 1,
            "confidence": float(coded["confidence"].iloc[i]), "decision": decision,
            "candidates": coded["candidates"].iloc[i], "model_version": version, "status": "open",
            "created_at": __import__("statcoder.store", fromlist=["utcnow"]).utcnow(),
            "fields": '{"region": "North", "age": "41"}',
        })
    with ctx.db.write() as session:
        return ReviewRepository(session).add_many(rows, return_ids=True)


def account(ctx, project_id: str, username: str, role: str = "coder") -> accounts.Account:
    """Create (or extend: as a supervisor of the user's other projects would) an account and return it as signed in."""
    from sqlalchemy import select

    from statcoder.store.workbench_tables import User

    with ctx.db.read() as session:
        known = session.scalars(select(User).where(User.username == username)).one_or_none()
    accounts.create_account(ctx, project_id, username=username, password=None if known else PASSWORD, role=role,
                            actor="t", colleagues_of=list(_roles(ctx, known.id)) if known else ())
    accounts.sign_in(ctx, username, PASSWORD)
    with ctx.db.read() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
    roles = {m: r for m, r in _roles(ctx, user.id).items()}
    return accounts.Account(user.id, username, username, roles)


def _roles(ctx, user_id: int) -> dict[str, str]:
    from sqlalchemy import select

    from statcoder.store.workbench_tables import Membership

    with ctx.db.read() as session:
        return dict(session.execute(select(Membership.project_id, Membership.role)
                                    .where(Membership.user_id == user_id)).all())


def rng() -> np.random.Generator:
    """A fixed generator."""
    return np.random.default_rng(0)
