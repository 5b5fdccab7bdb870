import pandas as pd
import pytest

from statcoder import Classification, train


@pytest.fixture(scope="session")
def isco(shared_data):
    return Classification.from_csv(shared_data / "classifications" / "isco08.csv")


@pytest.fixture(scope="session")
def ilo_slice(shared_data):
    """ILO ISCO-08 index entries of major groups 2 and 7 (about 2,000 titles), read at run time."""
    frame = pd.read_csv(shared_data / "coding" / "ilo_isco08_index.csv", dtype=str, keep_default_na=False)
    frame = frame[frame["code"].str[0].isin(["2", "7"])].reset_index(drop=True)
    return frame.sample(frac=1.0, random_state=0).reset_index(drop=True)


@pytest.fixture(scope="session")
def trained(ilo_slice, isco):
    """A coder trained on 80 % of the slice, and the held-out 20 %."""
    cut = int(len(ilo_slice) * 0.8)
    train_set, test_set = ilo_slice.iloc[:cut], ilo_slice.iloc[cut:].reset_index(drop=True)
    coder = train(train_set, text_columns=["text"], code_column="code", classification=isco, seed=0)
    return coder, test_set
