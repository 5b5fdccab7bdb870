"""Classification search: token-prefix AND matching, codes by prefix, breadcrumbs, index entries."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from statcoder import Classification
from statcoder.service.workbench.search import ClassificationSearch, tokens

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def test_tokens_fold_case_and_accents():
    assert tokens("Kierowca ciężarówki, Élan-42") == ["kierowca", "ciezarowki", "elan", "42"]


def test_search_on_the_soc_with_the_census_index():
    soc = Classification.from_csv(SHARED / "classifications" / "soc2018.csv", name="SOC 2018")
    census = pd.read_csv(SHARED / "coding" / "census2022_occupation_index.csv", dtype=str, keep_default_na=False)
    census = census[census["code"].isin(set(soc.codes))]
    index = ClassificationSearch(soc, zip(census["text"], census["code"], strict=True))
    assert len(index) > 30_000  # titles + index entries (empty entries are left out)
    hits = index.search("software dev")
    assert hits and hits[0].code == "15-1252"  # Software Developers: both words match the title
    assert hits[0].path[0] == ("15-0000", soc.title("15-0000"))  # breadcrumb from the top
    assert [c for c, _ in hits[0].path] == ["15-0000", "15-1200", "15-1250"]
    by_code = index.search("15-12")
    assert by_code and all(h.code.startswith("15-12") for h in by_code)
    # every hit matches every query word by prefix, in its title or in the index entry shown
    for hit in index.search("nurs pract"):
        words = tokens(hit.label) + tokens(hit.title)
        assert any(w.startswith("nurs") for w in words) and any(w.startswith("pract") for w in words)
    assert len({h.code for h in index.search("a", limit=20)}) == len(index.search("a", limit=20))
    assert index.search("   ") == [] and index.search("zzzzqqq") == []


@pytest.mark.parametrize("query", ["bak", "Bakers", "1"])
def test_search_on_a_small_tree(query):
    tree = Classification.from_frame(pd.DataFrame({
        "code": ["1", "11", "12"], "title": ["Food trades", "Bakers", "Butchers"], "level": ["1", "2", "2"],
        "parent": ["", "1", "1"]}), name="t")
    index = ClassificationSearch(tree, [("bread maker", "11")])
    codes = [h.code for h in index.search(query)]
    assert codes[0] in ("11", "1")
    assert "11" in codes
