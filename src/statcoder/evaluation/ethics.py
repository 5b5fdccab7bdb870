"""Ethics evidence and the Markdown model card.

The ethics section follows the UK Statistics Authority's six ethical principles, as used by
its Centre for Applied Data Ethics self-assessment: public good; confidentiality and data
security; methods, quality and human oversight; legal compliance; public views and
engagement; transparency. statcoder fills in what it knows from the model card and the
evaluation; everything only the project owner can know is a visible placeholder.
The model card follows Mitchell et al. (2019), "Model cards for model reporting".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

PLACEHOLDER = "TO COMPLETE by the project owner: "


def _pct(value: Any) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "n/a"
    return "n/a" if not math.isfinite(v) else f"{100 * v:.1f} %"


def _fixed(value: Any, decimals: int = 3) -> str:
    """``value`` with ``decimals`` decimals; "n/a" for None, NaN, inf or text (never ``nan``)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "n/a"
    return f"{v:.{decimals}f}" if math.isfinite(v) else "n/a"


def _versions(value: Any) -> list[str]:
    """Library versions as Markdown list items (``  - statcoder 0.1.0``), not a Python dict."""
    if isinstance(value, Mapping) and value:
        return [f"  - {name} {version or 'not installed'}" for name, version in value.items()]
    return [f"  - {value}" if value else "  - n/a"]


def _interval(row: Mapping[str, Any]) -> str:
    """The accuracy interval of one level, or why there is none (no bootstrap: a dash and a note)."""
    lower, upper = row.get("accuracy_lower"), row.get("accuracy_upper")
    if _fixed(lower) != "n/a" and _fixed(upper) != "n/a":
        return f"{_fixed(lower)}-{_fixed(upper)}"
    return "—¹"


def ethics_evidence(summary: Mapping[str, Any], card: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The six principles, each with ``principle``, ``evidence`` (what statcoder knows, list of
    str) and ``to_complete`` (placeholders for the project owner, list of str).

    ``summary`` holds headline figures of the evaluation (keys used: ``auto_share``,
    ``partial_share``, ``review_share``, ``auto_accuracy``, ``target_accuracy``,
    ``thresholds``, ``n_flagged_groups``, ``group_columns``, ``min_cell``, ``audit_rate``).
    """
    thresholds = summary.get("thresholds") or card.get("thresholds") or {}
    threshold_text = ", ".join(
        f"level {k}: " + (f"{float(v):.3f}" if math.isfinite(float(v)) else "never automatic")
        for k, v in sorted(thresholds.items(), key=lambda kv: int(kv[0]))
    )
    groups = summary.get("group_columns") or []
    audit = summary.get("audit_rate")
    return [
        {
            "principle": "Public good",
            "evidence": [
                (f"Automatic coding of {_pct(summary.get('auto_share'))} of records at full depth and "
                f"{_pct(summary.get('partial_share'))} at a higher level frees coder time "
                "(see the cost section)."),
            ],
            "to_complete": [
                PLACEHOLDER + "which statistics this coding feeds, who benefits, and why automation serves the public.",
            ],
        },
        {
            "principle": "Confidentiality and data security",
            "evidence": [
                ("statcoder never logs or prints record texts; example texts appear only in the report file "
                "the user asked for, with names, e-mail addresses, phone numbers and national identifiers "
                "redacted unless an internal report with raw texts was asked for (--show-texts). "
                "Model files load without executing code (no pickle)."),
                (f"Subgroup results with fewer than {summary.get('min_cell', 'n/a')} records are suppressed, "
                "with secondary suppression."),
            ],
            "to_complete": [
                PLACEHOLDER + "where training data and this report are stored, who can read them, "
                "and whether texts were scrubbed of personal data (statcoder quality offers a PII scrubber).",
            ],
        },
        {
            "principle": "Methods, quality and human oversight",
            "evidence": [
                (f"Target accuracy {_pct(summary.get('target_accuracy'))} with one-sided 95 % Clopper-Pearson "
                f"thresholds per level ({threshold_text or 'none recorded'}); records below every threshold "
                f"go to human review ({_pct(summary.get('review_share'))} of this evaluation)."),
                f"Measured accuracy of full-depth automatic codes: {_pct(summary.get('auto_accuracy'))}.",
                f"Audit sample of automatic codes: {_pct(audit) if audit is not None else 'not configured in this report'}.",
            ],
            "to_complete": [
                PLACEHOLDER + "audit sampling rate in production, who reviews the audit, and the retraining policy.",
            ],
        },
        {
            "principle": "Legal compliance",
            "evidence": ["The model card records the training-data fingerprint and library versions."],
            "to_complete": [
                PLACEHOLDER + "legal basis for processing (e.g. statistics legislation, GDPR Art. 6/89), "
                "data protection impact assessment reference, licence of the training data and index.",
            ],
        },
        {
            "principle": "Public views and engagement",
            "evidence": [],
            "to_complete": [
                PLACEHOLDER + "how respondents and users were informed or consulted about automated coding.",
            ],
        },
        {
            "principle": "Transparency",
            "evidence": [
                ("This report, its JSON and the Markdown model card publish the method, the thresholds, "
                "accuracy per level with intervals, calibration and the explainability tables."),
                (
                    f"Subgroup results for {', '.join(groups)}: {summary.get('n_flagged_groups', 0)} group(s) "
                    "significantly worse than the rest (Benjamini-Hochberg)."
                )
                if groups
                else "No subgroup columns were given: fairness across groups was not assessed.",
            ],
            "to_complete": [PLACEHOLDER + "where the report and model card are published."],
        },
    ]


def model_card_markdown(card: Mapping[str, Any], summary: Mapping[str, Any], by_level: list[dict[str, Any]]) -> str:
    """A Markdown model card (Mitchell et al. 2019) from the model card JSON and the evaluation.

    ``by_level`` rows carry ``level``, ``accuracy``, ``macro_f1`` (and optional bounds).
    Returns the Markdown text.
    """
    classification = card.get("classification", {})
    if not isinstance(classification, Mapping):
        classification = {"name": str(classification)}
    training = card.get("training_data", card.get("training", {}))
    if not isinstance(training, Mapping):
        training = {}
    lines = [
        f"# Model card: {summary.get('model_version', card.get('version', 'statcoder model'))}",
        "",
        "## Model details",
        f"- Classification: {classification.get('name', 'n/a')} {classification.get('version', '')}".rstrip(),
        f"- Backend: {card.get('backend', 'n/a')}; seed: {card.get('seed', 'n/a')}",
        f"- Created: {card.get('created', card.get('created_at', 'n/a'))}",
        "- Library versions:",
        *_versions(card.get("versions", card.get("library_versions"))),
        "",
        "## Intended use",
        ("Automatic coding of free-text answers to the classification above, with records below the "
        "per-level confidence thresholds routed to human coders. Not for use on other classifications, "
        "languages or collection modes without a new evaluation."),
        f"- {PLACEHOLDER}the surveys and populations this model is approved for.",
        "",
        "## Training data",
        (f"- Records: {training.get('n_records', training.get('size', 'n/a'))}; "
        f"fingerprint: {training.get('fingerprint', 'n/a')}"),
        "",
        "## Evaluation data",
        f"- Records: {summary.get('n_records', 'n/a')}; fingerprint: {summary.get('data_fingerprint', 'n/a')}",
        *([f"- **Warning: {summary['training_overlap_warning']}.**"] if summary.get("training_overlap_warning") else []),
        "",
        "## Metrics",
        "| level | accuracy | 95 % interval | macro-F1 |",
        "|---|---|---|---|",
    ]
    intervals = [_interval(row) for row in by_level]
    for row, interval in zip(by_level, intervals, strict=True):
        lines.append(f"| {row['level']} | {_fixed(row.get('accuracy'))} | {interval} | {_fixed(row.get('macro_f1'))} |")
    if any(i.startswith("—") for i in intervals):
        lines += ["", "¹ not computed: " + ("the evaluation ran without bootstrap resamples (--bootstrap 0; "
                                             "Python: n_boot=0)" if summary.get("n_boot") == 0
                                             else "too few records for a bootstrap interval") + "."]
    lines += [
        "",
        (f"- Coded automatically at full depth: {_pct(summary.get('auto_share'))} "
        f"(accuracy {_pct(summary.get('auto_accuracy'))}); at a higher level: {_pct(summary.get('partial_share'))}; "
        f"to review: {_pct(summary.get('review_share'))}."),
        f"- Expected calibration error (top label): {_fixed(summary.get('ece'), 4)}",
        "",
        "## Ethical considerations and limits",
        ("Accuracy can differ between groups of respondents; see the subgroup section of the quality report. "
        "Texts may contain personal data. Accuracy measured on this evaluation data holds for data like it; "
        "monitor drift in production."),
        f"- {PLACEHOLDER}known limits and caveats for users of the statistics.",
        "",
    ]
    return "\n".join(lines)
