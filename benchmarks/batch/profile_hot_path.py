"""Where the time of coding one chunk goes: share of each stage of the per-record hot path.

    python benchmarks/batch/profile_hot_path.py --model benchmarks/.cache/batch/onet-model --rows 20000

Stages, timed on ``--rows`` distinct O*NET titles (one chunk, one process, best of ``--repeat``):
normalise (text -> canonical form), featurise (word + char n-gram TF-IDF), score (sparse
product, softmax), aggregate (probabilities summed up the tree, best code per level), decide
(thresholds, chosen level, best leaf), candidates (top-k and their JSON), de-duplication of
repeated texts, and the rest of ``Coder.code`` (joining columns, index, assembling the frame).
Stages changed by the hot-path work are also timed as they were before ("before" rows, same
run, same inputs; their share in parentheses is relative to today's total).
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
    from statcoder.coder.hotpath import candidates_json, top_k
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

    def decide_levels(per_record: bool):
        chosen, dec = decide({lv: c for lv, (_, c) in per_level.items()}, thresholds=coder.thresholds,
                             full_depth=coder.classification.depth)
        best = proba.argmax(axis=1)
        if per_record:  # before: the level of each record's best leaf looked up in Python
            leaf = np.asarray(coder.classes_, dtype=object)[best]
            return chosen, dec, np.array([coder.classification.level(c) for c in leaf])
        return chosen, dec, coder._class_levels[best]

    stages["decide (before)"], _ = _timed(lambda: decide_levels(True), repeat)
    stages["decide"], _ = _timed(lambda: decide_levels(False), repeat)

    def candidates_per_record():  # before: an f-string per candidate
        top, top_p = top_k(proba, 5)
        prefix = coder._candidate_prefix
        return ["[" + ", ".join(f"{prefix[j]}{p:.4f}}}" for j, p in zip(r, ps, strict=True)) + "]"
                for r, ps in zip(top.tolist(), top_p.tolist(), strict=True)]

    stages["candidates (before)"], _ = _timed(candidates_per_record, repeat)
    stages["candidates"], _ = _timed(lambda: candidates_json(coder._candidate_prefix, proba, 5), repeat)
    repeated = [texts[i % (rows // 2)] for i in range(rows)]  # half of the rows repeat

    def dedup_dict():  # a dict look-up per record (kept: faster than pandas.factorize here)
        first_row: dict[str, int] = {}
        return [first_row.setdefault(t, i) for i, t in enumerate(repeated)]

    stages["de-duplication"], _ = _timed(dedup_dict, repeat)
    frame = pd.DataFrame({"text": texts})
    from statcoder.text.normalise import normalise_cached

    def full():
        normalise_cached.cache_clear()  # distinct, unseen texts, as in a real chunk
        return coder.code(frame, text_columns=["text"])

    stages["total"], _ = _timed(full, repeat)
    stages["rest of Coder.code"] = max(0.0, stages["total"] - sum(
        v for k, v in stages.items() if k != "total" and "before" not in k))
    return stages


def table(stages: dict[str, float], rows: int) -> list[str]:
    """Markdown rows: stage, ms per 1,000 records, share of the total."""
    total = stages["total"]
    lines = ["| stage | ms per 1,000 records | share |", "|---|---|---|"]
    for name, seconds in stages.items():
        if name == "total":
            continue
        share = f"({seconds / total:.0%})" if "before" in name else f"{seconds / total:.0%}"
        lines.append(f"| {name} | {1e6 * seconds / rows:,.1f} | {share} |")
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
