"""The training-data quality report (HTML), built from a ``QualityResult``.

The report shows codes, counts and scores only - never record texts, which may carry
personal data; the texts of suspicious records go to ``suspicious.csv`` for the reviewers.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from statcoder.quality.check import QualityResult
from statcoder.report import HtmlReport
from statcoder.report import format as fmt

_pct = fmt.pct

NOISE_MEANING = (
    "What the estimated label noise is, and is not: it is confident learning's estimate of the share of "
    "records whose given code differs from the true one, judged by a model trained on these same records. "
    "A model that is often wrong also disputes correct codes, so read it next to the model's out-of-fold "
    "accuracy ({accuracy}): with a weak model most of the figure is the model's own error on rare codes, "
    "short or ambiguous texts and codes that differ only in detail. It is not the coders' error rate - "
    "measure that with double coding (coder agreement) or an expert audit of a sample. Use the flagged "
    "records as a review list, most suspicious first."
)


def quality_report(result: QualityResult, *, title: str = "Training-data quality", max_issue_rows: int = 100) -> HtmlReport:
    """Build the HTML report for ``result``; call ``.write(path)`` on the returned ``HtmlReport``."""
    cls = result.classification
    issues = result.label_issues
    report = HtmlReport(
        title,
        subtitle=f"{result.n_records:,} records, classification {cls.name} {cls.version}".strip(),
    )
    deepest = result.coverage.per_level.iloc[-1] if len(result.coverage.per_level) else None
    kpis = [("records", f"{result.n_records:,}")]
    if issues is not None:
        kpis += [
            ("suspected label errors", f"{len(issues.issues):,} ({_pct(len(issues.issues) / max(result.n_records, 1))})"),
            ("estimated label noise (see below)", _pct(issues.estimated_noise)),
            ("model's out-of-fold accuracy", _pct(issues.model_accuracy)),
            ("of the noise within the same group", _pct(issues.within_group_share)),
        ]
    if deepest is not None:
        kpis.append((f"codes without examples (level {int(deepest['level'])})", f"{int(deepest['n_missing']):,}"))
    kpis += [
        ("texts with more than one code", f"{result.duplicates.n_conflicting_texts:,}"),
        ("records with personal data" + (" (redacted)" if result.redacted else ""), f"{result.pii.n_touched:,}"),
    ]
    report.section("Overview").add_kpis(kpis)
    if issues is not None:
        report.add_text(NOISE_MEANING.format(accuracy=_pct(issues.model_accuracy)))
    if result.n_without_code:
        report.add_text(f"{result.n_without_code:,} records have no code and were left out of label checks.", css_class="note")

    _label_issues(report, result, max_issue_rows)
    _coverage(report, result)
    _duplicates(report, result)
    if result.agreement is not None:
        report.section("Coder agreement")
        report.add_text(
            "Share of records on which all coders agree and chance-corrected agreement per level "
            "(Cohen's kappa for two coders, Fleiss' kappa for more). Records not coded by every coder are left out."
        )
        report.add_table(result.agreement, formats={"n_records": "int", "n": "int"})
    _personal_data(report, result)
    report.section("Settings and timings")
    settings = [(fmt.header(k), fmt.text_cell(v) if v is not None else "default") for k, v in sorted(result.settings.items())]
    report.add_table(pd.DataFrame(settings, columns=["setting", "value"]), formats={"value": "text"})
    report.add_table(pd.DataFrame(list(result.timings.items()), columns=["stage", "seconds"]), formats={"seconds": 1})
    return report


def _label_issues(report: HtmlReport, result: QualityResult, max_rows: int) -> None:
    issues = result.label_issues
    report.section("Label issues")
    if issues is None:
        report.add_text("Label issues need at least two different codes; none were checked.", css_class="note")
        return
    cls = result.classification
    report.add_text(
        "Confident learning (Northcutt, Jiang & Chuang, JAIR 2021) on out-of-fold predicted probabilities: "
        f"records flagged by '{issues.filter_by}', ranked by {issues.score_method.replace('_', ' ')} "
        "(low score = given code likely wrong). The suggested code is the most probable other code. "
        f"'same group' means the suggestion is in the same group at level {issues.group_level}. "
        f"The model behind these probabilities has an out-of-fold accuracy of {_pct(issues.model_accuracy)}."
    )
    frame = issues.issues
    if "relation" in frame:
        counts = frame["relation"].value_counts().reindex(["same_group", "across_groups", "unknown_code"], fill_value=0)
        counts.index = [i.replace("_", " ") for i in counts.index]
        report.add_table(counts.rename_axis("relation").reset_index(name="flagged records"))
    shown = frame.head(max_rows).copy()
    shown.insert(0, "row_number", shown.pop("row") + 1)
    shown.insert(2, "given_title", [cls.title(c) if c in cls else "" for c in shown["given_code"]])
    shown.insert(4, "suggested_title", [cls.title(c) if c in cls else "" for c in shown["suggested_code"]])
    if "common_level" in shown:
        shown["common_level"] = [fmt.NA if fmt.is_missing(v) else str(int(v)) for v in shown["common_level"]]
    if "relation" in shown:
        shown["relation"] = shown["relation"].str.replace("_", " ")
    report.add_heading(f"Most suspicious records (first {min(max_rows, len(frame)):,} of {len(frame):,}; all in suspicious.csv)")
    report.add_table(shown, formats={"row_number": "int", "p_given": "p", "p_suggested": "p", "score": 3},
                     headers={"row_number": "row"})
    per = issues.per_code
    per = per[per["n_records"] > 0].sort_values(["estimated_noise_rate", "n_records"], ascending=[False, False])
    per.insert(1, "title", [cls.title(c) if c in cls else "" for c in per["code"]])
    report.add_heading("Codes with the highest estimated noise rate")
    report.add_text("Estimated noise rate = estimated share of the code's records whose true code is another "
                    "one; for codes with few records it rests on very few confidently counted records.",
                    css_class="note")
    report.add_table(per.head(50), formats={"n_records": "int", "n_flagged": "int", "estimated_noise_rate": "pct",
                                            "threshold": "p"},
                     headers={"threshold": "threshold (mean p of its own records)"})
    if len(frame):
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.hist(frame["score"], bins=20, range=(0, 1), color="#1f3b5a")
        ax.set_xlabel("label quality score of flagged records")
        ax.set_ylabel("records")
        report.add_figure(
            fig,
            alt=f"Histogram of the label quality scores of the {len(frame):,} flagged records; "
            f"median {frame['score'].median():.2f}.",
        )


def _coverage(report: HtmlReport, result: QualityResult) -> None:
    cov = result.coverage
    report.section("Coverage of the classification")
    report.add_text(
        f"Codes with no training example ('missing') or fewer than {cov.min_examples} ('few') at each level."
        + (" Expected shares are the user's population shares, summed up the tree." if cov.has_expected_shares else "")
    )
    report.add_table(cov.per_level, formats={c: "int" for c in cov.per_level.columns if str(c).startswith("n_")})
    gaps = cov.per_code[cov.per_code["status"] != "ok"]
    deepest = gaps[gaps["level"] == gaps["level"].max()] if len(gaps) else gaps
    if cov.has_expected_shares:
        deepest = deepest.sort_values("expected_share", ascending=False)
    if len(deepest):
        report.add_heading("Badly covered codes at the deepest level")
        report.add_table(deepest, max_rows=200)
    if len(cov.unknown_codes):
        report.add_heading("Codes in the data that are not in the classification")
        report.add_table(cov.unknown_codes)
    levels = cov.per_level
    fig, ax = plt.subplots(figsize=(6, 2.8))
    bottom = np.zeros(len(levels))
    for col, color in (("n_ok", "#1b7f3b"), ("n_few", "#e0b000"), ("n_missing", "#b00020")):
        share = levels[col] / levels["n_codes"].clip(lower=1)
        ax.barh(levels["level"].astype(str), share, left=bottom, color=color, label=col[2:])
        bottom += share.to_numpy()
    ax.set_xlabel("share of codes")
    ax.set_ylabel("level")
    ax.legend(loc="lower right", fontsize=8)
    alt = "; ".join(
        f"level {int(r.level)}: {int(r.n_ok)} ok, {int(r.n_few)} few, {int(r.n_missing)} missing" for r in levels.itertuples()
    )
    report.add_figure(fig, alt=f"Coverage by level - {alt}.")


def _duplicates(report: HtmlReport, result: QualityResult) -> None:
    dups = result.duplicates
    cls = result.classification
    report.section("Duplicates and conflicts")
    report.add_text(
        "Normalised duplicates differ only in case, accents, punctuation or spacing. Pairs of codes given to the "
        "same normalised text point to unclear definitions in the classification or to coder disagreement."
    )
    report.add_table(dups.summary())
    pairs = dups.conflict_pairs
    if len(pairs):
        shown = pairs.head(100).copy()
        shown.insert(1, "title_a", [cls.title(c) if c in cls else "" for c in shown["code_a"]])
        shown.insert(3, "title_b", [cls.title(c) if c in cls else "" for c in shown["code_b"]])
        if "common_level" in shown:
            shown["common_level"] = shown["common_level"].astype(str)
        report.add_heading("Code pairs given to the same text")
        report.add_table(shown)


def _personal_data(report: HtmlReport, result: QualityResult) -> None:
    pii = result.pii
    report.section("Personal data in the texts")
    done = "were redacted before training" if result.redacted else "were found (not redacted; use --redact)"
    report.add_text(
        f"{pii.n_touched:,} of {pii.n_records:,} records ({_pct(pii.n_touched / max(pii.n_records, 1))}) "
        f"contain personal data that {done}: e-mail addresses, URLs, national identifiers (check digits verified), "
        "phone numbers and person-name-like tokens. Rule-based detection: review before publishing texts."
    )
    report.add_table(pii.to_frame(), formats={"share_of_records": "pct"})
    if pii.by_label:
        report.add_table(pd.DataFrame(sorted(pii.by_label.items()), columns=["rule", "matches"]))
