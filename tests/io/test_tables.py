import pandas as pd
import pytest

from statcoder.errors import InputError
from statcoder.io import read_table, write_table_atomic

FRAME = pd.DataFrame({"id": ["1", "2", "3"], "code": ["0110", "2512", ""], "text": ["Soldier", "Développeur", ""]})


@pytest.mark.parametrize("ext", ["csv", "tsv", "parquet", "xlsx"])
def test_round_trip_keeps_codes_as_text(tmp_path, ext):
    path = write_table_atomic(FRAME, tmp_path / f"t.{ext}")
    back = read_table(path)
    assert back["code"].tolist() == ["0110", "2512", ""]
    assert back["text"].tolist() == ["Soldier", "Développeur", ""]


def test_spss_and_stata(tmp_path):
    import pyreadstat

    frame = pd.DataFrame({"code": ["0110", "2512"], "text": ["a", "b"], "n": [1.0, 2.0]})
    pyreadstat.write_sav(frame, str(tmp_path / "t.sav"))
    pyreadstat.write_dta(frame, str(tmp_path / "t.dta"))
    for name in ("t.sav", "t.dta"):
        back = read_table(tmp_path / name)
        assert back["code"].tolist() == ["0110", "2512"]
        assert back["n"].tolist() == ["1", "2"]


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_table(tmp_path / "nope.csv")


def test_unknown_extension(tmp_path):
    path = tmp_path / "t.json"
    path.write_text("{}")
    with pytest.raises(InputError, match="cannot read files of type .json"):
        read_table(path)


def test_not_utf8(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes("text,code\ncaf\xe9,1\n".encode("latin-1"))
    with pytest.raises(InputError) as info:
        read_table(path)
    assert "UTF-8" in info.value.message or "UTF-8" in info.value.hint


def test_damaged_parquet(tmp_path):
    path = tmp_path / "t.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match="cannot read"):
        read_table(path)


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    path = write_table_atomic(FRAME, tmp_path / "t.csv")
    before = path.read_bytes()

    class Boom(pd.DataFrame):
        def to_csv(self, *args, **kwargs):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_table_atomic(Boom(FRAME), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]


def test_one_column_csv_with_spaces(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("text\nsenior software engineer\nregistered nurse in a hospital\n", encoding="utf-8")
    assert read_table(path)["text"].tolist() == ["senior software engineer", "registered nurse in a hospital"]


def test_semicolon_csv(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("text;code\nnurse, registered;2221\nwelder;7212\n", encoding="utf-8")
    frame = read_table(path)
    assert frame["code"].tolist() == ["2221", "7212"] and frame["text"][0] == "nurse, registered"


@pytest.mark.parametrize("rows_before", [0, 3, 50_000])  # the last: past the reader's first buffer
def test_a_decoding_error_points_at_the_byte_and_line(tmp_path, rows_before):
    head = "text,code\n" + "".join(f"text {i},1\n" for i in range(rows_before))
    path = tmp_path / "latin.csv"
    path.write_bytes((head + "caf\xe9 cr\xe8me,1\n").encode("latin-1"))
    with pytest.raises(InputError) as caught:
        read_table(path)
    where = len(head.encode()) + 3  # the é of "café"
    assert f"at byte {where:,}, line {rows_before + 2:,}" in caught.value.message


def test_an_empty_file_says_so(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(InputError) as caught:
        read_table(path)
    assert caught.value.message == "the file is empty" and "header" in caught.value.hint
