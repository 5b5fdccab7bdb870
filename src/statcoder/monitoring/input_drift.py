"""Input drift: signals computed from the free texts and auxiliary columns alone (no labels).

* text length (characters) - Kolmogorov-Smirnov;
* share of tokens unseen in the training vocabulary - a record-clustered ratio z-test;
* the newest frequent tokens - weighted log-odds with an informative Dirichlet prior
  (Monroe, Colaresi & Quinn 2008), i.e. *what* changed;
* a domain classifier that tries to tell reference from period records on character n-grams
  (language-neutral: works without word segmentation), scored by out-of-fold AUC against a
  permutation null;
* drift of any auxiliary column: PSI with a chi-square test (categorical) or a KS test (numeric).

Tokens are words of the NFKC-normalised, case-folded text (Unicode ``\\w+`` runs).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from statcoder.monitoring.stats import aligned_counts, ks_test, psi, quantile_bin_counts

__all__ = [
    "ColumnDrift",
    "DomainClassifierResult",
    "column_drift",
    "domain_classifier_auc",
    "new_frequent_tokens",
    "oov_test",
    "record_token_counts",
    "tokenize",
    "vocabulary",
]

_WORD = re.compile(r"\w+", re.UNICODE)


def tokenize(text: str) -> list[str]:
    """Word tokens of a text after NFKC normalisation and case folding."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def vocabulary(texts: Iterable[str]) -> frozenset[str]:
    """The set of tokens that occur in ``texts``."""
    vocab: set[str] = set()
    for text in texts:
        vocab.update(tokenize(text))
    return frozenset(vocab)


def record_token_counts(texts: Sequence[str], vocab: frozenset[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per record: (number of tokens, number of tokens not in ``vocab``), as two int arrays."""
    n_tokens = np.zeros(len(texts), dtype=np.int64)
    n_oov = np.zeros(len(texts), dtype=np.int64)
    for i, text in enumerate(texts):
        tokens = tokenize(text)
        n_tokens[i] = len(tokens)
        n_oov[i] = sum(token not in vocab for token in tokens)
    return n_tokens, n_oov


def _ratio_and_variance(num: np.ndarray, den: np.ndarray) -> tuple[float, float]:
    """Ratio estimator sum(num)/sum(den) and its linearised variance (records as clusters)."""
    n = len(num)
    total = den.sum()
    if n < 2 or total == 0:
        return float("nan"), float("nan")
    ratio = num.sum() / total
    residual = num - ratio * den
    var = n / (n - 1) * np.sum(residual**2) / total**2
    return float(ratio), float(var)


def oov_test(
    reference: tuple[np.ndarray, np.ndarray], current: tuple[np.ndarray, np.ndarray]
) -> tuple[float, float, float]:
    """Test whether the share of out-of-vocabulary tokens rose.

    Inputs are (n_tokens, n_oov) arrays per record from :func:`record_token_counts`; records
    are clusters of tokens, so the variance is the linearised ratio-estimator variance.
    Returns (reference share, current share, one-sided p-value for an increase).
    """
    ref_share, ref_var = _ratio_and_variance(reference[1], reference[0])
    cur_share, cur_var = _ratio_and_variance(current[1], current[0])
    if np.isnan(ref_share) or np.isnan(cur_share):
        return ref_share, cur_share, float("nan")
    se = np.sqrt(ref_var + cur_var)
    if se == 0:
        return ref_share, cur_share, 1.0 if cur_share <= ref_share else 0.0
    return ref_share, cur_share, float(stats.norm.sf((cur_share - ref_share) / se))


def new_frequent_tokens(
    reference_texts: Sequence[str],
    current_texts: Sequence[str],
    *,
    vocab: frozenset[str] = frozenset(),
    top: int = 10,
    min_records: int = 5,
    prior: float = 0.01,
) -> pd.DataFrame:
    """Tokens over-represented in the period, ranked by the z-score of their log-odds ratio.

    Uses Monroe, Colaresi & Quinn (2008), "Fightin' words", with an informative Dirichlet
    prior proportional to the pooled frequencies (``prior`` = prior mass per pooled token).
    Only tokens found in at least ``min_records`` distinct period records are shown, so that a
    rare word (a name, an address) never reaches the report; tokens that are part of personal
    data found by ``statcoder.quality.pii`` in the period's texts (a recruiter's name or e-mail
    repeated across ads) are left out too.
    Returns columns token, records (period records containing it), period_share and
    reference_share (of records), z, unseen (True if not in the training vocabulary).
    """
    ref_docs = Counter(t for text in reference_texts for t in set(tokenize(text)))
    cur_docs = Counter(t for text in current_texts for t in set(tokenize(text)))
    columns = ["token", "records", "period_share", "reference_share", "z", "unseen"]
    candidates = [t for t, c in cur_docs.items() if c >= min_records]
    if not candidates:
        return pd.DataFrame(columns=columns)
    n_ref, n_cur = sum(ref_docs.values()), sum(cur_docs.values())
    pooled = {t: ref_docs.get(t, 0) + cur_docs[t] for t in candidates}
    total = n_ref + n_cur
    a0 = prior * total
    rows = []
    for token in candidates:
        a = a0 * pooled[token] / total
        y_cur, y_ref = cur_docs[token], ref_docs.get(token, 0)
        delta = np.log((y_cur + a) / (n_cur + a0 - y_cur - a)) - np.log((y_ref + a) / (n_ref + a0 - y_ref - a))
        var = 1 / (y_cur + a) + 1 / (y_ref + a)
        rows.append((token, y_cur, y_cur / max(len(current_texts), 1),
                     y_ref / max(len(reference_texts), 1), delta / np.sqrt(var), token not in vocab))
    frame = pd.DataFrame(rows, columns=columns).sort_values("z", ascending=False)
    frame = frame[frame["z"] > 0]
    personal = _personal_tokens(current_texts, set(frame["token"].head(top * 3)))
    return frame[~frame["token"].isin(personal)].head(top).reset_index(drop=True)


def _personal_tokens(texts: Sequence[str], tokens: set[str]) -> set[str]:
    """Those of ``tokens`` that occur inside a span of personal data in some text."""
    if not tokens:
        return set()
    from statcoder.quality.pii import PiiDetector

    detector = PiiDetector()
    found: set[str] = set()
    for text in texts:
        folded = set(tokenize(text))
        if not folded & tokens:
            continue
        for match in detector.find(text):
            found.update(set(tokenize(text[match.start:match.end])) & tokens)
    return found


@dataclass(frozen=True)
class DomainClassifierResult:
    """Out-of-fold AUC of reference-vs-period discrimination and its permutation null."""

    auc: float
    null_mean: float
    null_sd: float
    threshold: float  # null quantile at 1 - alpha (normal fit to the permutation AUCs)
    p_value: float
    n_per_side: int


def domain_classifier_auc(
    reference_texts: Sequence[str],
    current_texts: Sequence[str],
    *,
    max_per_side: int = 500,
    n_permutations: int = 20,
    n_splits: int = 2,
    alpha: float = 0.05,
    seed: int = 0,
) -> DomainClassifierResult:
    """Train a classifier to tell period records from reference records; AUC 0.5 = no drift.

    Character 1-4-grams within word boundaries (hashed), logistic regression, ``n_splits``-fold
    out-of-fold scores. The null distribution comes from refitting with permuted domain labels;
    the p-value and threshold use a normal fit to the permutation AUCs (floored by the
    Mann-Whitney variance), which resolves p-values below ``1 / n_permutations``.
    """
    from sklearn.feature_extraction.text import HashingVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    rng = np.random.default_rng(seed)
    n = min(len(reference_texts), len(current_texts), max_per_side)
    if n < 10:
        return DomainClassifierResult(float("nan"), 0.5, float("nan"), float("nan"), float("nan"), n)
    ref = [reference_texts[i] for i in rng.choice(len(reference_texts), n, replace=False)]
    cur = [current_texts[i] for i in rng.choice(len(current_texts), n, replace=False)]
    texts = [unicodedata.normalize("NFKC", t).casefold() for t in ref + cur]
    features = HashingVectorizer(
        analyzer="char_wb", ngram_range=(1, 4), n_features=2**18, alternate_sign=False, norm="l2"
    ).transform(texts)
    features = features[:, np.unique(features.indices)]  # only the n-grams present: much faster fits
    labels = np.r_[np.zeros(n, dtype=int), np.ones(n, dtype=int)]

    def out_of_fold_auc(y: np.ndarray, fold_seed: int) -> float:
        scores = np.zeros(len(y))
        folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=fold_seed)
        for train, test in folds.split(features, y):
            model = LogisticRegression(C=1.0, solver="liblinear").fit(features[train], y[train])
            scores[test] = model.decision_function(features[test])
        return float(roc_auc_score(y, scores))

    auc = out_of_fold_auc(labels, seed)
    null = np.array([out_of_fold_auc(rng.permutation(labels), seed + 1 + b) for b in range(n_permutations)])
    mann_whitney_sd = np.sqrt((2 * n + 1) / (12 * n * n))
    sd = max(float(np.std(null, ddof=1)), mann_whitney_sd)
    mean = float(np.mean(null))
    threshold = mean + float(stats.norm.ppf(1 - alpha)) * sd
    p_value = float(stats.norm.sf((auc - mean) / sd))
    return DomainClassifierResult(auc, mean, sd, threshold, p_value, n)


@dataclass(frozen=True)
class ColumnDrift:
    """Drift of one auxiliary column between reference and period."""

    column: str
    kind: str  # "categorical" or "numeric"
    test: str  # "chi-square" or "ks"
    psi: float
    statistic: float  # chi-square statistic or KS D
    p_value: float


def _is_numeric(values: pd.Series) -> bool:
    parsed = pd.to_numeric(values.replace("", np.nan), errors="coerce")
    present = values.replace("", np.nan).notna()
    return bool(present.sum() > 0 and parsed[present].notna().mean() >= 0.95 and parsed.nunique() > 10)


def column_drift(reference: pd.Series, current: pd.Series, *, kind: str | None = None) -> ColumnDrift:
    """Drift of one column: PSI plus chi-square (categorical) or KS (numeric) test.

    ``kind`` is detected from the reference when None: numeric if >= 95 % of the non-empty
    values parse as numbers and there are more than 10 distinct values. Categorical levels with
    expected counts below 5 are pooled into one "other" level before the chi-square test;
    missing values are a level of their own.
    """
    name = str(reference.name)
    kind = kind or ("numeric" if _is_numeric(reference.astype(str)) else "categorical")
    if kind == "numeric":
        ref = pd.to_numeric(reference.replace("", np.nan), errors="coerce").dropna().to_numpy(float)
        cur = pd.to_numeric(current.replace("", np.nan), errors="coerce").dropna().to_numpy(float)
        if len(ref) == 0 or len(cur) == 0:
            return ColumnDrift(name, kind, "ks", float("nan"), float("nan"), float("nan"))
        rc, cc = quantile_bin_counts(ref, cur)
        d, p = ks_test(ref, cur)
        return ColumnDrift(name, kind, "ks", float(psi(rc, cc)), d, p)
    rc, cc, _ = aligned_counts(reference.astype(str).tolist(), current.astype(str).tolist())
    value = float(psi(rc, cc))
    table = np.vstack([rc, cc]).astype(float)
    expected = table.sum(axis=0) * table.sum(axis=1, keepdims=True) / table.sum()
    small = expected.min(axis=0) < 5
    if small.any():
        table = np.column_stack([table[:, ~small], table[:, small].sum(axis=1)])
        table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return ColumnDrift(name, kind, "chi-square", value, 0.0, 1.0)
    chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
    return ColumnDrift(name, kind, "chi-square", value, float(chi2), float(p))
