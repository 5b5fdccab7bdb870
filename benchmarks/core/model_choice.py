"""Issue 12: which model variant per data set, and would the out-of-fold scores have chosen it?

    nice -n 19 .venv/bin/python benchmarks/core/model_choice.py --datasets esco [--candidates ...]

Fold 1 of each set (the splits of run.py; O*NET = alternate titles -> reported titles). For
every candidate the recipe of ``train()`` is replayed on one shared featuriser: K members on
random folds of the training part (K = 5 below 20,000 records, else 3), out-of-fold top-1 from
the members, and the test top-1 of the ``mean`` model (members' mean weights). Candidates:
``hier`` (hierarchy-aware) or ``flat``, a C, and ``+titles`` (the classification's leaf titles
appended to every member's training rows, never scored out of fold) and ``+notes`` (the
items of the classification file's ``includes`` column, ISCO-08 for ESCO). Also: how often a test
text occurs verbatim (normalised) in the training part and how accurate its training code is.
Appends one JSON line per (data set, candidate) to benchmarks/core/model_choice.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import datasets as ds

from statcoder.coder.levels import top_level_groups
from statcoder.coder.members import random_folds
from statcoder.models.linear import LinearTextCoder, fit_svm_tasks

OUT = Path(__file__).resolve().parent / "model_choice.jsonl"
LONGEST = 200_000


def _load(name: str) -> tuple[ds.Split, object]:
    data = {"onet": ds.onet, "esco": lambda: ds.esco(folds=1), "naics": lambda: ds.naics(folds=1),
            "ojalab": lambda: ds.ojalab(folds=1)}[name]()
    return data.splits[0], data.classification


def _titles(tree: object, codes: set[str]) -> tuple[list[str], list[str]]:
    pairs = [(tree.title(c), c) for c in sorted(codes) if tree.title(c).strip()]
    return [t for t, _ in pairs], [c for _, c in pairs]


NOTES = {"esco": "isco08.csv"}  # the benchmark classifications whose file has an `includes` column


def _notes(name: str, codes: set[str]) -> tuple[list[str], list[str]]:
    from statcoder.coder.train import note_examples

    if name not in NOTES:
        return [], []
    return note_examples(ds.SHARED / "classifications" / NOTES[name], codes=codes)


def run(name: str, candidates: list[str], seed: int = 0) -> list[dict]:
    split, tree = _load(name)
    texts = [t[:LONGEST] for t in split.train["text"]]
    codes = np.asarray([str(c) for c in split.train["code"]], dtype=object)
    keep = np.asarray([c in tree for c in codes])
    texts, codes = [t for t, k in zip(texts, keep, strict=True) if k], codes[keep]
    test_texts, truth = list(split.test["text"]), split.test["code"].to_numpy(dtype=object)
    n, k = len(texts), (5 if len(texts) < 20_000 else 3)
    fold = random_folds(n, k, seed=seed)
    norm = {}
    for t, c in zip(texts, codes, strict=True):
        norm.setdefault(ds._norm(t), []).append(c)
    seen = [ds._norm(t) in norm for t in test_texts]
    exact = {"test_seen_share": float(np.mean(seen))}
    if any(seen):
        hits = [max(set(norm[ds._norm(t)]), key=norm[ds._norm(t)].count) == y
                for t, y, s in zip(test_texts, truth, seen, strict=True) if s]
        exact["seen_train_code_acc"] = float(np.mean(hits))
    out = []
    by_titles: dict[tuple[bool, bool], list[str]] = {}
    for cand in candidates:
        by_titles.setdefault(("+titles" in cand, "+notes" in cand), []).append(cand)
    for (with_titles, with_notes), group in by_titles.items():
        extra_t, extra_c = _titles(tree, set(codes)) if with_titles else ([], [])
        if with_notes:
            note_t, note_c = _notes(name, set(codes))
            extra_t, extra_c = extra_t + note_t, extra_c + note_c
        all_texts = texts + extra_t
        all_codes = np.concatenate([codes, np.asarray(extra_c, dtype=object)])
        extra_rows = np.arange(n, n + len(extra_t))
        started = time.perf_counter()
        base0 = LinearTextCoder(seed=seed)
        features = base0.make_features().fit(all_texts)
        Z = features.transform(all_texts)
        Zt = features.transform(test_texts)
        feat_s = time.perf_counter() - started
        for cand in group:
            kind, c_value = cand.split("+")[0].split(":")
            groups = top_level_groups(tree, list(set(codes))) if kind == "hier" else None
            base = LinearTextCoder(C=float(c_value), groups=groups, seed=seed)
            members, plans = [], []
            for j in range(k):
                rows = np.r_[np.flatnonzero(fold != j), extra_rows]
                m = LinearTextCoder(**base.get_params())
                members.append(m)
                plans.append(m.plan_fit(rows, all_codes[rows]))
            tasks = [t for p in plans for t in p.tasks]
            started = time.perf_counter()
            fitted = fit_svm_tasks(Z, tasks, base.svm_options(), n_jobs=2)
            fit_s = time.perf_counter() - started
            pos = 0
            for p in plans:
                p.finish(fitted[pos:pos + len(p.tasks)], features)
                pos += len(p.tasks)
            oof = np.empty(n, dtype=object)
            for j, m in enumerate(members):
                rows = np.flatnonzero(fold == j)
                oof[rows] = m.classes_[np.argmax(m.scores_of_features(Z[rows]), axis=1)]
            mean = LinearTextCoder.averaged(members)
            pred = mean.classes_[np.argmax(mean.scores_of_features(Zt), axis=1)]
            row = {"dataset": name, "candidate": cand, "k": k, "n_train": n, "n_extra": len(extra_t),
                   "oof_top1": float(np.mean(oof == codes)), "test_top1": float(np.mean(pred == truth)),
                   "features_s": round(feat_s, 1), "svm_s": round(fit_s, 1), "load": os.getloadavg()[0], **exact}
            print(json.dumps(row), flush=True)
            with OUT.open("a") as f:
                f.write(json.dumps(row) + "\n")
            out.append(row)
    return out


def main() -> None:
    """Run the candidates on fold 1 of each data set named."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="esco,naics,onet,ojalab")
    parser.add_argument("--candidates", default="hier:1,hier:2,flat:1,flat:0.5,hier:1+titles")
    args = parser.parse_args()
    for name in args.datasets.split(","):
        run(name, args.candidates.split(","))


if __name__ == "__main__":
    main()
