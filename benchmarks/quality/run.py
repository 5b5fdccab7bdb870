"""Benchmark of training-data quality checks (issue 5). One command, writes results.md next to it.

    .venv/bin/python benchmarks/quality/run.py [--esco-rows 12000] [--scale-rows 100000] [--skip-scale]

1. Label-issue detection: inject 5 % synthetic label noise (uniform, and "realistic" = swapped
   within the same ISCO 3-digit minor group) into the training part of OJALAB (isco08 4-digit)
   and ESCO (esco_isco08_labels.csv, subsampled); out-of-fold probabilities from
   ``statcoder.coder.estimator.out_of_fold_proba``; precision / recall / F1 of confident learning against
   the baseline "flag records whose given label has out-of-fold probability < 0.1", and the
   accuracy on a clean held-out split when training with the flagged labels removed or corrected.
2. Runtime of the whole ``check_training_data`` on 100,000 labelled records (O*NET alternate
   and reported titles + Census index, resampled to the target size), per stage.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from statcoder.classifications import Classification
from statcoder.coder.estimator import out_of_fold_proba
from statcoder.coder.levels import top_level_groups
from statcoder.models import make_model
from statcoder.quality import confident_learning as cl
from statcoder.quality.check import check_training_data
from statcoder.quality.label_issues import codes_to_labels
from statcoder.quality.noise import detection_scores, inject_label_noise

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("STATCODER_SHARED_DATA", HERE.parents[2] / "shared" / "data"))
RATE = 0.05
SEED = 0
METHODS = ("both", "prune_by_noise_rate", "prune_by_class", "confident_learning")


def load_ojalab(tree: Classification, rows: int) -> pd.DataFrame:
    frame = pd.read_csv(DATA / "coding/ojalab_pl_job_ads.csv.gz", dtype=str, keep_default_na=False)
    frame = frame[frame["isco08"].isin(set(tree.codes_at(4)))]
    if rows and rows < len(frame):
        frame = frame.sample(rows, random_state=SEED)
    return pd.DataFrame({"text": frame["text"].to_numpy(), "code": frame["isco08"].to_numpy()})


def load_esco(rows: int) -> pd.DataFrame:
    frame = pd.read_csv(DATA / "coding/esco_isco08_labels.csv", dtype=str, keep_default_na=False)
    if rows and rows < len(frame):
        frame = frame.sample(rows, random_state=SEED)
    return frame[["text", "code"]].reset_index(drop=True)


def split(frame: pd.DataFrame, *, test_share: float = 0.2) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(SEED)
    order = rng.permutation(len(frame))
    cut = int(len(frame) * (1 - test_share))
    return frame.iloc[order[:cut]].reset_index(drop=True), frame.iloc[order[cut:]].reset_index(drop=True)


def accuracy(texts_train, codes_train, texts_test, codes_test, tree: Classification) -> float:
    model = make_model("linear", seed=SEED, groups=top_level_groups(tree, codes_train))
    model.fit(list(texts_train), list(codes_train))
    return float(np.mean(np.asarray(model.predict(list(texts_test))) == np.asarray(codes_test)))


def precision_at_k(order: np.ndarray, truth: np.ndarray, k: int) -> float:
    return float(truth[order[:k]].mean()) if k else float("nan")


def label_noise_experiment(name: str, frame: pd.DataFrame, tree: Classification, log) -> list[dict]:
    train, test = split(frame)
    rows = []
    for mode in ("uniform", "within_group"):
        t0 = time.perf_counter()
        noisy, flipped = inject_label_noise(
            train["code"].tolist(), rate=RATE, mode=mode, classification=tree, group_level=3, seed=SEED
        )
        texts = train["text"].tolist()
        proba, classes = out_of_fold_proba(texts, noisy, classification=tree, backend="linear", n_splits=5,
                                           seed=SEED)
        t_cv = time.perf_counter() - t0
        labels = codes_to_labels(noisy, classes)
        p_given = proba[np.arange(len(labels)), labels]
        k = int(flipped.sum())
        flags = {f"confident learning ({m})": cl.find_label_issues(labels, proba, filter_by=m) for m in METHODS}
        flags["baseline p(given) < 0.1"] = p_given < 0.1
        margin = cl.label_quality_scores(labels, proba, method="normalized_margin")
        rank_cl = np.argsort(margin, kind="stable")
        rank_base = np.argsort(p_given, kind="stable")
        for method, mask in flags.items():
            score = detection_scores(mask, flipped)
            rank = rank_base if method.startswith("baseline") else rank_cl
            rows.append({"dataset": name, "noise": mode, "records": len(train), "injected": k, "method": method,
                         **score, "precision_at_k": precision_at_k(rank, flipped, k), "cv_seconds": t_cv})
        log(f"{name} {mode}: detection done ({t_cv:.0f} s cross-validation)")

        # accuracy on the clean test split when training on cleaned data
        both = flags["confident learning (both)"]
        base = flags["baseline p(given) < 0.1"]
        other_idx, _ = cl.best_other_class(labels, proba)
        corrected = [classes[other_idx[i]] if both[i] else c for i, c in enumerate(noisy)]

        def keep(mask: np.ndarray) -> list[int]:
            return np.flatnonzero(~mask).tolist()

        variants = {
            "noisy labels (as given)": (texts, noisy),
            "confident learning (both): flagged removed": ([texts[i] for i in keep(both)], [noisy[i] for i in keep(both)]),
            "confident learning (both): flagged corrected": (texts, corrected),
            "baseline: flagged removed": ([texts[i] for i in keep(base)], [noisy[i] for i in keep(base)]),
        }
        # targeted cleaning: only the k highest-ranked records (k = the injected 5 %)
        top_cl = np.zeros(len(noisy), dtype=bool)
        top_cl[rank_cl[:k]] = True
        top_base = np.zeros(len(noisy), dtype=bool)
        top_base[rank_base[:k]] = True
        variants["confident learning: top 5 % by normalized margin removed"] = (
            [texts[i] for i in keep(top_cl)], [noisy[i] for i in keep(top_cl)])
        variants["baseline: top 5 % by p(given) removed"] = (
            [texts[i] for i in keep(top_base)], [noisy[i] for i in keep(top_base)])
        variants["clean labels (oracle upper bound)"] = (texts, train["code"].tolist())
        for variant, (tx, cd) in variants.items():
            acc = accuracy(tx, cd, test["text"], test["code"], tree)
            rows.append({"dataset": name, "noise": mode, "records": len(tx), "method": f"accuracy: {variant}",
                         "accuracy": acc, "test_records": len(test)})
        log(f"{name} {mode}: accuracy variants done")
    return rows


def scale_experiment(rows: int, log) -> dict:
    soc = Classification.from_csv(DATA / "classifications/soc2018.csv")
    parts = [
        pd.read_csv(DATA / f"coding/{f}", dtype=str, keep_default_na=False)[["text", "code"]]
        for f in ("onet_alternate_titles.csv", "onet_reported_titles.csv", "census2022_occupation_index.csv")
    ]
    frame = pd.concat(parts, ignore_index=True)
    frame = frame[frame["code"].isin(set(soc.codes))].reset_index(drop=True)
    source_rows = len(frame)
    rng = np.random.default_rng(SEED)
    if rows > len(frame):
        extra = rng.choice(len(frame), rows - len(frame), replace=True)
        frame = pd.concat([frame, frame.iloc[extra]], ignore_index=True)
    else:
        frame = frame.iloc[rng.choice(len(frame), rows, replace=False)].reset_index(drop=True)
    t0 = time.perf_counter()
    result = check_training_data(frame, text_columns=["text"], code_column="code", classification=soc,
                                 redact=True, seed=SEED)
    total = time.perf_counter() - t0
    log(f"scale: {rows} records in {total:.0f} s")
    return {"records": rows, "source_rows": source_rows, "classes": len(result.label_issues.classes),
            "total_seconds": total, "timings": result.timings, "flagged": len(result.label_issues.issues)}


def markdown_table(frame: pd.DataFrame, *, digits: int = 3) -> str:
    """A GitHub markdown table (no extra dependency)."""

    def fmt(v) -> str:
        if isinstance(v, (float, np.floating)) and float(v).is_integer() and abs(v) >= 1:
            return f"{int(v):,}"
        if isinstance(v, (int, np.integer)):
            return f"{int(v):,}"
        if isinstance(v, (float, np.floating)):
            return "" if np.isnan(v) else f"{v:.{digits}f}"
        return str(v)

    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(fmt(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def write_results(detection: pd.DataFrame, scale: dict | None, args, elapsed: float) -> Path:
    lines = [
        "# Training-data quality benchmark (issue 5)",
        "",
        (
            f"Measured in one run of `benchmarks/quality/run.py` on {platform.node()} "
            f"({os.cpu_count()} cores shared with other work, Python {platform.python_version()}); total {elapsed / 60:.1f} min."
        ),
        f"Command: `{' '.join(['.venv/bin/python', 'benchmarks/quality/run.py', *sys.argv[1:]])}`",
        "",
        "## Label-issue detection with 5 % injected noise",
        "",
        (
            "Data: OJALAB Polish job ads (title + description) coded to ISCO-08 4-digit (column `isco08`; the rows whose "
            "4-digit group is not an ISCO-08 unit group are left out; "
            + (f"random subsample of {args.ojalab_rows:,} rows" if args.ojalab_rows else "all rows")
            + f"), and ESCO occupation labels (random subsample of {args.esco_rows:,} of 33,008 "
            "rows to keep the run within reach on 2 shared cores). Each set is split 80/20 (seed 0); noise is injected into "
            "the 80 % training part only: `uniform` = a random other code seen in the data, `within_group` = another code "
            "of the same ISCO 3-digit minor group (\"realistic\"). Out-of-fold probabilities: "
            "`statcoder.coder.estimator.out_of_fold_proba(backend=\"linear\", n_splits=5, seed=0)`."
        ),
        "",
        (
            "Precision / recall / F1 are against the injected errors only. The data sets also carry real label noise and "
            "genuinely ambiguous labels (ESCO: 626 labels in several unit groups), which every method also flags, so "
            "precision against injected errors understates real precision. `precision_at_k` = precision among the k "
            "highest-ranked records, k = number of injected errors (confident learning ranks by normalized margin, the "
            "baseline by p(given))."
        ),
        "",
    ]
    det = detection[~detection["method"].str.startswith("accuracy")]
    cols = ["dataset", "noise", "records", "injected", "method", "flagged", "precision", "recall", "f1", "precision_at_k"]
    lines += [markdown_table(det[cols]), ""]
    for (dataset, noise), part in det.groupby(["dataset", "noise"], sort=False):
        f1 = part.set_index("method")["f1"]
        ours, base = f1["confident learning (both)"], f1["baseline p(given) < 0.1"]
        lines.append(
            f"* {dataset}, {noise} noise: F1 of confident learning (both) {ours:.3f} vs baseline {base:.3f} "
            f"({'better' if ours > base else 'not better'})."
        )
    lines.append("")
    acc = detection[detection["method"].str.startswith("accuracy")]
    lines += [
        "## Accuracy on the clean held-out 20 % after cleaning",
        "",
        (
            "4-digit accuracy of `make_model(\"linear\")` (hierarchy-aware, as `statcoder train` uses it) trained on the "
            "noisy training part as given; with the records flagged by confident learning (both) removed, or relabelled "
            "to the suggested code; with the baseline's flags removed; with only the k = 5 % highest-ranked records "
            "removed (each method's own ranking); and on the clean labels (upper bound of any cleaning)."
        ),
        "",
        markdown_table(acc[["dataset", "noise", "records", "method", "accuracy"]], digits=4),
        "",
    ]
    for (dataset, noise), part in acc.groupby(["dataset", "noise"], sort=False):
        a = part.set_index("method")["accuracy"]
        n_test = int(part["test_records"].iloc[0])
        noisy = a["accuracy: noisy labels (as given)"]
        se = float(np.sqrt(noisy * (1 - noisy) / n_test))
        gains = ", ".join(f"{m.removeprefix('accuracy: ')} {100 * (v - noisy):+.1f}" for m, v in a.items()
                          if m != "accuracy: noisy labels (as given)")
        lines.append(
            f"* {dataset}, {noise}: accuracy gain over the noisy labels in points: {gains} "
            f"(test set {n_test:,} records, binomial SE of one accuracy {100 * se:.1f} points)."
        )
    lines.append("")
    if scale is not None:
        t = scale["timings"]
        lines += [
            "## Runtime on 100,000 records",
            "",
            (
                f"`check_training_data` (personal data with redaction, coverage, duplicates, out-of-fold probabilities with "
                f"5 folds, confident learning) on {scale['records']:,} records: O*NET alternate + reported titles and the "
                f"Census 2022 index ({scale['source_rows']:,} rows with SOC 2018 codes), resampled with replacement to the "
                f"target size; {scale['classes']:,} codes; {scale['flagged']:,} records flagged."
            ),
            "",
            "| stage | seconds |",
            "|---|---|",
            *[f"| {k} | {v:.1f} |" for k, v in t.items()],
            f"| **total** | **{scale['total_seconds']:.1f}** ({scale['total_seconds'] / 60:.1f} min; target < 10 min) |",
            "",
        ]
    path = HERE / "results.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ojalab-rows", type=int, default=0, help="subsample OJALAB (0 = all rows)")
    parser.add_argument("--esco-rows", type=int, default=12000)
    parser.add_argument("--scale-rows", type=int, default=100_000)
    parser.add_argument("--skip-scale", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{(time.perf_counter() - start) / 60:5.1f} min] {msg}", flush=True)

    isco = Classification.from_csv(DATA / "classifications/isco08.csv")
    rows = []
    rows += label_noise_experiment("OJALAB", load_ojalab(isco, args.ojalab_rows), isco, log)
    rows += label_noise_experiment("ESCO", load_esco(args.esco_rows), isco, log)
    scale = None if args.skip_scale else scale_experiment(args.scale_rows, log)
    path = write_results(pd.DataFrame(rows), scale, args, time.perf_counter() - start)
    log(f"wrote {path}")


if __name__ == "__main__":
    main()
