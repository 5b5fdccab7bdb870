"""Where the time of coding one chunk goes: share of each stage of the per-record hot path.

    python benchmarks/batch/profile_hot_path.py --model benchmarks/.cache/batch/onet-model --rows 10000
    PYTHONPATH=/path/to/older/src python benchmarks/batch/profile_hot_path.py ...   # the same for older code

Stages, timed on ``--rows`` distinct O*NET titles (one process, best of ``--repeat``), each on
the pieces of ``statcoder.coder.coder.CHUNK`` texts that ``Coder.code`` codes at once, through
functions that exist in every version of the coder so that the same script profiles the code
before and after a change: normalise (text -> canonical form), featurise (word + char n-gram
TF-IDF of every deployed member on the records routed to it), score (the members' linear
scores and per-group softmax: ``decision_function`` minus featurise), calibrate (routing,
calibrated softmax: ``predict_proba`` minus the members' ``decision_function``; 0 where the
calibrated softmax is fused into the scoring, which then counts it), aggregate
(probabilities summed up the tree, best code per level), decide (thresholds, chosen level),
candidates (top-k and their JSON) and the rest of ``Coder.code`` (joining columns,
de-duplication, assembling the frame). Also: the latency of ``Coder.code`` on one record.
Times are CPU seconds of this (single-threaded) process, best of ``--repeat``.
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
    """Best CPU time of ``repeat`` calls (CPU, not wall: less disturbed by other users of the machine)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        started = time.process_time()
        out = fn()
        best = min(best, time.process_time() - started)
    return best, out


def titles(rows: int, seed: int = 0) -> list[str]:
    """``rows`` distinct O*NET titles (alternate and reported)."""
    pool = pd.concat([datasets._read("onet_alternate_titles.csv")["text"],
                      datasets._read("onet_reported_titles.csv")["text"]]).drop_duplicates()
    return pool.sample(n=rows, random_state=seed).tolist()


def profile(model_dir: Path, rows: int, repeat: int = 3) -> dict[str, float]:
    """Return seconds per stage for ``rows`` distinct titles (and ``total`` for ``Coder.code``)."""
    from statcoder import Coder
    from statcoder.coder.coder import CHUNK
    from statcoder.coder.estimator import route
    from statcoder.coder.hotpath import candidates_json
    from statcoder.decision import decide
    from statcoder.text.normalise import normalise, normalise_cached

    coder = Coder.load(model_dir)
    model = coder.model
    texts = titles(rows)
    members = [model.final_estimator_] if model.deploy in ("refit", "mean") else list(model.estimators_)
    # every stage runs on the pieces Coder.code codes at once (CHUNK distinct texts), as in a real run
    chunks = [texts[i:i + CHUNK] for i in range(0, len(texts), CHUNK)]

    def parts_of(chunk: list[str]) -> list[list[str]]:
        fold = route(chunk, len(members)) if model.deploy == "members" else np.zeros(len(chunk), dtype=np.int64)
        return [[chunk[i] for i in np.flatnonzero(fold == j)] for j in range(len(members))]

    parts = [parts_of(chunk) for chunk in chunks]
    coder.code(texts[:50])  # build lazily cached state (transposed weights, n-gram indexes)
    stages: dict[str, float] = {}
    stages["normalise"], _ = _timed(lambda: [normalise(t) for t in texts], repeat)
    for t in texts:
        normalise_cached(t)  # featurise below is timed on normalised texts
    stages["featurise"], _ = _timed(lambda: [m.features_.transform(p) for ps in parts
                                             for m, p in zip(members, ps, strict=True)], repeat)
    decision, _ = _timed(lambda: [m.decision_function(p) for ps in parts for m, p in zip(members, ps, strict=True)],
                         repeat)
    proba_time, probas = _timed(lambda: [model.predict_proba(chunk) for chunk in chunks], repeat)
    # a fused calibrated softmax (statcoder.models.scoring) makes predict_proba cheaper than the
    # members' decision_function: score then includes calibrating, and calibrate is 0
    stages["score"] = max(0.0, min(decision, proba_time) - stages["featurise"])
    stages["calibrate"] = max(0.0, proba_time - min(decision, proba_time))
    stages["aggregate"], per_levels = _timed(lambda: [coder.best_by_level(proba) for proba in probas], repeat)

    def decide_levels():
        out = []
        for proba, per_level in zip(probas, per_levels, strict=True):
            chosen, dec = decide({lv: c for lv, (_, c) in per_level.items()}, thresholds=coder.thresholds,
                                 full_depth=coder.classification.depth)
            out.append((chosen, dec, coder._class_levels[proba.argmax(axis=1)]))
        return out

    stages["decide"], _ = _timed(decide_levels, repeat)
    stages["candidates"], _ = _timed(lambda: [candidates_json(coder._candidate_prefix, proba, 5) for proba in probas],
                                     repeat)
    frame = pd.DataFrame({"text": texts})

    def full():
        normalise_cached.cache_clear()  # distinct, unseen texts, as in a real chunk
        return coder.code(frame, text_columns=["text"])

    stages["total"], _ = _timed(full, repeat)
    stages["rest of Coder.code"] = max(0.0, stages["total"] - sum(v for k, v in stages.items() if k != "total"))
    latencies = []
    for t in texts[:200]:
        started = time.process_time()
        coder.code([t])
        latencies.append(time.process_time() - started)
    stages["one record (median)"] = float(np.median(latencies))
    return stages


def table(stages: dict[str, float], rows: int) -> list[str]:
    """Markdown rows: stage, microseconds per record, share of the total."""
    total = stages["total"]
    lines = ["| stage | CPU µs per record | share |", "|---|---|---|"]
    for name, seconds in stages.items():
        if name in ("total", "one record (median)"):
            continue
        lines.append(f"| {name} | {1e6 * seconds / rows:,.1f} | {seconds / total:.0%} |")
    lines.append(f"| **total (`Coder.code`, {rows:,} distinct titles)** | {1e6 * total / rows:,.1f} "
                 f"| 100% ({rows / total:,.0f} records/s) |")
    lines.append(f"| `Coder.code` on one record (median CPU µs of 200 calls) | {1e6 * stages['one record (median)']:,.0f} "
                 "| |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import statcoder

    print(f"statcoder from {Path(statcoder.__file__).parent}")
    stages = profile(args.model, args.rows, args.repeat)
    print("\n".join(table(stages, args.rows)))
    print(f"load average: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")


if __name__ == "__main__":
    main()
