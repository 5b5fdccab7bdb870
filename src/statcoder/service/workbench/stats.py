"""Figures of the statistics and supervisor pages: audit accuracy, agreement, throughput, confusions.

* Audit accuracy of automatic coding, per level and per month, with exact (Clopper-Pearson)
  95 % intervals, next to the accuracy the model promised (its target accuracy). An audit task
  is an ``auto`` record drawn at random and coded blind; the machine is right at level L when
  its code and the human's agree truncated to L (levels deeper than either code are left out).
* Agreement of double-coded records per level: percent agreement (Clopper-Pearson interval)
  and Cohen's kappa (percentile bootstrap interval, 500 resamples, fixed seed), per coder pair
  and per major group. "Uncodable" is one more category.
* Throughput per coder, median seconds per record, frequent confusion pairs.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from scipy.stats import beta
from sqlalchemy import select

from statcoder.quality.agreement import cohen_kappa, percentage_agreement
from statcoder.service.context import ServiceContext
from statcoder.store import utc, utcnow
from statcoder.store.registry import ModelRepository
from statcoder.store.tables import Project, ReviewTask
from statcoder.store.workbench_tables import RetrainRun, TaskDecision

UNCODABLE = "(uncodable)"


def clopper_pearson(k: int, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Return the exact two-sided interval (lower, upper) for k successes out of n (0-1)."""
    if n == 0:
        return 0.0, 1.0
    alpha = 1 - confidence
    lower = 0.0 if k == 0 else float(beta.ppf(alpha / 2, k, n - k + 1))
    upper = 1.0 if k == n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
    return lower, upper


@dataclass(frozen=True)
class Rate:
    """A share with its exact interval."""

    k: int
    n: int
    lower: float
    upper: float

    @property
    def value(self) -> float:
        """Return k / n (0 when n is 0)."""
        return self.k / self.n if self.n else 0.0


def rate(k: int, n: int) -> Rate:
    """Return k/n with its Clopper-Pearson 95 % interval."""
    lo, hi = clopper_pearson(k, n)
    return Rate(k, n, lo, hi)


def promised_accuracy(ctx: ServiceContext, project: Project) -> float | None:
    """Return the target accuracy of the project's active model (its promise), or None."""
    if project.active_model_version is None:
        return None
    with ctx.db.read() as session:
        row = ModelRepository(session).get(project.id, project.active_model_version)
    if row is None:
        return None
    try:
        card = json.loads(row.card_json)
    except ValueError:
        return None
    value = card.get("target_accuracy")
    return float(value) if isinstance(value, int | float) else None


def _agree_at(classification, a: str, b: str, level: int) -> bool | None:
    """True/False when both codes reach ``level``; None when either is above it."""
    if classification.level(a) < level or classification.level(b) < level:
        return None
    return classification.truncate(a, level) == classification.truncate(b, level)


def audit_accuracy(ctx: ServiceContext, project: Project) -> list[dict]:
    """Return rows (month or "all", level, Rate) of audit accuracy of automatic coding."""
    classification = ctx.classification(project)
    with ctx.db.read() as session:
        rows = session.execute(
            select(ReviewTask.predicted_code, ReviewTask.code, ReviewTask.created_at)
            .where(ReviewTask.project_id == project.id, ReviewTask.reason == "audit",
                   ReviewTask.status == "done")
        ).all()
    tally: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
    for predicted, code, created in rows:
        if predicted not in classification or code not in classification:
            continue
        month = utc(created).strftime("%Y-%m")
        for level in range(1, classification.depth + 1):
            agree = _agree_at(classification, predicted, code, level)
            if agree is None:
                continue
            for key in ((month, level), ("all", level)):
                tally[key][0] += int(agree)
                tally[key][1] += 1
    out = [{"period": p, "level": lv, "rate": rate(k, n)} for (p, lv), (k, n) in tally.items()]
    return sorted(out, key=lambda r: (r["period"] != "all", r["period"], r["level"]))


def double_coded_pairs(ctx: ServiceContext, project_id: str) -> list[tuple[int, str, str, str, str]]:
    """Return (task id, coder A, code A, coder B, code B) of every double-coded record.

    The first two coding decisions (not undone) of distinct coders; uncodable is ``(uncodable)``.
    """
    with ctx.db.read() as session:
        rows = list(session.scalars(
            select(TaskDecision).where(TaskDecision.project_id == project_id,
                                       TaskDecision.undone_at.is_(None),
                                       TaskDecision.kind.in_(("code", "uncodable")))
            .order_by(TaskDecision.task_id, TaskDecision.id)
        ))
    by_task: dict[int, list[TaskDecision]] = defaultdict(list)
    for d in rows:
        if all(x.user_id != d.user_id for x in by_task[d.task_id]):
            by_task[d.task_id].append(d)
    pairs = []
    for task_id, ds in by_task.items():
        if len(ds) >= 2:
            a, b = sorted(ds[:2], key=lambda d: d.username)
            pairs.append((task_id, a.username, a.code or UNCODABLE, b.username, b.code or UNCODABLE))
    return pairs


def _kappa_interval(a: list[str], b: list[str], *, n_boot: int = 500, seed: int = 0) -> tuple[float, float]:
    if len(a) < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    aa, bb = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
    values = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(aa), len(aa))
        k = cohen_kappa(aa[idx], bb[idx])
        if np.isfinite(k):
            values.append(k)
    if not values:
        return float("nan"), float("nan")
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def _at_level(classification, code: str, level: int) -> str | None:
    if code == UNCODABLE:
        return code
    if code not in classification or classification.level(code) < level:
        return None
    return classification.truncate(code, level)


def agreement(ctx: ServiceContext, project: Project) -> dict[str, list[dict]]:
    """Return agreement rows ``by_pair`` and ``by_group``: group, level, n, percent Rate, kappa and interval."""
    classification = ctx.classification(project)
    pairs = double_coded_pairs(ctx, project.id)
    groups: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for _, ua, ca, ub, cb in pairs:
        groups[("pair", f"{ua} / {ub}")].append((ca, cb))
        major = next((_at_level(classification, c, 1) for c in (ca, cb) if c != UNCODABLE), UNCODABLE)
        label = f"{major} {classification.title(major)}" if major in classification else UNCODABLE
        groups[("group", label)].append((ca, cb))
    out: dict[str, list[dict]] = {"by_pair": [], "by_group": []}
    for (kind, name), items in sorted(groups.items()):
        for level in range(1, classification.depth + 1):
            a, b = [], []
            for ca, cb in items:
                xa, xb = _at_level(classification, ca, level), _at_level(classification, cb, level)
                if xa is not None and xb is not None:
                    a.append(xa)
                    b.append(xb)
            if not a:
                continue
            k = round(percentage_agreement(a, b) * len(a))
            kappa = cohen_kappa(a, b)
            lo, hi = _kappa_interval(a, b)
            out["by_pair" if kind == "pair" else "by_group"].append({
                "name": name, "level": level, "n": len(a), "percent": rate(k, len(a)),
                "kappa": kappa, "kappa_lower": lo, "kappa_upper": hi,
            })
    return out


def throughput(ctx: ServiceContext, project_id: str, *, days: int = 14) -> list[dict]:
    """Return per coder: decisions, decisions per day over ``days`` days, median seconds per record."""
    since = utcnow() - timedelta(days=days)
    with ctx.db.read() as session:
        rows = session.execute(
            select(TaskDecision.username, TaskDecision.time_spent_s, TaskDecision.created_at)
            .where(TaskDecision.project_id == project_id, TaskDecision.undone_at.is_(None),
                   TaskDecision.kind.in_(("code", "uncodable", "refer")))
        ).all()
    per: dict[str, dict] = defaultdict(lambda: {"n": 0, "recent": 0, "times": [], "per_day": Counter()})
    for user, spent, created in rows:
        entry = per[user]
        entry["n"] += 1
        if spent is not None:
            entry["times"].append(float(spent))
        when = utc(created)
        if when >= since:
            entry["recent"] += 1
            entry["per_day"][when.strftime("%Y-%m-%d")] += 1
    return [
        {"coder": user, "n": e["n"], "per_day": e["recent"] / days,
         "median_s": float(np.median(e["times"])) if e["times"] else None,
         "days": sorted(e["per_day"].items())}
        for user, e in sorted(per.items())
    ]


def confusion_pairs(ctx: ServiceContext, project: Project, *, limit: int = 15) -> list[dict]:
    """Return the most frequent (machine code, human code) disagreements in review and audit."""
    classification = ctx.classification(project)
    with ctx.db.read() as session:
        rows = session.execute(
            select(ReviewTask.predicted_code, ReviewTask.code, ReviewTask.reason)
            .where(ReviewTask.project_id == project.id, ReviewTask.status == "done",
                   ReviewTask.reason.in_(("review", "audit")))
        ).all()
    counts: Counter = Counter()
    for predicted, code, _ in rows:
        if predicted not in classification or code not in classification:
            continue
        level = min(classification.level(predicted), classification.level(code))
        a, b = classification.truncate(predicted, level), classification.truncate(code, level)
        if a != b:
            counts[(a, b)] += 1
    return [
        {"predicted": a, "predicted_title": classification.title(a), "human": b,
         "human_title": classification.title(b), "n": n}
        for (a, b), n in counts.most_common(limit)
    ]


def retrain_history(ctx: ServiceContext, project_id: str, *, limit: int = 50) -> list[RetrainRun]:
    """Return the project's retraining runs, newest first."""
    with ctx.db.read() as session:
        return list(session.scalars(
            select(RetrainRun).where(RetrainRun.project_id == project_id)
            .order_by(RetrainRun.id.desc()).limit(limit)
        ))
