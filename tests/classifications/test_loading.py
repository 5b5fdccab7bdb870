from pathlib import Path

import pandas as pd
import pytest

from statcoder.classifications import Classification, check_file
from statcoder.errors import ClassificationError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_duplicate_codes_reported_with_both_lines(tmp_path):
    path = write(tmp_path, "code,title,level,parent\n1,A,1,\n11,B,2,1\n11,C,2,1\n")
    _, problems = check_file(path)
    assert [(p.line, p.code) for p in problems] == [(4, "11")]
    assert "first on line 3" in problems[0].message


def test_missing_parent_reported_with_line(tmp_path):
    path = write(tmp_path, "code,title,level,parent\n1,A,1,\n21,B,2,2\n")
    _, problems = check_file(path)
    assert problems[0].line == 3 and "parent '2'" in problems[0].message


def test_cycle_detected(tmp_path):
    path = write(tmp_path, "code,title,level,parent\n1,A,1,\n2,B,2,3\n3,C,2,2\n")
    _, problems = check_file(path)
    assert any("cycle" in p.message for p in problems)


def test_inconsistent_level(tmp_path):
    path = write(tmp_path, "code,title,level,parent\n1,A,1,\n11,B,3,1\n")
    _, problems = check_file(path)
    assert problems[0].line == 3 and "level 3" in problems[0].message


def test_line_numbers_count_multiline_fields(tmp_path):
    path = write(tmp_path, 'code,title,level,parent,description\n1,A,1,,"two\nlines"\n11,B,2,1,x\n11,B,2,1,x\n')
    _, problems = check_file(path)
    assert problems[0].line == 5


def test_from_csv_raises_with_hint(tmp_path):
    path = write(tmp_path, "code,title,level,parent\n1,A,1,\n21,B,2,2\n")
    with pytest.raises(ClassificationError) as info:
        Classification.from_csv(path)
    assert "statcoder classification check" in info.value.hint
    assert str(path) in info.value.where


def test_missing_columns(tmp_path):
    path = write(tmp_path, "id,name\n1,A\n")
    with pytest.raises(ClassificationError, match="lacks column"):
        Classification.from_csv(path)


def test_levels_derived_when_column_absent():
    frame = pd.DataFrame({"code": ["A", "A1", "A11"], "parent": ["", "A", "A1"]})
    tree = Classification.from_frame(frame, name="x")
    assert tree.level("A11") == 3 and tree.depth == 3
