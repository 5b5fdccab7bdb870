"""Active learning on OJALAB with a simulated coder: margin order vs random order.

The "coder" answers with the true label. Base model (cheap on purpose, documented): TF-IDF
word unigrams and bigrams of the ad (title + description, first 600 characters) and a linear
SVM (``LinearSVC``, C=0.5), predicting the ISCO-08 unit group (first 4 digits of the KZiS
code; ads whose 4 digits are not an official ISCO-08 group are left out). Protocol per seed:
a test set of 20 % of the ads; from the rest (the pool) 100 random ads are coded first, then
rounds of 100 ads chosen either at random or by the smallest margin between the two best
decision scores of the current model, until ``budget`` ads are coded. Top-1 accuracy on the
test set after each round.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from common import DATA, HERE
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

STEP = 100


def _data() -> tuple[list[str], np.ndarray]:
    frame = pd.read_csv(DATA / "coding" / "ojalab_pl_job_ads.csv.gz", dtype=str, keep_default_na=False)
    frame = frame[frame["isco08_official"] == "true"]
    texts = (frame["title"] + " " + frame["description"]).str.slice(0, 600).tolist()
    return texts, frame["isco08"].to_numpy()


def _fit_score(x_train, y_train, x_test, y_test, x_pool):
    model = LinearSVC(C=0.5).fit(x_train, y_train)
    accuracy = float(np.mean(model.predict(x_test) == y_test))
    scores = model.decision_function(x_pool)
    if scores.ndim == 1:
        margin = np.abs(scores)
    else:
        top2 = np.partition(scores, -2, axis=1)[:, -2:]
        margin = top2[:, 1] - top2[:, 0]
    return accuracy, margin


def curve(texts, labels, *, seed: int, strategy: str, budget: int) -> list[tuple[int, float]]:
    """Return (records coded, test top-1) after each round for one seed and strategy."""
    rng = np.random.default_rng(seed)
    n = len(texts)
    order = rng.permutation(n)
    n_test = n // 5
    test, pool = order[:n_test], order[n_test:]
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True).fit([texts[i] for i in pool])
    x_all = vectorizer.transform(texts)
    x_test, y_test = x_all[test], labels[test]
    coded = list(pool[:STEP])
    remaining = np.array(pool[STEP:])
    points = []
    while True:
        accuracy, margin = _fit_score(x_all[coded], labels[coded], x_test, y_test, x_all[remaining])
        points.append((len(coded), accuracy))
        if len(coded) >= budget or not len(remaining):
            return points
        if strategy == "margin":
            pick = np.argsort(margin, kind="stable")[:STEP]
        else:
            pick = rng.choice(len(remaining), size=min(STEP, len(remaining)), replace=False)
        coded.extend(remaining[pick].tolist())
        remaining = np.delete(remaining, pick)


def run(*, seeds: int = 3, budget: int = 1500, log=print) -> dict:
    """Run both orders over ``seeds`` seeds; writes the SVG plot; returns the figures."""
    texts, labels = _data()
    log(f"OJALAB: {len(texts):,} ads, {len(set(labels))} ISCO-08 unit groups")
    curves: dict[str, list[list[tuple[int, float]]]] = {"margin": [], "random": []}
    for seed in range(seeds):
        for strategy, runs in curves.items():
            runs.append(curve(texts, labels, seed=seed, strategy=strategy, budget=budget))
            log(f"seed {seed} {strategy}: final top-1 {runs[-1][-1][1]:.3f}")
    mean = {s: np.mean([[a for _, a in c] for c in cs], axis=0) for s, cs in curves.items()}
    sd = {s: np.std([[a for _, a in c] for c in cs], axis=0) for s, cs in curves.items()}
    xs = [k for k, _ in curves["margin"][0]]
    target = float(mean["random"][-1])
    reach = next((x for x, a in zip(xs, mean["margin"], strict=True) if a >= target), None)
    _plot(xs, mean, sd, seeds=seeds)
    return {"n_ads": len(texts), "n_classes": len(set(labels)), "seeds": seeds, "budget": budget,
            "records": xs, "margin_mean": mean["margin"].tolist(), "random_mean": mean["random"].tolist(),
            "margin_sd": sd["margin"].tolist(), "random_sd": sd["random"].tolist(),
            "random_final": target, "margin_reaches_random_final_at": reach}


def _plot(xs, mean, sd, *, seeds: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for strategy, colour in (("margin", "#0b57d0"), ("random", "#b3261e")):
        m, s = np.asarray(mean[strategy]), np.asarray(sd[strategy])
        ax.plot(xs, m, label=f"{strategy} order", color=colour)
        ax.fill_between(xs, m - s, m + s, color=colour, alpha=0.15)
    ax.set_xlabel("ads coded by the (simulated) coder")
    ax.set_ylabel("top-1 accuracy on test ads")
    ax.set_title(f"OJALAB, ISCO-08 unit groups: mean ± sd over {seeds} seeds", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(HERE / "active_learning.svg", format="svg")
    plt.close(fig)
