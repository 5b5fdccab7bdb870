"""Benchmarks of statcoder.estimation; writes benchmarks/estimation/results.md.

1. Model-assisted simulation on the API population (R ``survey`` ``apipop``, 6,194 schools):
   repeated simple random samples; Horvitz-Thompson vs linear GREG vs cross-fitted GREG with
   gradient boosting: relative bias, variance, mean estimated variance, 95 % CI coverage.
2. Coding-error correction on OJALAB (Polish job ads hand-coded to KZiS 2023): a coder from
   the core is trained on half of the ads and codes the other half; repeated random audits of
   the coded half give corrected code shares at levels 1 and 2, compared with the naive
   machine-only shares and with the true shares.

Run:  .venv/bin/python benchmarks/estimation/run.py [--reps 200] [--audit-reps 500] [--model-cache DIR]
Single process. Part 1 takes about 8 minutes on two shared cores; part 2 trains a coder
(about 15 minutes under load), which --model-cache DIR saves and reuses on later runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pandas as pd
from sklearn.ensemble import GradientBoostingRegressor

from statcoder.estimation import SurveyDesign
from statcoder.estimation.coding_error import corrected_shares
from statcoder.estimation.model_assisted import CrossFittedGREG
from statcoder.io.atomic import atomic_write_text

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("STATCODER_SHARED_DATA", HERE.parents[2] / "shared" / "data"))
FEATURES = [
    "meals",
    "ell",
    "col.grad",
    "grad.sch",
    "not.hsg",
    "some.col",
    "full",
    "emer",
    "pct.resp",
    "mobility",
    "stypeH",
    "stypeM",
]
RESPONSE = "enroll"


def api_population() -> pd.DataFrame:
    """apipop with school-type dummies; schools missing the response or a feature are dropped."""
    pop = pd.read_csv(DATA / "estimation" / "apipop.csv")
    pop["stypeH"] = (pop["stype"] == "H").astype(float)
    pop["stypeM"] = (pop["stype"] == "M").astype(float)
    return pop.dropna(subset=FEATURES + [RESPONSE]).reset_index(drop=True)


def model_assisted_simulation(reps: int, n: int, seed: int) -> tuple[pd.DataFrame, dict]:
    pop = api_population()
    big_n = len(pop)
    truth = float(pop[RESPONSE].mean())
    totals = {f: float(pop[f].sum()) for f in FEATURES}
    rng = np.random.default_rng(seed)
    model = GradientBoostingRegressor(
        n_estimators=100,
        learning_rate=0.1,
        max_depth=3,
        subsample=0.8,
        min_samples_leaf=10,
        random_state=0,
    )
    rows = {
        "Horvitz-Thompson": [],
        "linear GREG (calibration)": [],
        "cross-fitted GREG, gradient boosting": [],
    }
    start = time.time()
    for rep in range(reps):
        sample = pop.iloc[rng.choice(big_n, size=n, replace=False)].reset_index(drop=True)
        sample["w"], sample["fpc"] = big_n / n, big_n
        design = SurveyDesign(sample, weights="w", fpc="fpc")
        ht = design.mean(RESPONSE)
        greg = design.calibrate(totals, population_size=big_n).mean(RESPONSE)
        cf = CrossFittedGREG(model, n_folds=5, seed=rep).fit(design, RESPONSE, FEATURES, pop)
        ml = cf.result_.get(statistic="mean")
        for name, est in zip(rows, (ht, greg, ml), strict=True):
            rows[name].append((est.value, est.se))
        if rep % 20 == 0:
            print(
                f"  model-assisted rep {rep}/{reps} ({time.time() - start:.0f}s)", file=sys.stderr
            )
    out = []
    for name, values in rows.items():
        v = np.asarray(values)
        cover = np.mean(np.abs(v[:, 0] - truth) <= 1.959964 * v[:, 1])
        out.append(
            {
                "estimator": name,
                "relative bias %": 100 * (v[:, 0].mean() - truth) / truth,
                "variance (MC)": v[:, 0].var(ddof=1),
                "mean estimated variance": np.mean(v[:, 1] ** 2),
                "variance / HT": v[:, 0].var(ddof=1)
                / np.asarray(rows["Horvitz-Thompson"])[:, 0].var(ddof=1),
                "95% CI coverage %": 100 * cover,
            }
        )
    info = {"N": big_n, "n": n, "reps": reps, "truth": truth, "seconds": time.time() - start}
    return pd.DataFrame(out), info


def coding_correction_benchmark(
    audit_size: int, reps: int, seed: int, model_cache: Path | None = None
) -> tuple[pd.DataFrame, dict]:
    from statcoder import Classification, Coder, train

    ads = pd.read_csv(
        DATA / "coding" / "ojalab_pl_job_ads.csv.gz", dtype=str, keep_default_na=False
    )
    ads["text"] = ads["text"].str.slice(0, 5000)  # 9 ads exceed the coder's 10,000-character limit
    classification = Classification.from_codes(
        sorted(ads["code"].unique()), name="KZiS 2023 (from codes)", prefix_lengths=[1, 2, 3, 4, 6]
    )
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(ads))
    train_rows, coded_rows = order[: len(ads) // 2], order[len(ads) // 2 :]
    start = time.time()
    cached = model_cache is not None and (model_cache / "model.json").is_file()
    if cached:
        coder = Coder.load(model_cache)  # same split and seed: reuse the coder of an earlier run
    else:
        coder = train(
            ads.iloc[train_rows],
            text_columns=["text"],
            code_column="code",
            classification=classification,
            seed=seed,
        )
        if model_cache is not None:
            coder.save(model_cache)
    train_seconds = time.time() - start
    if model_cache is not None:
        timing = model_cache.parent / f"{model_cache.name}.train_seconds"  # outside the model dir
        if cached and timing.is_file():
            train_seconds = float(timing.read_text())
        elif not cached:
            timing.write_text(f"{train_seconds:.1f}")
    coded = ads.iloc[coded_rows].reset_index(drop=True)
    proba = coder.predict_proba(coded["text"].tolist())
    machine_leaf = np.asarray(coder.classes_)[proba.argmax(axis=1)]
    human_leaf = coded["code"].to_numpy()
    out = []
    for level in (1, 2):
        machine = np.asarray([classification.truncate(c, level) for c in machine_leaf])
        human = np.asarray([classification.truncate(c, level) for c in human_leaf])
        codes = sorted(set(human) | set(machine))
        truth = (
            pd.Series(human).value_counts(normalize=True).reindex(codes, fill_value=0).to_numpy()
        )
        for method in ("difference", "ppi++"):
            est, cover, naive_cover, width = [], [], [], []
            for _ in range(reps):
                audit = rng.choice(len(coded), size=audit_size, replace=False)
                res = corrected_shares(machine, audit, human[audit], codes=codes, method=method)
                est.append(res["estimate"].to_numpy())
                cover.append((res["ci_low"] <= truth) & (truth <= res["ci_high"]))
                naive_cover.append((res["naive_ci_low"] <= truth) & (truth <= res["naive_ci_high"]))
                width.append((res["ci_high"] - res["ci_low"]).to_numpy())
            naive = res["naive"].to_numpy()
            est = np.asarray(est)
            out.append(
                {
                    "level": level,
                    "codes": len(codes),
                    "method": method,
                    "accuracy at level %": 100 * np.mean(machine == human),
                    "naive mean abs error (pp)": 100 * np.mean(np.abs(naive - truth)),
                    "naive max abs error (pp)": 100 * np.max(np.abs(naive - truth)),
                    "corrected mean abs bias (pp)": 100 * np.mean(np.abs(est.mean(axis=0) - truth)),
                    "corrected mean abs error (pp)": 100 * np.mean(np.abs(est - truth)),
                    "corrected coverage %": 100 * np.mean(cover),
                    "coverage, codes >= 1 % (%)": 100
                    * np.mean(np.asarray(cover)[:, truth >= 0.01]),
                    "naive coverage %": 100 * np.mean(naive_cover),
                    "mean CI width (pp)": 100 * np.mean(width),
                }
            )
    info = {
        "train": len(train_rows),
        "coded": len(coded_rows),
        "audit": audit_size,
        "reps": reps,
        "train_seconds": train_seconds,
        "cached": cached,
        "coder_version": coder.version,
    }
    return pd.DataFrame(out), info


def _md(frame: pd.DataFrame) -> str:
    head = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = []
    for row in frame.itertuples(index=False):
        cells = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in row]
        body.append("| " + " | ".join(cells) + " |")
    return "\n".join([head, rule, *body])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200, help="simulation samples (model-assisted)")
    parser.add_argument("--n", type=int, default=400, help="sample size (model-assisted)")
    parser.add_argument("--audit-size", type=int, default=400)
    parser.add_argument("--audit-reps", type=int, default=500)
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--skip-coding", action="store_true", help="skip the OJALAB part")
    parser.add_argument(
        "--model-cache", type=Path, default=None, help="directory to save/reuse the OJALAB coder"
    )
    args = parser.parse_args()
    lines = [
        "# Estimation benchmarks",
        "",
        (
            f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
            f"{os.cpu_count()} cores (shared), Python {platform.python_version()}; "
            f"command: `.venv/bin/python benchmarks/estimation/run.py "
            f"--reps {args.reps} --n {args.n} --audit-size {args.audit_size} --audit-reps {args.audit_reps}"
            + (f" --model-cache {args.model_cache}" if args.model_cache else "")
            + "`."
        ),
        "",
    ]
    table, info = model_assisted_simulation(args.reps, args.n, args.seed)
    lines += [
        "## 1. Model-assisted estimation on the API population",
        "",
        (
            f"Population: `apipop` ({info['N']} schools with `{RESPONSE}` and all auxiliaries; 43 of 6,194 "
            f"dropped for missing values). Target: mean `{RESPONSE}` = {info['truth']:.3f}. "
            f"{info['reps']} simple random samples of n = {info['n']} (with fpc). Auxiliaries known for "
            f"every school: {', '.join(FEATURES)}. Linear GREG calibrates to their population totals; "
            "the cross-fitted GREG uses `GradientBoostingRegressor(n_estimators=100, max_depth=3, "
            "learning_rate=0.1, subsample=0.8)` with 5 PSU folds and linearisation variance on "
            f"out-of-fold residuals. Wall time {info['seconds']:.0f} s."
        ),
        "",
        _md(table),
        "",
        (
            "Coverage is the share of samples whose 95 % Wald interval contains the population mean "
            f"(Monte Carlo standard error about {100 * np.sqrt(0.95 * 0.05 / info['reps']):.1f} points)."
        ),
        "",
    ]
    if not args.skip_coding:
        try:
            import statcoder.coder  # noqa: F401
        except ImportError as exc:  # the core is not installed
            lines += ["## 2. Coding-error correction on OJALAB", "", f"Not run: {exc}.", ""]
        else:
            atomic_write_text(
                HERE / "results.md", "\n".join([*lines, "(coding benchmark running)"])
            )
            coding, cinfo = coding_correction_benchmark(
                args.audit_size, args.audit_reps, args.seed, args.model_cache
            )
            lines += [
                "## 2. Coding-error correction on OJALAB",
                "",
                (
                    f"A coder (`statcoder.train`, linear backend, version {cinfo['coder_version']}) is "
                    f"trained on {cinfo['train']} ads ("
                    + (
                        "loaded from --model-cache, trained by an earlier run with the same split "
                        f"and seed in {cinfo['train_seconds']:.0f} s"
                        if cinfo["cached"]
                        else f"{cinfo['train_seconds']:.0f} s"
                    )
                    + f") and codes the other "
                    f"{cinfo['coded']} (best leaf code). Target: the true share of each code among the coded "
                    f"ads, at KZiS level 1 (major group) and 2 (sub-major group). {cinfo['reps']} random "
                    f"audits of {cinfo['audit']} coded ads each; 'difference' = finite-population difference "
                    "estimator, 'ppi++' = power-tuned prediction-powered inference. The naive shares count "
                    "machine codes only and claim no uncertainty (their interval is a point)."
                ),
                "",
                _md(coding),
                "",
            ]
    atomic_write_text(HERE / "results.md", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
