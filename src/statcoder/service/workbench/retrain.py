"""The closed loop: coders' decisions become training data; a candidate is promoted only if not worse.

1. **Training data with provenance.** Every final human decision (review, audit, quality
   tasks; adjudicated ones included) is a labelled record: original text, code, coder(s),
   time, model version that proposed candidates, reason (:func:`decision_records`).
2. **Held-out decisions.** Audit and double-coded records first (their labels are the most
   trustworthy), then the others, in a seeded random order: ``heldout_share`` of them (at
   least ``min_heldout``) are kept out of training and code-checked by both models.
3. **Candidate.** Trained on the project's stored training data plus the other decisions
   coded at the deepest level (higher-level codes are used for evaluation only).
4. **Gate** (:func:`compare`): on the same held-out decisions, top-1 accuracy (the best leaf
   truncated to the level the human coded) and the automation share at the target accuracy
   (the largest share of records, most confident first, whose accuracy is still >= target).
   The candidate is promoted only when it is **not worse in either**: its top-1 accuracy is
   at least the active model's, and its automation share is not significantly lower (the
   upper end of the 95 % paired-bootstrap interval of the difference, 1,000 seeded
   resamples, is >= 0). The comparison also states the exact McNemar test of top-1.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binom
from sqlalchemy import select

from statcoder.errors import InputError
from statcoder.service.context import ServiceContext
from statcoder.service.errors import ConflictError
from statcoder.store import utc, utcnow
from statcoder.store.tables import Project, ReviewTask
from statcoder.store.workbench_tables import RetrainRun, TaskDecision

TRAINING_FILE = "training.parquet"


def training_data_path(ctx: ServiceContext, project_id: str) -> Path:
    """Return where the project's base training data (``text``, ``code``) is kept."""
    return ctx.data_dir / "projects" / project_id / TRAINING_FILE


def set_training_data(ctx: ServiceContext, project: Project, data: pd.DataFrame, *,
                      text_columns: list[str], code_column: str) -> int:
    """Store the project's base training data (texts joined, codes checked); returns its size."""
    from statcoder.io.atomic import atomic_write_with
    from statcoder.text.normalise import join_columns

    missing = [c for c in [*text_columns, code_column] if c not in data.columns]
    if missing:
        raise InputError(f"the training data lacks the column(s) {', '.join(missing)}", where="--data",
                         hint="name the text columns with --text and the code column with --code")
    classification = ctx.classification(project)
    codes = data[code_column].fillna("").astype(str).str.strip()
    unknown = sorted(set(codes) - set(classification.codes))
    if unknown:
        raise InputError(f"{len(unknown)} code(s) are not in {classification.name}, e.g. "
                         f"{', '.join(unknown[:5])}", where=f"--data: column {code_column}",
                         hint="fix those rows or drop them")
    frame = pd.DataFrame({"text": join_columns(data, text_columns, where="--data"), "code": codes.tolist()})
    atomic_write_with(training_data_path(ctx, project.id), lambda p: frame.to_parquet(p, index=False))
    return len(frame)


def decision_records(ctx: ServiceContext, project_id: str) -> pd.DataFrame:
    """Return the project's final human codes with provenance, one row per task.

    Columns: task_id, text, code, level, coders, decided_at, model_version, reason,
    double_coded, adjudicated.
    """
    with ctx.db.read() as session:
        tasks = list(session.scalars(
            select(ReviewTask).where(ReviewTask.project_id == project_id, ReviewTask.status == "done")
            .order_by(ReviewTask.id)
        ))
        adjudicated = set(session.scalars(
            select(TaskDecision.task_id).where(TaskDecision.project_id == project_id,
                                               TaskDecision.kind == "adjudication",
                                               TaskDecision.undone_at.is_(None))
        ))
    rows = [
        {"task_id": t.id, "text": t.text, "code": t.code, "coders": t.coder_id or "",
         "decided_at": utc(t.submitted_at).isoformat() if t.submitted_at else "",
         "model_version": t.model_version, "reason": t.reason,
         "double_coded": (t.coders_needed or 1) > 1, "adjudicated": t.id in adjudicated}
        for t in tasks if t.code
    ]
    return pd.DataFrame(rows, columns=["task_id", "text", "code", "coders", "decided_at", "model_version",
                                       "reason", "double_coded", "adjudicated"])


def split_heldout(decisions: pd.DataFrame, *, share: float, min_heldout: int, seed: int) -> np.ndarray:
    """Return a boolean mask of held-out rows: audit and double-coded first, then the rest."""
    n = len(decisions)
    if n == 0:
        return np.zeros(0, dtype=bool)
    rng = np.random.default_rng(seed)
    priority = ~((decisions["reason"] == "audit") | decisions["double_coded"]).to_numpy()
    order = np.lexsort((rng.random(n), priority))
    k = min(n, max(min_heldout, round(share * n)))
    mask = np.zeros(n, dtype=bool)
    mask[order[:k]] = True
    return mask


def mcnemar_exact(a_right: np.ndarray, b_right: np.ndarray) -> tuple[int, int, float]:
    """Return (a right & b wrong, a wrong & b right, two-sided exact McNemar p-value)."""
    b = int(np.sum(a_right & ~b_right))
    c = int(np.sum(~a_right & b_right))
    if b + c == 0:
        return b, c, 1.0
    return b, c, float(min(1.0, 2 * binom.cdf(min(b, c), b + c, 0.5)))


def automation_at_target(confidence: np.ndarray, correct: np.ndarray, *, target: float) -> float:
    """Return the largest share of records (most confident first) whose accuracy is >= ``target``."""
    n = len(confidence)
    if n == 0:
        return 0.0
    order = np.argsort(-confidence, kind="stable")
    running = np.cumsum(correct[order]) / np.arange(1, n + 1)
    ok = np.flatnonzero(running >= target)
    return float((ok[-1] + 1) / n) if len(ok) else 0.0


@dataclass(frozen=True)
class Comparison:
    """Candidate vs active model on the same held-out decisions, and the gate's verdict."""

    n_heldout: int
    target_accuracy: float
    top1_active: float
    top1_candidate: float
    mcnemar_candidate_only: int
    mcnemar_active_only: int
    mcnemar_p: float
    automation_active: float
    automation_candidate: float
    automation_diff_lower: float
    automation_diff_upper: float
    promote: bool
    verdict: str

    def to_dict(self) -> dict:
        """Return the comparison as a JSON-ready dict."""
        return asdict(self)


def compare(
    truth_correct_active: np.ndarray, truth_correct_candidate: np.ndarray, conf_active: np.ndarray,
    conf_candidate: np.ndarray, *, target: float, seed: int = 0, n_boot: int = 1000,
) -> Comparison:
    """Compare two models' per-record correctness and confidence on the same held-out records."""
    ra, rc = np.asarray(truth_correct_active, bool), np.asarray(truth_correct_candidate, bool)
    ca, cc = np.asarray(conf_active, float), np.asarray(conf_candidate, float)
    n = len(ra)
    cand_only, act_only, p = mcnemar_exact(rc, ra)
    auto_a = automation_at_target(ca, ra, target=target)
    auto_c = automation_at_target(cc, rc, target=target)
    rng = np.random.default_rng(seed)
    diffs = np.empty(n_boot)
    for i in range(n_boot):
        idx = rng.integers(0, n, n)
        diffs[i] = automation_at_target(cc[idx], rc[idx], target=target) - automation_at_target(
            ca[idx], ra[idx], target=target)
    lo, hi = (float(np.percentile(diffs, 2.5)), float(np.percentile(diffs, 97.5))) if n else (0.0, 0.0)
    top_a, top_c = float(ra.mean()) if n else 0.0, float(rc.mean()) if n else 0.0
    automation_ok = hi >= 0.0  # not significantly lower (one-sided 2.5 %)
    promote = n > 0 and top_c >= top_a and automation_ok
    worse = [name for name, ok in (("top-1 accuracy", top_c >= top_a),
                                   ("automation share (significantly)", automation_ok)) if not ok]
    verdict = (
        f"promoted: top-1 not lower ({top_c:.1%} vs {top_a:.1%}, McNemar p = {p:.3g}) and the "
        f"automation share at {target:.0%} not significantly lower ({auto_c:.1%} vs {auto_a:.1%}, 95% "
        f"paired-bootstrap interval of the difference {lo:+.1%} to {hi:+.1%}), on {n} held-out decisions"
        if promote else
        f"kept as candidate: lower {' and '.join(worse) or 'figures'} than the active model on the same "
        f"{n} held-out decisions (top-1 {top_c:.1%} vs {top_a:.1%}, McNemar p = {p:.3g}; automation "
        f"{auto_c:.1%} vs {auto_a:.1%}, interval {lo:+.1%} to {hi:+.1%})"
    )
    return Comparison(n, target, top_a, top_c, cand_only, act_only, p, auto_a, auto_c, lo, hi, promote, verdict)


def score(coder, classification, texts: list[str], codes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return (top-1 correct, top-1 probability) of a coder on labelled texts.

    Top-1 is the best leaf candidate, truncated to the level of the human code.
    """
    coded = coder.code(texts, top_k=1)
    correct = np.zeros(len(texts), dtype=bool)
    conf = np.zeros(len(texts))
    for i, (cands, code) in enumerate(zip(coded["candidates"].tolist(), codes, strict=True)):
        items = json.loads(cands)
        if not items:
            continue
        best = str(items[0]["code"])
        conf[i] = float(items[0].get("p", 0.0))
        if best in classification:
            correct[i] = classification.truncate(best, classification.level(code)) == code
    return correct, conf


def retrain(
    ctx: ServiceContext, project: Project, *, actor: str, seed: int = 0, heldout_share: float = 0.3,
    min_heldout: int = 30, on_progress=None,
) -> RetrainRun:
    """Train a candidate on training data + decisions, compare it with the active model, gate it.

    Returns the stored run (status ``promoted``, ``kept`` or ``failed``). ConflictError when a
    run is already going on for the project; InputError when there is nothing to compare on.
    """
    from statcoder import train
    from statcoder.service import registry
    from statcoder.service.coding import active_coder

    with ctx.db.write() as session:
        running = session.scalars(select(RetrainRun).where(RetrainRun.project_id == project.id,
                                                           RetrainRun.status == "running")).first()
        if running is not None:
            raise ConflictError("a retraining of this project is already running",
                                hint="wait for it to finish (see the retrain history)")
        run = RetrainRun(project_id=project.id, status="running", active_version=project.active_model_version,
                         created_by=actor, created_at=utcnow(), comparison_json="{}", n_train=0,
                         n_decisions=0, n_heldout=0)
        session.add(run)
        session.flush()
        run_id = run.id
    try:
        version, active = active_coder(ctx, project)
        classification = ctx.classification(project)
        decisions = decision_records(ctx, project.id)
        mask = split_heldout(decisions, share=heldout_share, min_heldout=min_heldout, seed=seed)
        heldout = decisions[mask]
        if len(heldout) < min_heldout:
            raise InputError(f"only {len(decisions)} final decisions; at least {min_heldout} are needed to "
                             "compare models", where="decisions", hint="code more records first")
        deepest = {c for c in classification.codes if classification.level(c) == classification.depth}
        extra = decisions[~mask]
        extra = extra[extra["code"].isin(deepest)][["text", "code"]]
        base_path = training_data_path(ctx, project.id)
        base = pd.read_parquet(base_path) if base_path.exists() else pd.DataFrame(columns=["text", "code"])
        data = pd.concat([base[["text", "code"]], extra], ignore_index=True)
        # the candidate is trained like the active model: same target accuracy and backend
        target, backend = float(active.card.target_accuracy), str(active.card.backend)
        if on_progress:
            on_progress(0, 3, "training the candidate")
        candidate = train(data, text_columns=["text"], code_column="code", classification=classification,
                          target_accuracy=target, backend=backend, seed=seed)
        if on_progress:
            on_progress(1, 3, "scoring both models on the held-out decisions")
        texts, codes = heldout["text"].tolist(), heldout["code"].tolist()
        right_a, conf_a = score(active, classification, texts, codes)
        right_c, conf_c = score(candidate, classification, texts, codes)
        result = compare(right_a, right_c, conf_a, conf_c, target=target, seed=seed)
        try:
            row = registry.add_coder(ctx, project, candidate, source="retrain", actor=actor)
            candidate_version = row.version
        except ConflictError:  # the same bytes were stored before
            candidate_version = candidate.version
        if on_progress:
            on_progress(2, 3, "gate")
        if result.promote and candidate_version != version:
            registry.promote(ctx, project.id, candidate_version, actor=actor)
        status = "promoted" if result.promote and candidate_version != version else "kept"
        payload = {**result.to_dict(), "n_training": len(data), "n_base": len(base),
                   "n_decisions_in_training": len(extra), "seed": seed}
        with ctx.db.write() as session:
            run = session.get(RetrainRun, run_id)
            run.status, run.candidate_version = status, candidate_version
            run.n_train, run.n_decisions, run.n_heldout = len(data), len(decisions), len(heldout)
            run.comparison_json = json.dumps(payload)
            run.finished_at = utcnow()
            from statcoder.service.audit import record

            record(session, project.id, actor=actor, action="model.retrain", target=candidate_version,
                   details={"status": status, "active": version, "n_heldout": len(heldout)})
    except Exception as exc:
        with ctx.db.write() as session:
            run = session.get(RetrainRun, run_id)
            run.status, run.finished_at = "failed", utcnow()
            run.error = getattr(exc, "message", type(exc).__name__)[:2000]
        raise
    with ctx.db.read() as session:
        return session.get(RetrainRun, run_id)
