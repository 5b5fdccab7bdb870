"""The closed loop: decisions as training data, the paired comparison and the promotion gate."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from kit import WORDS, labelled_frame
from webkit import account, queue

from statcoder.service import projects
from statcoder.service.workbench import queue as wq
from statcoder.service.workbench.decisions import decide, validate
from statcoder.service.workbench.retrain import (
    automation_at_target,
    compare,
    decision_records,
    mcnemar_exact,
    retrain,
    set_training_data,
    split_heldout,
)


def test_mcnemar_exact_matches_the_binomial_reference():
    a = np.array([True] * 10 + [False] * 2 + [True] * 5)
    b = np.array([False] * 10 + [True] * 2 + [True] * 5)
    only_a, only_b, p = mcnemar_exact(a, b)
    assert (only_a, only_b) == (10, 2)
    # two-sided exact test, 2 of 12 discordant pairs: 2 * P(X <= 2), X ~ Bin(12, 1/2) = 0.03857
    assert p == pytest.approx(0.0385742, abs=1e-6)


def test_automation_share_at_target():
    conf = np.array([0.99, 0.95, 0.9, 0.8, 0.7])
    right = np.array([True, True, True, False, True])
    assert automation_at_target(conf, right, target=0.95) == pytest.approx(0.6)
    assert automation_at_target(conf, right, target=0.5) == pytest.approx(1.0)
    assert automation_at_target(conf, ~right | True, target=0.99) == pytest.approx(1.0)


def test_the_gate_promotes_when_better_and_refuses_when_worse():
    rng = np.random.default_rng(7)
    n = 400
    conf_a, conf_c = rng.random(n), rng.random(n)
    worse = rng.random(n) < 0.70
    better = worse | (rng.random(n) < 0.5)  # right wherever the other is, and more
    up = compare(worse, better, conf_a, conf_c, target=0.9, seed=0)
    assert up.promote and up.top1_candidate > up.top1_active and up.mcnemar_p < 0.001
    assert "promoted" in up.verdict and "McNemar" in up.verdict
    down = compare(better, worse, conf_a, conf_c, target=0.9, seed=0)
    assert not down.promote and "kept as candidate" in down.verdict and "top-1" in down.verdict
    assert compare(better, worse, conf_a, conf_c, target=0.9, seed=0) == down  # fixed seed: same answer


def test_heldout_takes_audit_and_double_coded_first():
    frame = pd.DataFrame({"reason": ["review"] * 8 + ["audit"] * 2, "double_coded": [False] * 7 + [True] + [False] * 2})
    mask = split_heldout(frame, share=0.3, min_heldout=1, seed=0)
    assert mask.sum() == 3 and mask[7] and mask[8] and mask[9]


def _code_all(ctx, project, coder, truth: dict[str, str]) -> None:
    while (task_id := wq.next_task(ctx, project.id, coder)) is not None:
        from statcoder.service.review import get_task

        text = get_task(ctx, project.id, task_id).text
        decide(ctx, project, coder, task_id, validate(ctx, project, action="code", code=truth[text]))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_retrain_promotes_a_better_candidate_and_keeps_a_worse_one(ctx, tmp_path):
    from webkit import make_project

    from statcoder import Classification, train
    from statcoder.service import registry

    project = make_project(ctx, "alpha", tmp_path / "cls", None)
    classification = ctx.classification(project)
    # a weak active model: two examples per code, one of them with swapped labels
    weak = labelled_frame(WORDS, per_code=6, seed=3)
    weak["code"] = weak["code"].where(weak.index % 3 != 0, weak["code"].sample(frac=1, random_state=1).to_numpy())
    coder = train(weak, text_columns=["text"], code_column="code",
                  classification=Classification.from_csv(ctx.classification_path("alpha"), name="trades"), seed=0)
    row = registry.add_coder(ctx, project, coder, source="cli", actor="t")
    registry.promote(ctx, "alpha", row.version, actor="t")
    project = projects.get_project(ctx, "alpha")
    records = labelled_frame(WORDS, per_code=15, seed=11).drop_duplicates("text")
    truth = dict(zip(records["text"], records["code"], strict=True))
    queue(ctx, project, list(truth))
    ana = account(ctx, "alpha", "ana")
    _code_all(ctx, project, ana, truth)
    decisions = decision_records(ctx, "alpha")
    assert len(decisions) == len(truth) and set(decisions.columns) >= {"coders", "decided_at", "model_version"}
    assert (decisions["coders"] == "ana").all()
    set_training_data(ctx, project, labelled_frame(WORDS, per_code=20, seed=5), text_columns=["text"],
                      code_column="code")
    run = retrain(ctx, project, actor="t", seed=0, min_heldout=10)
    comparison = json.loads(run.comparison_json)
    assert run.status == "promoted", comparison["verdict"]
    assert comparison["top1_candidate"] >= comparison["top1_active"]
    assert projects.get_project(ctx, "alpha").active_model_version == run.candidate_version != row.version
    # now the stored training data is wrong (labels shuffled): the candidate must not replace the good model
    bad = labelled_frame(WORDS, per_code=60, seed=6)
    bad["code"] = bad["code"].sample(frac=1, random_state=2).to_numpy()
    set_training_data(ctx, project, bad, text_columns=["text"], code_column="code")
    project = projects.get_project(ctx, "alpha")
    kept = retrain(ctx, project, actor="t", seed=0, min_heldout=10)
    verdict = json.loads(kept.comparison_json)
    assert kept.status == "kept", verdict["verdict"]
    assert "kept as candidate" in verdict["verdict"]
    assert projects.get_project(ctx, "alpha").active_model_version == run.candidate_version
    _ = classification
