"""Monitoring benchmark on real data: four scripted scenarios, one run, one results file.

    .venv/bin/python benchmarks/monitoring/run.py [--quick]

Data (read from ../shared/data, never copied): O*NET 29.3 alternate titles and reported titles
coded to SOC 2018, and the BLS SOC 2010 -> 2018 crosswalk. Every alternate title whose
normalised text equals a reported title is removed first (data README, benchmark warning).
The remaining alternate titles are split by normalised text: 70 % train a linear coder, 30 %
form the held-out pool from which the reference (6,000 records) and the periods are drawn.

Scenarios (periods of 2,000 records unless said otherwise):
  (a) covariate shift - the mix of SOC major groups moves, period by period, towards the three
      groups on which the model is weakest at the major-group level (on the reference);
  (b) new way of writing - the share of worker-reported titles grows from 0 to 100 %;
  (c) concept change - from period 5 on, SOC 2018 codes linked by the crosswalk's one-to-many or
      many-to-one rows are merged into one code per family (texts unchanged, so only the labels
      move); periods of 4,000 records, up to 400 auto records audited per period;
  (d) 20 stable periods drawn like the reference, with up to 400 audited auto records each.
Writes benchmarks/monitoring/results.md.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from statcoder import Classification, train
from statcoder.monitoring import AlertPolicy, Monitor, MonitoringResult, ScoredRecords, score_frame

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
OUT = Path(__file__).resolve().parent / "results.md"
ESTIMATORS = ["average_confidence", "cbpe", "atc", "label_shift"]
PERIOD, REFERENCE, AUDIT = 2000, 6000, 400
CONCEPT_PERIOD = 4000  # (c): few records are auto-coded, so audits need bigger periods
TARGET = 0.80  # target accuracy of auto-coded records (0.95 leaves no auto codes at level 4 on this data)


def key(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def load() -> tuple[Classification, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """SOC 2018, alternate titles (minus reported-title texts), reported titles, crosswalk."""
    soc = Classification.from_csv(DATA / "classifications" / "soc2018.csv", name="SOC 2018", version="2018")
    read = lambda p: pd.read_csv(DATA / p, dtype=str, keep_default_na=False)
    alt, rep = read("coding/onet_alternate_titles.csv"), read("coding/onet_reported_titles.csv")
    reported = set(rep["text"].map(key))
    alt = alt[~alt["text"].map(key).isin(reported)].reset_index(drop=True)
    return soc, alt, rep[["text", "code"]], read("concordances/soc2010_soc2018.csv")


def with_batch(pool: ScoredRecords, index: np.ndarray, *, labels: np.ndarray | None = None,
               audit: int = 0, rng: np.random.Generator | None = None) -> ScoredRecords:
    """A period made of pool records at ``index``; ``audit`` auto records get the (new) true code."""
    batch = pool.subset(index)
    if labels is not None:
        batch.labels = labels
    batch.audit = np.full(len(batch), "", dtype=object)
    if audit:
        auto = np.flatnonzero(batch.decision == "auto")
        chosen = rng.choice(auto, min(audit, len(auto)), replace=False)
        batch.audit[chosen] = batch.labels[chosen]
    return batch


def scenario_a(pool: ScoredRecords, soc: Classification, weak: list[str], rng) -> dict[str, ScoredRecords]:
    major = np.array([soc.truncate(c, 1) for c in pool.labels])
    groups = sorted(set(major))
    base = np.array([np.mean(major == g) for g in groups])
    target = np.array([1.0 if g in weak else 0.0 for g in groups])
    target /= target.sum()
    members = {g: np.flatnonzero(major == g) for g in groups}
    out = {}
    for t, lam in enumerate([0, 0, 0, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9, 1.0, 1.0, 1.0]):
        shares = (1 - lam) * base + lam * target
        counts = rng.multinomial(PERIOD, shares)
        index = np.concatenate([rng.choice(members[g], c, replace=True) for g, c in zip(groups, counts, strict=True)])
        out[f"a{t + 1:02d}"] = with_batch(pool, index)
    return out


def scenario_b(pool: ScoredRecords, reported: ScoredRecords, rng) -> dict[str, ScoredRecords]:
    out = {}
    for t, share in enumerate([0, 0, 0, 0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 1.0, 1.0, 1.0]):
        n_rep = round(share * PERIOD)
        a = pool.subset(rng.choice(len(pool), PERIOD - n_rep, replace=False))
        b = reported.subset(rng.choice(len(reported), n_rep, replace=False))
        out[f"b{t + 1:02d}"] = concat(a, b)
    return out


def concat(a: ScoredRecords, b: ScoredRecords) -> ScoredRecords:
    """Two batches of the same coder as one."""
    cat = lambda x, y: None if x is None else np.concatenate([x, y])
    return ScoredRecords(
        classification=a.classification, classes=a.classes, proba=np.vstack([a.proba, b.proba]),
        texts=a.texts + b.texts, predicted_code=cat(a.predicted_code, b.predicted_code),
        predicted_level=cat(a.predicted_level, b.predicted_level), confidence=cat(a.confidence, b.confidence),
        decision=cat(a.decision, b.decision), labels=cat(a.labels, b.labels),
    )


def revision_map(crosswalk: pd.DataFrame) -> dict[str, str]:
    """SOC 2018 code -> the code it is merged into when the revision's changes are undone.

    SOC 2010 and 2018 codes linked by the crosswalk's one-to-many or many-to-one rows form
    families (connected components); each family's 2018 codes are merged into one of them
    (the code that kept its 2010 number if there is one, else the first).
    """
    changed = crosswalk[(crosswalk["one_to_many"] == "true") | (crosswalk["many_to_one"] == "true")]
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for s, t in zip("2010:" + changed["source_code"], "2018:" + changed["target_code"], strict=True):
        parent[find(s)] = find(t)
    families: dict[str, list[str]] = {}
    for node in list(parent):
        families.setdefault(find(node), []).append(node)
    sources = set(changed["source_code"])
    remap = {}
    for nodes in families.values():
        targets = sorted(n[5:] for n in nodes if n.startswith("2018:"))
        kept = [t for t in targets if t in sources]
        keep = kept[0] if kept else targets[0]
        remap.update({t: keep for t in targets if t != keep})
    return remap


def scenario_c(pool: ScoredRecords, remap: dict[str, str], rng) -> dict[str, ScoredRecords]:
    out = {}
    for t in range(12):
        index = rng.choice(len(pool), CONCEPT_PERIOD, replace=False)
        labels = pool.labels[index].copy()
        if t >= 4:
            labels = np.array([remap.get(c, c) for c in labels], dtype=object)
        out[f"c{t + 1:02d}"] = with_batch(pool, index, labels=labels, audit=AUDIT, rng=rng)
    return out


def scenario_d(pool: ScoredRecords, rng) -> dict[str, ScoredRecords]:
    return {f"d{t + 1:02d}": with_batch(pool, rng.choice(len(pool), PERIOD, replace=False), audit=AUDIT, rng=rng)
            for t in range(20)}


# ---- figures ---------------------------------------------------------------------------------
def series(frame: pd.DataFrame, signal: str, level, column: str = "value") -> pd.Series:
    rows = frame[(frame["signal"] == signal) & (frame["level"].isna() if level is None else frame["level"] == level)]
    return rows.set_index("period")[column]


def first_alert(result: MonitoringResult, prefixes: tuple[str, ...] | None, start: int) -> int | None:
    """Index of the first period >= start with an alert whose signal starts with one of prefixes."""
    hits = {result.periods.index(a.period) for a in result.alerts
            if prefixes is None or a.signal.startswith(prefixes)}
    later = sorted(i for i in hits if i >= start)
    return later[0] if later else None


def evaluate(result: MonitoringResult, level, drop_signal: str, family: tuple[str, ...] | None) -> dict:
    """Estimate errors, first real 5-point drop, detection delay and the first alert of any kind."""
    frame = result.to_frame()
    real = series(frame, drop_signal, level).reindex(result.periods)
    rows = frame[(frame["signal"] == drop_signal) & (frame["level"].isna() if level is None else frame["level"] == level)]
    reference = float(rows["reference"].iloc[0])
    dropped = np.flatnonzero((reference - real.to_numpy()) >= 0.05)
    start = int(dropped[0]) if len(dropped) else None
    out = {"real": real, "drop_start": start, "reference": reference}
    for name in ESTIMATORS:
        signal = ("accuracy_" if level is not None else "auto_accuracy_") + name
        est = series(frame, signal, level).reindex(result.periods)
        if est.isna().all():
            continue
        err = (est - real).abs()
        judged = result.with_policy(AlertPolicy(estimator=name))
        fam = family if family is not None else (f"accuracy_{name}", f"auto_accuracy_{name}")
        hit = first_alert(judged, fam, start) if start is not None else None
        any_hit = first_alert(judged, None, 0)
        lo = series(frame, signal, level, "lower").reindex(result.periods)
        hi = series(frame, signal, level, "upper").reindex(result.periods)
        covered = int(((real >= lo) & (real <= hi)).sum())
        out[name] = {"mae": float(err.mean()), "max": float(err.max()), "covered": f"{covered}/{len(real)}",
                     "delay": None if start is None else (None if hit is None else hit - start),
                     "first_any": None if any_hit is None else judged.periods[any_hit],
                     "alert_periods": len({a.period for a in judged.alerts})}
    return out


def fmt(x, pct=True) -> str:
    if x is None:
        return "not alerted" if not pct else "-"
    return f"{100 * x:.1f}" if pct else str(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer permutations (smoke run)")
    parser.add_argument("--report", type=Path, default=None, help="also write scenario (c)'s HTML report here")
    parser.add_argument("--model-cache", type=Path, default=None,
                        help="load the coder from this directory if it exists, else train and save it there")
    args = parser.parse_args()
    started = time.perf_counter()
    rng = np.random.default_rng(2026)
    soc, alt, rep, crosswalk = load()
    keys = alt["text"].map(key).to_numpy()
    unique = np.array(sorted(set(keys)))
    rng.shuffle(unique)
    train_keys = set(unique[: int(0.7 * len(unique))])
    is_train = np.array([k in train_keys for k in keys])
    train_df, pool_df = alt[is_train], alt[~is_train].reset_index(drop=True)
    print(f"training on {len(train_df):,} alternate titles; pool {len(pool_df):,}; reported {len(rep):,}", flush=True)
    t0 = time.perf_counter()
    if args.model_cache is not None and (args.model_cache / "model.json").exists():
        from statcoder import Coder

        coder = Coder.load(args.model_cache)
    else:
        coder = train(train_df, text_columns=["text"], code_column="code", classification=soc, seed=0,
                      target_accuracy=TARGET)
        if args.model_cache is not None:
            coder.save(args.model_cache)
    train_seconds = time.perf_counter() - t0
    print(f"trained in {train_seconds:.0f}s; thresholds {coder.thresholds}", flush=True)
    t0 = time.perf_counter()
    pool_all = score_frame(coder, pool_df, label_column="code")
    reported = score_frame(coder, rep, label_column="code")
    score_seconds = time.perf_counter() - t0
    order = rng.permutation(len(pool_all))
    reference = pool_all.subset(order[:REFERENCE])
    pool = pool_all.subset(order[REFERENCE:])

    options = dict(estimators=("average_confidence", "cbpe", "atc"), label_shift=True, audit_column="audit",
                   seed=0, **({"n_permutations": 50, "domain_permutations": 5, "cusum_simulations": 2000} if args.quick else {}))
    t0 = time.perf_counter()
    monitor = Monitor(coder, **options).fit(reference, training_texts=train_df["text"].tolist())
    ref_major = np.array([soc.truncate(c, 1) for c in reference.labels])
    by_group = pd.Series(monitor.reference_correct_[1]).groupby(ref_major).agg(["mean", "size"])
    weak = by_group[by_group["size"] >= 100].sort_values("mean").index[:3].tolist()
    remap = revision_map(crosswalk)
    scenarios = {
        "a": (scenario_a(pool, soc, weak, rng), [1, 4], "accuracy_realised", None),
        "b": (scenario_b(pool, reported, rng), [1, 4], "accuracy_realised", None),
        "c": (scenario_c(pool, remap, rng), [None], "auto_accuracy_realised", ("audit_", "gap_")),
        "d": (scenario_d(pool, rng), [1, 4], "accuracy_realised", None),
    }
    results, figures, timings = {}, {}, {}
    for name, (periods, levels, drop_signal, family) in scenarios.items():
        t1 = time.perf_counter()
        results[name] = monitor.calculate(periods)
        timings[name] = time.perf_counter() - t1
        for level in levels:
            figures[name, level] = evaluate(results[name], level, drop_signal, family)
        print(f"scenario {name}: {len(periods)} periods in {timings[name]:.0f}s, "
              f"{len(results[name].alerts)} alerts", flush=True)
    if args.report is not None:
        results["c"].write_report(args.report, title="Scenario (c): concept change")
    total = time.perf_counter() - started
    write_results(figures, results, coder, weak, remap, pool, reference, train_df, train_seconds, score_seconds,
                  timings, total)
    print(f"wrote {OUT} in {total:.0f}s", flush=True)


def write_results(figures, results, coder, weak, remap, pool, reference, train_df, train_seconds, score_seconds,
                  timings, total) -> None:
    lines = ["# Monitoring benchmark (issue 6)", "",
             (f"Measured in one run of `benchmarks/monitoring/run.py` on this machine (2 shared cores); "
              f"total {total:.0f} s (training {train_seconds:.0f} s, scoring pool + reported titles "
              f"{score_seconds:.0f} s, monitoring "
              + ", ".join(f"({k}) {v:.0f} s" for k, v in timings.items()) + ")."),
             "",
             (f"Coder: linear backend trained on {len(train_df):,} O*NET alternate titles (SOC 2018, 4 levels), "
              f"target accuracy {TARGET}, thresholds "
              f"{', '.join(f'L{k}={v:.3f}' for k, v in coder.thresholds.items())}. "
              f"Reference: {len(reference):,} held-out alternate titles; period pool {len(pool):,}. "
              f"Reference accuracy at level 1: {results['d'].reference['accuracy']['1']:.3f}, level 4: "
              f"{results['d'].reference['accuracy']['4']:.3f}; of auto-coded records: "
              f"{results['d'].reference['auto_accuracy']:.3f} ({results['d'].reference['n_auto']} records)."),
             "",
             (f"(a) weakest major groups used for the shift: {', '.join(weak)}. "
              f"(c) {len(remap)} SOC 2018 codes merged into one code of their crosswalk family (codes linked "
              f"by one-to-many or many-to-one rows of the SOC 2010 -> 2018 crosswalk); periods of "
              f"{CONCEPT_PERIOD:,} records."),
             "", "## Label-free estimate vs realised accuracy", "",
             ("Absolute error of the estimate of the period's accuracy, in percentage points: mean / max over "
              "periods / periods whose realised accuracy lies in the estimate's 95 % interval. Level 1 = SOC "
              "major group, level 4 = detailed 6-digit SOC code; 'auto' = accuracy of auto-coded records. "
              "The realised accuracy of a period of 2,000 records itself has a sampling standard error of "
              "about 1.1 points around the expected accuracy that the estimators target."), "",
             "| scenario | level | " + " | ".join(ESTIMATORS) + " |", "|---|---|" + "---|" * len(ESTIMATORS)]
    for (name, level), f in figures.items():
        cells = [f"{fmt(f[e]['mae'])} / {fmt(f[e]['max'])} / {f[e]['covered']}" if e in f else "-" for e in ESTIMATORS]
        lines.append(f"| ({name}) | {'auto' if level is None else level} | " + " | ".join(cells) + " |")
    lines += ["", "Target: within 3 points in (a) and (b).", "",
              "## Detection and false alarms", "",
              ("Detection delay = periods between the first period whose realised accuracy is >= 5 points "
               "below the reference and the first alert of the scenario's family: label-free accuracy "
               "alerts of that estimator in (a), (b); audit alerts (audit accuracy, CUSUM, estimate gap) "
               "in (c). (d): periods with any alert out of 20 stable periods. Alerts use each estimator "
               "as the alerting one (the other signals are the same)."), "",
              "| scenario | level | first 5-pt drop | " + " | ".join(ESTIMATORS) + " |",
              "|---|---|---|" + "---|" * len(ESTIMATORS)]
    for (name, level), f in figures.items():
        if name == "d":
            continue
        start = f["drop_start"]
        p = results[name].periods
        cells = []
        for e in ESTIMATORS:
            if e not in f:
                cells.append("-")
            elif start is None:
                cells.append("no drop")
            else:
                d = f[e]["delay"]
                cells.append("not alerted" if d is None else f"{d} (first alert of any signal: {f[e]['first_any']})")
        lines.append(f"| ({name}) delay | {'auto' if level is None else level} | {p[start] if start is not None else '-'} | "
                     + " | ".join(cells) + " |")
    f = figures["d", 4]
    lines.append("| (d) periods with an alert | any | - | " + " | ".join(
        f"{f[e]['alert_periods']} / 20" if e in f else "-" for e in ESTIMATORS) + " |")
    lines += ["", "Targets: false alarms <= 1 in 20; drops >= 5 points alerted within 2 periods.", "",
              "## Realised accuracy per period", ""]
    for (name, level), f in figures.items():
        real = ", ".join(f"{p}: {100 * v:.1f}" for p, v in f["real"].items())
        lines.append(f"- ({name}) level {'auto' if level is None else level}: reference {100 * f['reference']:.1f}; {real}")
    lines += ["", "## Which signals alerted (alerting estimator: CBPE)", "",
              "| scenario | signal | periods with an alert | first |", "|---|---|---|---|"]
    for name in "abcd":
        alerts = results[name].alerts
        by_signal: dict[str, list[str]] = {}
        for a in alerts:
            label = a.signal if a.level is None else f"{a.signal} (level {a.level})"
            by_signal.setdefault(label, []).append(a.period)
        for label, periods in sorted(by_signal.items(), key=lambda kv: (min(kv[1]), kv[0])):
            lines.append(f"| ({name}) | {label} | {len(set(periods))} | {min(periods)} |")
        if not alerts:
            lines.append(f"| ({name}) | none | 0 | - |")
    lines += ["", "## Alerts in scenario (c) (alerting estimator: CBPE)", "",
              "| period | signal | level | size | since |", "|---|---|---|---|---|"]
    for a in results["c"].alerts[:40]:
        lines.append(f"| {a.period} | {a.signal} | {'' if a.level is None else a.level} | {a.size:+.3f} | {a.since} |")
    lines += ["", "## Alerts in scenario (d) (stable periods; alerting estimator: CBPE)", "",
              "| period | signal | level | size | q-value |", "|---|---|---|---|---|"]
    for a in results["d"].alerts:
        lines.append(f"| {a.period} | {a.signal} | {'' if a.level is None else a.level} | {a.size:+.3f} | {a.q_value:.4f} |")
    lines += ["", "`--report PATH` also writes the HTML monitoring report of scenario (c).", ""]
    OUT.write_text("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
