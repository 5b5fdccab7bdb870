import numpy as np

from statcoder import Classification
from statcoder.coder.heldout import choose_thresholds
from statcoder.coder.levels import best_by_level, level_aggregators
from statcoder.decision import clopper_pearson_lower, decide

TREE = Classification.from_codes([f"{a}{b}{c}" for a in "123" for b in "12" for c in "123"], name="toy",
                                 prefix_lengths=(1, 2, 3))


def _held_out(seed: int, n: int = 6000):
    rng = np.random.default_rng(seed)
    leaves = TREE.leaves
    truth = rng.choice(leaves, size=n)
    logits = rng.normal(size=(n, len(leaves)))
    sharpness = rng.uniform(0, 4, size=n)  # easy and hard records
    logits[np.arange(n), [leaves.index(t) for t in truth]] += sharpness
    siblings = np.array([[TREE.parent(a) == TREE.parent(b) for b in leaves] for a in leaves])
    logits += 1.5 * siblings[[leaves.index(t) for t in truth]]  # confusions stay within the group
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return proba, list(truth)


def test_each_decision_level_meets_the_target_on_its_own():
    for seed in range(3):
        proba, truth = _held_out(seed)
        thresholds, figures = choose_thresholds(best_by_level(proba, level_aggregators(TREE, TREE.leaves)), truth,
                                                TREE, target=0.9)
        per_level = {}
        for level in (1, 2, 3):
            agg, codes = TREE.aggregate(proba, TREE.leaves, level)
            best = agg.argmax(axis=1)
            per_level[level] = (np.asarray(codes)[best], agg[np.arange(len(agg)), best])
        chosen, decision = decide({lv: c for lv, (_, c) in per_level.items()}, thresholds=thresholds, full_depth=3)
        assert (decision != "review").mean() > 0.3
        for level in (1, 2, 3):
            mask = chosen == level
            if not mask.any():
                continue
            hits = per_level[level][0][mask] == np.asarray([TREE.truncate(t, level) for t in np.asarray(truth)[mask]])
            assert clopper_pearson_lower(hits.sum(), mask.sum()) >= 0.9
            assert figures[level].coded_share == mask.mean()
