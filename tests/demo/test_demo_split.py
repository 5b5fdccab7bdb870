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
