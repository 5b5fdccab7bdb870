"""Where the time of coding one chunk goes: share of each stage of the per-record hot path.

    python benchmarks/batch/profile_hot_path.py --model benchmarks/.cache/batch/onet-model --rows 20000

Stages, timed on ``--rows`` distinct O*NET titles (one chunk, one process, best of ``--repeat``):
normalise (text -> canonical form), featurise (word + char n-gram TF-IDF), score (sparse
product, softmax), aggregate (probabilities summed up the tree, best code per level), decide
(thresholds, chosen level, best leaf), candidates (top-k and their JSON), and the rest of
``Coder.code`` (joining columns, de-duplication, index, assembling the frame).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
import datasets


def _timed(fn, repeat: int):
    best, out = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - started)
    return best, out


def profile(model_dir: Path, rows: int, repeat: int = 3) -> dict[str, float]:
    """Return seconds per stage for ``rows`` distinct titles (and ``total`` for ``Coder.code``)."""
    import scipy.sparse as sp

    from statcoder import Coder
    from statcoder.decision import decide
    from statcoder.models.calibration import softmax
    from statcoder.models.linear import _compact, _dense_product, _log_softmax
    from statcoder.text.normalise import normalise

    coder = Coder.load(model_dir)
    model = coder.model
    pool = pd.concat([datasets._read("onet_alternate_titles.csv")["text"],
                      datasets._read("onet_reported_titles.csv")["text"]]).drop_duplicates()
    texts = pool.sample(n=rows, random_state=0).tolist()
    stages: dict[str, float] = {}
    stages["normalise"], normal = _timed(lambda: [normalise(t) for t in texts], repeat)

    def featurise():
        word, char = model.features_.word_.transform(normal), model.features_.char_.transform(normal)
        if model.features_.char_weight != 1.0:
            char = char * np.float32(model.features_.char_weight)
        return sp.hstack([word, char], format="csr", dtype=np.float32)

    stages["featurise"], features = _timed(featurise, repeat)

    def score():
        Z, used = _compact(features)
        scores = _dense_product(Z, model._weights_by_feature("coef_"), used) + model.intercept_
        if len(model.group_names_) > 1:
            tau = model.group_temperature
            top = _dense_product(Z, model._weights_by_feature("group_coef_"), used) + model.group_intercept_
            out = _log_softmax(top / tau)[:, model.class_group_]
            for g in range(len(model.group_names_)):
                cols = np.flatnonzero(model.class_group_ == g)
                out[:, cols] += _log_softmax(scores[:, cols] / tau)
            scores = out
        return softmax(scores, temperature=model.temperature_)

    stages["score"], proba = _timed(score, repeat)
    stages["aggregate"], per_level = _timed(lambda: coder.best_by_level(proba), repeat)

    def decision():
        chosen, dec = decide({lv: c for lv, (_, c) in per_level.items()}, thresholds=coder.thresholds,
                             full_depth=coder.classification.depth)
        leaf = np.asarray(coder.classes_, dtype=object)[proba.argmax(axis=1)]
        return chosen, dec, coder._leaf_levels(leaf) if hasattr(coder, "_leaf_levels") else np.array(
            [coder.classification.level(c) for c in leaf])

    stages["decide"], _ = _timed(decision, repeat)

    def candidates():
        out = np.empty(len(proba), dtype=object)
        if hasattr(coder, "_candidates_json"):
            return coder._candidates_json(proba, 5)
        top = np.argpartition(-proba, 4, axis=1)[:, :5]
        top_p = np.take_along_axis(proba, top, axis=1)
        order = np.argsort(-top_p, axis=1, kind="stable")
        top, top_p = np.take_along_axis(top, order, axis=1), np.take_along_axis(top_p, order, axis=1)
        prefix = coder._candidate_prefix
        out[:] = ["[" + ", ".join(f"{prefix[j]}{p:.4f}}}" for j, p in zip(r, ps, strict=True)) + "]"
                  for r, ps in zip(top.tolist(), top_p.tolist(), strict=True)]
        return out

    stages["candidates"], _ = _timed(candidates, repeat)
    frame = pd.DataFrame({"text": texts})
    from statcoder.text.normalise import normalise_cached

    def full():
        normalise_cached.cache_clear()  # distinct, unseen texts, as in a real chunk
        return coder.code(frame, text_columns=["text"])

    stages["total"], _ = _timed(full, repeat)
    stages["rest of Coder.code"] = max(0.0, stages["total"] - sum(v for k, v in stages.items() if k != "total"))
    return stages


def table(stages: dict[str, float], rows: int) -> list[str]:
    """Markdown rows: stage, ms per 1,000 records, share of the total."""
    total = stages["total"]
    lines = ["| stage | ms per 1,000 records | share |", "|---|---|---|"]
    for name, seconds in stages.items():
        if name == "total":
            continue
        lines.append(f"| {name} | {1e6 * seconds / rows:,.1f} | {seconds / total:.0%} |")
    lines.append(f"| **total (`Coder.code`)** | {1e6 * total / rows:,.1f} | 100% ({rows / total:,.0f} records/s) |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    stages = profile(args.model, args.rows, args.repeat)
    print("\n".join(table(stages, args.rows)))
    print(f"load average: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")


if __name__ == "__main__":
    main()
