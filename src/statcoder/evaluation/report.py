"""Render an ``Evaluation`` (or a comparison of two) as the self-contained HTML quality report.

Every number shown comes from ``Evaluation.results`` (and so from the JSON); the only thing
the HTML adds is the example texts of confused pairs and of explained records. Those pass
through the personal-data redaction unless ``show_texts=True``, which marks the report
internal on every page.
"""

from __future__ import annotations

import html
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from statcoder.evaluation import figures
from statcoder.evaluation.holistic import Evaluation
from statcoder.report import HtmlReport
from statcoder.report import format as fmt
from statcoder.report.texts import ReportTexts

_pct = fmt.pct


def _frame(value: Any) -> pd.DataFrame:
    return value if isinstance(value, pd.DataFrame) else pd.DataFrame(value)


def _by_level_table(rows: list[dict[str, Any]], top_k: int) -> pd.DataFrame:
    out = []
    labels = {"accuracy": "accuracy", "top_k_accuracy": f"top-{top_k} accuracy", "macro_f1": "macro-F1",
              "weighted_f1": "weighted-F1"}
    for r in rows:
        item: dict[str, Any] = {"level": r["level"], "records": r["n"]}
        for name, label in labels.items():
            item[label] = r.get(name)
            item[f"{label} 95 % CI"] = fmt.share_interval(r.get(f"{name}_lower"), r.get(f"{name}_upper"))
        out.append(item)
    return pd.DataFrame(out)


def _with_titles(frame: pd.DataFrame, ev: Evaluation, columns: tuple[str, ...]) -> pd.DataFrame:
    """Insert a title column after each code column (codes alone mean little to a reader)."""
    tree = ev.classification
    out = frame.copy()
    if tree is None:
        return out
    for column in columns:
        name = column.replace("code", "title") if "code" in column else f"{column} title"
        if column in out.columns and name not in out.columns and "title" not in out.columns:
            at = list(out.columns).index(column) + 1
            out.insert(at, name, [tree.title(str(c)) if str(c) in tree else "" for c in out[column]])
    return out


def _summary(report: HtmlReport, ev: Evaluation, prefix: str = "") -> None:
    r = ev.results
    s = r["summary"]
    leaf = r["accuracy"]["by_level"][-1]
    report.section(prefix + "Summary")
    overlap = r["meta"].get("training_overlap") or {}
    if overlap.get("warning"):
        report.add_text("Warning: " + overlap["warning"] + ".", css_class="flag")
    report.add_kpis([
        ("records evaluated", f"{s['n_records']:,}"),
        ("accuracy at full depth", f"{_pct(leaf['accuracy'])}"),
        ("coded automatically (full depth)", _pct(s["auto_share"])),
        ("accuracy of auto codes", _pct(s["auto_accuracy"])),
        ("coded at a higher level", _pct(s["partial_share"])),
        ("sent to review", _pct(s["review_share"])),
        ("top-label ECE", fmt.number(s["ece"], 4)),
    ])
    if fmt.is_missing(s["auto_accuracy"]):
        report.add_text("— : no record was coded automatically at full depth, so that share has no accuracy.",
                        css_class="note")
    meta = r["meta"]
    report.add_text(
        f"Model {meta['model_version']} on {meta['classification']['name']} "
        f"({meta['classification']['depth']} levels); data fingerprint {meta['data_fingerprint'][:16]}; "
        f"{fmt.integer(meta['n_dropped_unknown_code'])} row(s) dropped for unknown codes.", css_class="note"
    )


def _accuracy(report: HtmlReport, ev: Evaluation, prefix: str = "", texts: ReportTexts | None = None) -> None:
    texts = texts or ReportTexts()
    acc = ev.results["accuracy"]
    report.section(prefix + "1. Accuracy per level")
    intervals = (f"with percentile bootstrap 95 % intervals ({fmt.integer(acc['n_boot'])} resamples)" if acc["n_boot"]
                 else "without intervals (— : not computed, the evaluation ran with --bootstrap 0)")
    report.add_text(
        f"Top-1 and top-{acc['top_k']} accuracy, macro- and weighted-F1 at each level, {intervals}. At each "
        "level the prediction is the code with the highest probability after summing leaf probabilities up the tree."
    )
    report.add_table(_by_level_table(acc["by_level"], acc["top_k"]), caption="Accuracy by level",
                     formats={"records": "int"})
    fig, alt = figures.accuracy_by_level(acc["by_level"])
    report.add_figure(fig, alt=alt)
    dist = acc["error_tree_distance"]
    report.add_heading("How far are the errors?")
    report.add_text(
        f"{fmt.integer(dist['n_errors'])} full-depth errors; mean tree distance {fmt.number(dist['mean_distance'], 2)} levels "
        "(1 = a sibling in the same group, the classification depth = a different top-level group)."
    )
    if dist["distribution"]:
        fig, alt = figures.tree_distance(dist["distribution"])
        report.add_figure(fig, alt=alt)
    report.add_heading("Most confused code pairs (full depth)")
    pairs = _frame(acc["confused_pairs"])
    report.add_table(_with_titles(pairs, ev, ("true_code", "predicted_code")),
                     caption="true code -> predicted code, most frequent errors first")
    if ev.examples:
        items = []
        for i, pair in enumerate(pairs.itertuples()):
            shown = "; ".join(f"&ldquo;{html.escape(texts.text(t))}&rdquo;" for t in ev.examples.get(i, []))
            items.append(f"<li><b>{html.escape(pair.true_code)} &rarr; {html.escape(pair.predicted_code)}</b>: {shown}</li>")
        how = ("unredacted: may contain personal data" if texts.show_raw
               else "personal data such as names, e-mails and phone numbers redacted")
        report.add_html(
            f"<details><summary>Example texts of each confused pair ({how})</summary><ul>"
            + "".join(items) + "</ul></details>"
        )
    report.add_heading("Per code (full depth)")
    report.add_table(_with_titles(_frame(acc["per_code"]), ev, ("code",)),
                     caption="support, precision, recall and F1 per code; click a header to sort")


def _automation(report: HtmlReport, ev: Evaluation, prefix: str = "") -> None:
    auto = ev.results["automation"]
    report.section(prefix + "2. Automation")
    target = auto.get("target_accuracy")
    report.add_text(
        "Share of records coded automatically and the accuracy of that share at the level coded. "
        f"Thresholds per level were chosen for a target accuracy of {_pct(target)} with a one-sided "
        "95 % Clopper-Pearson lower bound."
    )
    report.add_table(_frame(auto["summary"]), caption="decisions and their accuracy (at the level coded)",
                     formats={"n": "int", "share": "pct", "accuracy": "pct", "mean_level": 2})
    fig, alt = figures.coverage_curves(auto["curves"], auto["operating_points"])
    report.add_figure(fig, alt=alt)
    report.add_table(_frame(auto["operating_points"]), caption="operating point of each level's threshold on this data")
    report.add_heading("Partial-coding gain")
    gain = _frame(auto["partial_gain"])
    partial = gain[gain["decision"] == "partial"]
    report.add_text(
        f"{fmt.integer(partial['n'].sum())} records ({_pct(partial['share'].sum())}) were coded at a higher level "
        "instead of going to review under a full-depth-only rule."
    )
    report.add_table(gain, caption="records coded automatically per level")


def _calibration(report: HtmlReport, ev: Evaluation, prefix: str = "") -> None:
    c = ev.results["calibration"]
    report.section(prefix + "3. Calibration")
    rows = [{"probabilities": "after calibration", "top_label_ece": c["after"]["top_label_ece"],
             "classwise_ece": c["after"]["classwise_ece"], "mean_confidence": c["after"]["mean_confidence"],
             "accuracy": c["after"]["accuracy"]}]
    tables = {"after calibration": c["after"]["reliability"]}
    if c.get("before"):
        rows.insert(0, {"probabilities": "before calibration", "top_label_ece": c["before"]["top_label_ece"],
                        "classwise_ece": c["before"]["classwise_ece"], "mean_confidence": c["before"]["mean_confidence"],
                        "accuracy": c["before"]["accuracy"]})
        tables = {"before calibration": c["before"]["reliability"], **tables}
    else:
        report.add_text("The model does not expose uncalibrated probabilities; only the calibrated ones are shown.",
                        css_class="note")
    report.add_table(pd.DataFrame(rows), caption="expected calibration error at full depth (15 equal-width bins)",
                     float_format="{:.4f}")
    fig, alt = figures.reliability({k: _frame(v) for k, v in tables.items()})
    report.add_figure(fig, alt=alt)
    report.add_table(pd.DataFrame(c["by_level"]), caption="top-label ECE of the summed probabilities at each level",
                     float_format="{:.4f}")


def _tables(report: HtmlReport, ev: Evaluation, prefix: str = "") -> None:
    t = ev.results["tables"]
    report.section(prefix + "4. Effect on published tables")
    report.add_text(
        "Total-variation distance between the true and the predicted distribution of codes (share of records "
        "that would sit in another cell): 'model' codes every record by machine; 'production' uses machine "
        "codes only where the record was coded automatically at that level, and the true code elsewhere."
    )
    report.add_table(pd.DataFrame(t["by_level"]), caption="total-variation distance by level", float_format="{:.4f}")
    for level, cells in t["cells"].items():
        report.add_heading(f"Cells that move most at level {level} (model codes)")
        report.add_table(_with_titles(_frame(cells), ev, ("code",)), caption=f"level {level}: predicted minus true count",
                         formats={"relative_difference": "pct"})


def _subgroups(report: HtmlReport, ev: Evaluation, prefix: str = "") -> None:
    g = ev.results["subgroups"]
    report.section(prefix + "5. Subgroups (fairness)")
    table = _frame(g["table"])
    if table.empty:
        report.add_text("No grouping columns were given (use --group COL).", css_class="note")
        return
    report.add_text(
        "Accuracy at full depth, automatic coding rate and accuracy of automatic codes (at the level coded) "
        "per group, with 95 % Clopper-Pearson intervals. q = Benjamini-Hochberg adjusted p-value of a one-sided "
        f"Fisher test that the group is worse than the rest; flagged where q < 0.05. Groups under {g['min_cell']} "
        "records are suppressed (with secondary suppression)."
    )
    report.add_table(_subgroup_display(table), caption="subgroup results (the JSON has the bounds as numbers)",
                     float_format="{:.3g}")
    if (~table["suppressed"]).any():
        fig, alt = figures.subgroup_accuracy(table)
        report.add_figure(fig, alt=alt)


def _subgroup_display(table: pd.DataFrame) -> pd.DataFrame:
    """Compact view: each metric with its interval in one cell."""

    def cell(row: Any, metric: str) -> str:
        value = row[metric]
        if fmt.is_missing(value):
            return fmt.NA
        interval = fmt.share_interval(row[f"{metric}_lower"], row[f"{metric}_upper"])
        return fmt.number(value, 3) + ("" if interval == fmt.NA else f" ({interval})")

    out = pd.DataFrame({"column": table["column"], "group": table["group"], "n": table["n"]})
    for metric, label in (("accuracy", "accuracy"), ("coding_rate", "coding rate"), ("auto_accuracy", "auto accuracy")):
        out[f"{label} (95% CI)"] = [cell(r, metric) for _, r in table.iterrows()]
        out[f"q {label}"] = table[f"{metric}_q"].astype(float)
    out["flag"] = table["flag"]
    return out


def _explain(report: HtmlReport, ev: Evaluation, prefix: str = "", texts: ReportTexts | None = None) -> None:
    texts = texts or ReportTexts()
    e = ev.results["explainability"]
    report.section(prefix + "6. Explainability")
    if not e.get("available"):
        report.add_text(e.get("note", "Not available for this model."), css_class="note")
        return
    report.add_text(e.get("note", ""))
    report.add_table(_frame(e["top_ngrams"]), caption="n-grams that push hardest towards each code (largest weights)")
    records = ev.explained
    if records:
        items = "".join(
            f"<li>&ldquo;{html.escape(texts.text(r['text']))}&rdquo; &rarr; <b>{html.escape(r['predicted_code'])}</b> "
            f"({html.escape(r['decision'])}): {html.escape(_drivers(r, texts))}</li>" for r in records
        )
        how = "" if texts.show_raw else " (texts and features inside personal data redacted)"
        report.add_html(f"<h3>Sampled records: the features that drove the decision{how}</h3><ul>" + items + "</ul>")


def _drivers(record: dict[str, Any], texts: ReportTexts) -> str:
    from statcoder.evaluation.explain import format_drivers

    found = record.get("driver_list")
    if found is None:
        return record["drivers"] if texts.show_raw else ""
    names = texts.features(record["text"], [name for name, _is_char, _v in found])
    pairs = [(("c:" if is_char else "") + name, value) for name, is_char, value in found]
    return format_drivers(pairs, names=names)


def _reproducibility(report: HtmlReport, ev: Evaluation, prefix: str = "") -> None:
    r = ev.results["reproducibility"]
    report.section(prefix + "7. Reproducibility")
    rows = [("model version", r["model_version"]), ("data fingerprint", r["data_fingerprint"]),
            ("classification fingerprint", r["classification_fingerprint"]), ("training seed", str(r.get("seed")))]
    rows += [(f"version of {k}", v or "not installed") for k, v in r["library_versions"].items()]
    report.add_table(pd.DataFrame(rows, columns=["item", "value"]), caption="fingerprints, seeds and versions",
                     formats={"value": "text"})
    report.add_heading("Prediction churn across retraining seeds")
    report.add_text(r.get("churn_note", ""))
    if r["churn"]:
        report.add_table(pd.DataFrame(r["churn"]), caption="churn against the evaluated model")


def _cost(report: HtmlReport, ev: Evaluation, prefix: str = "") -> None:
    tc = ev.results["timeliness_cost"]
    report.section(prefix + "8. Timeliness and cost")
    # a rate reads as a whole number of records, a duration to a tenth of a second
    timing = pd.DataFrame([(fmt.header(k), fmt.integer(v) if "per" in k else fmt.number(v, 1))
                           for k, v in tc["timings"].items()], columns=["item", "value"])
    report.add_table(timing, caption="seconds, and records per second", formats={"value": "text"})
    c = tc["cost"]
    per_hour = float(c.get("input_cost_per_hour") or 0)
    per_error = float(c.get("input_cost_per_error") or 0)
    hours = (
        f"For {fmt.integer(c['volume'])} records at {fmt.number(c['input_minutes_per_record'], 1)} minutes each "
        f"(partial records still need {_pct(c['input_partial_effort'], 0)} of the manual time): "
        f"{fmt.number(c['hours_saved'], 1)} coder hours saved"
    )
    money = (f", worth {fmt.number(c['cost_saved'], 2)} at {fmt.number(per_hour, 2)} per hour" if per_hour
             else " (no cost per hour given)")
    errors = f"; about {fmt.integer(c['expected_errors'])} automatic codes would be wrong"
    errors += (f", costing {fmt.number(c['error_cost'], 2)} at {fmt.number(per_error, 2)} per error." if per_error
               else " (no cost per error given).")
    report.add_text(hours + money + errors)
    items = [(k, v) for k, v in c.items() if not (k in ("cost_all", "cost_with_statcoder", "cost_saved",
                                                           "net_saving") and not per_hour)
             and not (k in ("error_cost", "net_saving") and not per_error)]
    def value(key: str, v: Any) -> str:
        if key.removeprefix("input_") in ("volume", "expected_errors"):
            return fmt.integer(v)
        if "hours" in key or "minutes" in key:
            return fmt.number(v, 1)
        if key == "input_partial_effort":
            return fmt.pct(v, 0)
        return fmt.number(v, 2)

    shown = pd.DataFrame([(fmt.header(k.removeprefix("input_")) + (" (input)" if k.startswith("input_") else ""),
                           value(k, v)) for k, v in items], columns=["item", "value"])
    report.add_table(shown, caption="cost model (hours; currency units of the inputs)")
    if not per_hour or not per_error:
        report.add_text("No costs given: pass --cost-per-hour and --cost-per-error to value the hours saved and "
                        "the errors.", css_class="note")


def _ethics(report: HtmlReport, ev: Evaluation, prefix: str = "") -> None:
    report.section(prefix + "9. Ethics evidence (UK Statistics Authority principles)")
    for principle in ev.results["ethics"]:
        report.add_heading(principle["principle"])
        for line in principle["evidence"]:
            report.add_text(line)
        for line in principle["to_complete"]:
            report.add_text(line, css_class="placeholder")
    report.add_heading("Model card (Markdown)")
    report.add_html(f"<pre>{html.escape(ev.results['model_card_markdown'])}</pre>")


def add_evaluation(report: HtmlReport, ev: Evaluation, *, prefix: str = "", show_texts: bool = False) -> HtmlReport:
    """Append every section of one evaluation to ``report`` (titles prefixed); returns it.

    Record texts are redacted unless ``show_texts`` (then ``report`` must be internal).
    """
    if show_texts and not report.internal:
        report.internal = True
    texts = ReportTexts(show_raw=show_texts)
    with plt.rc_context(figures.RC):
        for part in (_summary, _accuracy, _automation, _calibration, _tables, _subgroups, _explain,
                     _reproducibility, _cost, _ethics):
            if part in (_accuracy, _explain):
                part(report, ev, prefix, texts)
            else:
                part(report, ev, prefix)
    return report


def build_report(ev: Evaluation, *, title: str | None = None, show_texts: bool = False) -> HtmlReport:
    """The full evaluation report (the QF4SA quality dimensions) of one coder on labelled data.

    The default title names what was evaluated ("Evaluation of the ISCO-08 coder"), so that it
    is not confused with the training-data quality report of ``statcoder quality``. Texts of
    records are shown redacted (names, e-mails, phone numbers, national ids); with
    ``show_texts=True`` they are shown raw and every page is marked internal.
    """
    meta = ev.results["meta"]
    if title is None:
        name = str(meta.get("classification", {}).get("name") or "").strip()
        title = f"Evaluation of the {name} coder" if name else "Evaluation of the coder"
    report = HtmlReport(title, subtitle=f"model {meta['model_version']} · {fmt.integer(meta['n_records'])} records · "
                        f"{meta['created']}", internal=show_texts)
    return add_evaluation(report, ev, show_texts=show_texts)


def build_comparison_report(
    evaluations: list[Evaluation], comparison: dict[str, Any], *, title: str = "statcoder model comparison",
    show_texts: bool = False,
) -> HtmlReport:
    """Side-by-side comparison first, then the full report of each model (sections prefixed A:, B:...)."""
    letters = [chr(ord("A") + i) for i in range(len(evaluations))]
    meta = evaluations[0].results["meta"]
    report = HtmlReport(title, subtitle=f"{len(evaluations)} models · {fmt.integer(meta['n_records'])} records · "
                        f"{meta['created']}", internal=show_texts)
    report.section("Comparison")
    report.add_text(
        "All models coded the same records. Differences are model minus model A, with paired bootstrap 95 % "
        "intervals and the exact McNemar test; churn is the share of records whose code or decision differs from A."
    )
    models = _frame(comparison["models"]).copy()
    models.index = [f"{letter}: {version}" for letter, version in zip(letters, models["model_version"], strict=True)]
    side = models.drop(columns="model_version").T.reset_index().rename(columns={"index": "figure"})
    report.add_table(side, caption="headline figures side by side", float_format="{:.4f}")
    report.add_table(_frame(comparison["differences"]), caption="accuracy difference per level", float_format="{:.4f}")
    report.add_table(_frame(comparison["churn"]), caption="churn against model A", float_format="{:.4f}")
    for letter, ev in zip(letters, evaluations, strict=True):
        add_evaluation(report, ev, prefix=f"{letter}: ", show_texts=show_texts)
    return report
