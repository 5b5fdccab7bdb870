"""Closed loop on O*NET: train on alternate titles, code reported titles through the review API
with the true labels as decisions, retrain through the gate, measure on the remaining titles.

Honest split: every alternate title whose normalised text equals a reported title is removed
from training (the data README's benchmark warning). The reported titles are split by
normalised text: the first texts of a seeded shuffle (up to ``n_coded`` records) are coded,
the others are the test set, so no test text was ever a decision.
"""

from __future__ import annotations

import json
import time

import numpy as np
from common import DATA, norm, read
from fastapi.testclient import TestClient

from statcoder import Classification, train
from statcoder.api.app import create_app
from statcoder.service import keys, projects, registry
from statcoder.service.settings import ServiceSettings
from statcoder.service.workbench.retrain import retrain, set_training_data


def _evaluate(coder, classification, texts: list[str], codes: list[str]) -> dict:
    coded = coder.code(texts, top_k=1)
    best = [json.loads(c)[0]["code"] if c != "[]" else "" for c in coded["candidates"]]
    top1 = float(np.mean([b == c for b, c in zip(best, codes, strict=True)]))
    decision = coded["decision"].to_numpy()
    pred, levels = coded["predicted_code"].tolist(), coded["predicted_level"].tolist()
    right = np.array([bool(p) and classification.truncate(c, int(lv)) == p
                      for p, lv, c in zip(pred, levels, codes, strict=True)])
    auto, automatic = decision == "auto", np.isin(decision, ["auto", "partial"])
    return {"top1": top1, "auto_share": float(auto.mean()),
            "auto_accuracy": float(right[auto].mean()) if auto.any() else None,
            "automatic_share": float(automatic.mean()),
            "automatic_accuracy": float(right[automatic].mean()) if automatic.any() else None}


def run(workdir, *, n_coded: int = 2000, max_train: int | None = None, seed: int = 0, log=print) -> dict:
    """Run the closed loop once; returns the figures (see the module docstring)."""
    alternate, reported = read("onet_alternate_titles.csv"), read("onet_reported_titles.csv")
    reported_norm = set(reported["text"].map(norm))
    alternate = alternate[~alternate["text"].map(norm).isin(reported_norm)][["text", "code"]]
    if max_train is not None and len(alternate) > max_train:
        alternate = alternate.sample(max_train, random_state=seed)
    texts = reported["text"].map(norm)
    distinct = texts.drop_duplicates().sample(frac=1.0, random_state=seed).tolist()
    counts = texts.value_counts()
    coded_texts: set[str] = set()
    total = 0
    for t in distinct:
        if total >= n_coded:
            break
        coded_texts.add(t)
        total += int(counts[t])
    coded = reported[texts.isin(coded_texts)]
    test = reported[~texts.isin(coded_texts)]
    log(f"training {len(alternate):,} alternate titles; {len(coded):,} reported titles to code, "
        f"{len(test):,} to test")
    soc_path = DATA / "classifications" / "soc2018.csv"
    classification = Classification.from_csv(soc_path, name="SOC 2018")
    figures: dict = {"n_train": len(alternate), "n_coded_records": len(coded), "n_test": len(test)}
    started = time.perf_counter()
    initial = train(alternate, text_columns=["text"], code_column="code", classification=classification,
                    seed=seed)
    figures["train_seconds"] = round(time.perf_counter() - started, 1)
    log(f"initial model trained in {figures['train_seconds']} s")
    app = create_app(ServiceSettings(data_dir=workdir, job_worker=False, preload_models=False),
                     start_worker=False)
    with TestClient(app) as client:
        ctx = app.state.context
        projects.create_project(ctx, "onet", name="O*NET", classification_csv=soc_path,
                                classification_name="SOC 2018", audit_rate=1.0, actor="bench")
        project = projects.get_project(ctx, "onet")
        row = registry.add_coder(ctx, project, initial, source="cli", actor="bench")
        registry.promote(ctx, "onet", row.version, actor="bench")
        project = projects.get_project(ctx, "onet")
        set_training_data(ctx, project, alternate, text_columns=["text"], code_column="code")
        key = keys.issue_key(ctx, "onet", scopes=["code", "review"], actor="bench").secret
        headers = {"Authorization": f"Bearer {key}"}
        truth = {}
        for start in range(0, len(coded), 500):
            part = coded.iloc[start:start + 500]
            records = [{"id": str(i), "text": t} for i, t in zip(part.index, part["text"], strict=True)]
            truth.update({str(i): c for i, c in zip(part.index, part["code"], strict=True)})
            answer = client.post("/v1/projects/onet/code", json={"records": records, "queue_review": True},
                                 headers=headers)
            answer.raise_for_status()
        submitted, after = 0, 0
        while True:  # every queued task: claim and submit the true code through the review API
            page = client.get("/v1/projects/onet/review/tasks", params={"after_id": after, "limit": 500},
                              headers=headers).json()
            for task in page["tasks"]:
                client.post(f"/v1/projects/onet/review/tasks/{task['id']}/claim", json={"coder_id": "sim"},
                            headers=headers).raise_for_status()
                client.post(f"/v1/projects/onet/review/tasks/{task['id']}/submit",
                            json={"code": truth[task["record_id"]], "coder_id": "sim", "time_spent_s": 5},
                            headers=headers).raise_for_status()
                submitted += 1
            if page["next_after_id"] is None:
                break
            after = page["next_after_id"]
        figures["n_decisions"] = submitted
        log(f"{submitted:,} decisions submitted through the review API")
        test_texts, test_codes = test["text"].tolist(), test["code"].tolist()
        figures["before"] = _evaluate(initial, classification, test_texts, test_codes)
        started = time.perf_counter()
        run_row = retrain(ctx, project, actor="bench", seed=seed)
        figures["retrain_seconds"] = round(time.perf_counter() - started, 1)
        comparison = json.loads(run_row.comparison_json)
        figures["gate"] = {k: comparison[k] for k in (
            "n_heldout", "top1_active", "top1_candidate", "mcnemar_p", "automation_active",
            "automation_candidate", "automation_diff_lower", "automation_diff_upper", "promote", "verdict")}
        figures["status"] = run_row.status
        from statcoder.coder import Coder

        candidate = Coder.load(ctx.data_dir / registry.get_model(ctx, "onet", run_row.candidate_version).path)
        figures["candidate"] = _evaluate(candidate, classification, test_texts, test_codes)
        active_now = projects.get_project(ctx, "onet").active_model_version
        figures["active_after"] = "candidate" if active_now == run_row.candidate_version else "initial"
    return figures
