import pandas as pd

from statcoder.demo import split_by_title
from statcoder.text import normalise


def test_held_out_titles_are_unseen_in_training():
    records = pd.DataFrame({
        "title": ["Nurse", "nurse", "NURSE ", "Welder", "Baker", "Driver", "Teacher", "Clerk", "Cook", "Porter"],
        "industry": [""] * 10,
        "code": ["2231", "2231", "2231", "5215", "5432", "8212", "2314", "4159", "5434", "9233"],
    })
    train, test = split_by_title(records, test_share=0.3, seed=1)
    assert len(train) + len(test) == len(records)
    assert not set(train["title"].map(normalise)) & set(test["title"].map(normalise))
    assert test["title"].map(normalise).nunique() == 2  # 30 % of the 8 distinct titles, rounded


def test_repeated_and_ambiguous_titles_are_measured():
    from statcoder.demo import title_repetition

    records = pd.DataFrame({"title": ["Manager", "manager", "Welder", "Baker"], "code": ["1121", "1190", "5215", "5432"]})
    assert title_repetition(records) == {"repeated": 0.5, "ambiguous": 0.5}


def test_the_demo_reads_its_own_numbers():
    from statcoder.demo import interpret

    text = interpret(target=0.95, full_depth_accuracy=0.61, auto_share=0.0, partial_share=0.42,
                     partial_accuracy=0.939, train_repetition={"repeated": 0.58, "ambiguous": 0.2},
                     test_ambiguous=0.17)
    assert "unseen" in text and "58%" in text and "61.0%" in text and "no record" in text
    assert "93.9% accuracy, which misses the 95% target" in text and "17%" in text
    assert "statcoder evaluate" in text
