"""The local streaming engine: equality with in-memory coding, partitions, bad rows, errors, memory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pytest

from statcoder.batch import BATCH_COLUMNS, code_files
from statcoder.batch.sinks import work_dir
from statcoder.coder import Coder
from statcoder.errors import InputError

CONTRACT = ["predicted_code", "predicted_level", "confidence", "decision", "source", "candidates"]


def test_local_equals_in_memory_coding(model_dir, records, tmp_path):
    records.to_parquet(tmp_path / "in.parquet", index=False)
    result = code_files(model_dir, tmp_path / "in.parquet", tmp_path / "out.parquet", workers=2, chunk_size=700)
    out = pd.read_parquet(tmp_path / "out.parquet")
    expected = Coder.load(model_dir).code(records, text_columns=["text"])
    assert result.rows == len(records) == len(out) and result.chunks == 5
    assert list(out.columns) == list(records.columns) + list(BATCH_COLUMNS)
    assert out["rid"].tolist() == records["rid"].tolist()  # input order kept across workers
    # the ILO index itself holds a few texts with U+FFFD (an earlier decoding failure): flagged
    clean = out["problem"] == ""
    assert set(out.loc[~clean, "problem"]) == {"invalid_encoding"} and result.problems["invalid_encoding"] < 10
    assert (out.loc[~clean, "decision"] == "review").all()
    pd.testing.assert_frame_equal(out[CONTRACT], expected[CONTRACT].assign(decision=out["decision"]),
                                  check_dtype=False)
    assert (out.loc[clean, "decision"] == expected.loc[clean, "decision"]).all()
    assert sum(result.decisions.values()) == len(records)
    assert not work_dir(tmp_path / "out.parquet").exists()


def test_csv_output_matches_parquet_output(model_dir, records, tmp_path):
    records.to_csv(tmp_path / "in.csv", index=False)
    code_files(model_dir, tmp_path / "in.csv", tmp_path / "out.csv", workers=1, chunk_size=1000)
    code_files(model_dir, tmp_path / "in.csv", tmp_path / "out.parquet", workers=1, chunk_size=1000)
    from_csv = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    from_parquet = pd.read_parquet(tmp_path / "out.parquet").astype(str)
    assert list(from_csv.columns) == list(from_parquet.columns)
    pd.testing.assert_frame_equal(from_csv.drop(columns="confidence"), from_parquet.drop(columns="confidence"))


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_a_csv_with_a_byte_order_mark_is_read_as_its_mark_says(model_dir, records, tmp_path, encoding):
    """Without --encoding, a BOM names the encoding, as train and every other command read it."""
    small = records.iloc[:50]
    small.to_csv(tmp_path / "in.csv", index=False, encoding=encoding)
    small.to_csv(tmp_path / "plain.csv", index=False)
    code_files(model_dir, tmp_path / "in.csv", tmp_path / "out.csv", workers=1, chunk_size=1000)
    code_files(model_dir, tmp_path / "plain.csv", tmp_path / "plain-out.csv", workers=1, chunk_size=1000)
    got = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    want = pd.read_csv(tmp_path / "plain-out.csv", dtype=str, keep_default_na=False)
    assert list(got.columns) == list(want.columns) and got.columns[0] == small.columns[0]
    pd.testing.assert_frame_equal(got.drop(columns="confidence"), want.drop(columns="confidence"))


def test_partitioned_input_and_output(model_dir, records, tmp_path):
    records.to_parquet(tmp_path / "in", partition_cols=["survey", "period"], index=False)
    assert (tmp_path / "in" / "survey=LFS" / "period=2026Q3").is_dir()
    code_files(model_dir, tmp_path / "in", tmp_path / "out", workers=2, chunk_size=400)
    parts = sorted(p.relative_to(tmp_path / "out").parent.as_posix() for p in (tmp_path / "out").rglob("*.parquet"))
    assert sorted(set(parts)) == ["survey=LFS/period=2026Q3", "survey=LFS/period=2026Q4",
                                  "survey=SES/period=2026Q3", "survey=SES/period=2026Q4"]
    out = ds.dataset(tmp_path / "out", partitioning="hive").to_table().to_pandas()
    assert len(out) == len(records) and set(out["rid"]) == set(records["rid"])
    merged = out.merge(records, on="rid", suffixes=("", "_in"))
    assert (merged["survey"].astype(str) == merged["survey_in"]).all()
    assert (merged["period"].astype(str) == merged["period_in"]).all()
    # a single-file output of a partitioned input keeps the partition values as columns
    code_files(model_dir, tmp_path / "in", tmp_path / "flat.csv", workers=1, chunk_size=400)
    flat = pd.read_csv(tmp_path / "flat.csv", dtype=str, keep_default_na=False)
    assert {"survey", "period"} <= set(flat.columns) and len(flat) == len(records)


def test_bad_rows_are_coded_review_with_their_problem(model_dir, tmp_path):
    lines = [b"rid,text", b"1,civil engineer", b"2,", b'3,"12345"', b"4,--- ???",
             b"5," + b"welder " * 300, b"6,caf\xe9 waiter \xff\xfe", b"7,carpenter"]
    (tmp_path / "bad.csv").write_bytes(b"\n".join(lines) + b"\n")
    result = code_files(model_dir, tmp_path / "bad.csv", tmp_path / "out.csv", workers=1, max_text_length=100)
    out = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert out["rid"].tolist() == [str(i) for i in range(1, 8)]
    assert out["problem"].tolist() == ["", "missing", "not_text", "not_text", "too_long", "invalid_encoding", ""]
    flagged = out["problem"] != ""
    assert (out.loc[flagged, "decision"] == "review").all()
    assert (out.loc[out["problem"].isin(["missing", "not_text"]), "predicted_code"] == "").all()
    assert out.loc[4, "predicted_code"] != ""  # the over-long text is cut and still coded
    assert out.loc[5, "text"].startswith("caf\ufffd waiter")
    assert result.problems == {"missing": 1, "not_text": 2, "too_long": 1, "invalid_encoding": 1}


def test_missing_text_column_stops_before_any_output(model_dir, records, tmp_path):
    records.to_parquet(tmp_path / "in.parquet", index=False)
    with pytest.raises(InputError, match="'title' not found") as info:
        code_files(model_dir, tmp_path / "in.parquet", tmp_path / "out.csv", text_columns=["title"])
    assert "rid" in info.value.hint
    assert not (tmp_path / "out.csv").exists() and not work_dir(tmp_path / "out.csv").exists()


def test_unreadable_input_stops_before_any_output(model_dir, tmp_path):
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(InputError, match="cannot read the Parquet input"):
        code_files(model_dir, tmp_path / "broken.parquet", tmp_path / "out.parquet")
    assert list(tmp_path.iterdir()) == [tmp_path / "broken.parquet"]


def _run_cli(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([str(Path(sys.executable).parent / "statcoder"), "code", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def test_resume_after_sigkill_is_byte_identical(model_dir, records, tmp_path):
    big = pd.concat([records] * 4, ignore_index=True)
    big["rid"] = [f"r{i:06d}" for i in range(len(big))]
    big.to_parquet(tmp_path / "in.parquet", index=False)
    common = ["--model", str(model_dir), "--data", str(tmp_path / "in.parquet"), "--chunk-size", "300",
              "--workers", "1", "--quiet"]
    reference = _run_cli(*common, "--out", str(tmp_path / "ref.csv"))
    assert reference.wait(timeout=600) == 0, reference.stderr.read()
    run = _run_cli(*common, "--out", str(tmp_path / "out.csv"))
    parts = work_dir(tmp_path / "out.csv") / "parts"
    n_chunks = -(-len(big) // 300)
    while run.poll() is None and len(list(parts.glob("part-*.csv"))) < n_chunks // 2:
        time.sleep(0.05)
    run.kill()
    run.wait()
    kept = len(list(parts.glob("part-*.csv")))
    assert 0 < kept < n_chunks, "the run finished before it could be killed"
    assert not (tmp_path / "out.csv").exists()  # nothing at the final path until complete
    resumed = _run_cli(*common, "--out", str(tmp_path / "out.csv"), "--resume")
    assert resumed.wait(timeout=600) == 0, resumed.stderr.read()
    assert f"{kept} chunk(s) kept" in resumed.stdout.read().replace("\n", "")
    assert (tmp_path / "out.csv").read_bytes() == (tmp_path / "ref.csv").read_bytes()
    assert not work_dir(tmp_path / "out.csv").exists()


def test_workers_end_with_a_killed_run(model_dir, records, tmp_path):
    big = pd.concat([records] * 4, ignore_index=True)
    big.to_parquet(tmp_path / "in.parquet", index=False)
    run = _run_cli("--model", str(model_dir), "--data", str(tmp_path / "in.parquet"), "--chunk-size", "300",
                   "--workers", "2", "--quiet", "--out", str(tmp_path / "out.csv"), start_new_session=True)
    parts = work_dir(tmp_path / "out.csv") / "parts"
    while run.poll() is None and not list(parts.glob("part-*.csv")):
        time.sleep(0.05)
    assert run.poll() is None, "the run finished before it could be killed"
    run.kill()
    run.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the workers share the killed run's process group
        try:
            os.killpg(run.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.killpg(run.pid, signal.SIGKILL)
        pytest.fail("worker processes outlived the killed run by 30 s")


def test_resume_refuses_other_options(model_dir, records, tmp_path):
    records.to_parquet(tmp_path / "in.parquet", index=False)
    state = {"engine": "local", "top_k": 9}
    work = work_dir(tmp_path / "out.csv")
    work.mkdir()
    (work / "state.json").write_text(json.dumps(state))
    with pytest.raises(InputError, match="other input, model or options"):
        code_files(model_dir, tmp_path / "in.parquet", tmp_path / "out.csv", resume=True)


# VmHWM, not ru_maxrss: the latter keeps the forking parent's peak across exec
PEAK_SCRIPT = """
import re, sys
from statcoder.batch import code_files
code_files(sys.argv[1], sys.argv[2], sys.argv[3], workers=1, chunk_size=2000)
status = open("/proc/self/status").read()
print(int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) // 1024)
"""


def _peak_mb(model_dir, records: pd.DataFrame, n: int, folder: Path) -> int:
    frame = pd.concat([records] * (-(-n // len(records))), ignore_index=True).iloc[:n]
    frame["payload"] = "x" * 4000  # 4 KB per row: holding the input in memory would show at once
    folder.mkdir()
    frame.to_csv(folder / "in.csv", index=False)
    done = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(model_dir), str(folder / "in.csv"),
                           str(folder / "out.parquet")], capture_output=True, text=True, timeout=900, check=False,
                          env={**os.environ, "PYTHONHASHSEED": "0"})
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip().splitlines()[-1])


def test_peak_memory_is_bounded_and_flat_in_input_size(model_dir, records, tmp_path):
    # both files are larger than the CSV reader's read-ahead (~25 blocks of 1 MB)
    small = _peak_mb(model_dir, records, 8_000, tmp_path / "small")  # 32 MB file
    large = _peak_mb(model_dir, records, 60_000, tmp_path / "large")  # 240 MB file
    assert large < 600, f"peak {large} MB for 60,000 rows (bound 600 MB)"
    # Holding the input would add ~210 MB (52,000 more rows of 4 KB); run-to-run noise of one
    # peak is +-25 MB here (reader read-ahead threads, allocator), so 100 MB separates the two.
    assert large - small < 100, f"peak grew from {small} MB to {large} MB with 7.5x the rows"


def test_resume_with_nothing_to_resume_says_so(model_dir, records, tmp_path):
    """--resume after a finished run (or with no run at all) codes again, and warns instead of staying silent."""
    records.to_parquet(tmp_path / "in.parquet", index=False)
    out = tmp_path / "out.csv"
    with pytest.warns(UserWarning, match="nothing to resume for out.csv: no interrupted run was found"):
        code_files(model_dir, tmp_path / "in.parquet", out, resume=True, workers=1)
    first = out.read_bytes()
    with pytest.warns(UserWarning, match="nothing to resume for out.csv: the earlier run finished"):
        code_files(model_dir, tmp_path / "in.parquet", out, resume=True, workers=1)
    assert out.read_bytes() == first


def test_reading_one_large_parquet_file_holds_one_chunk(tmp_path):
    # Arrow's default reader keeps each row group it has read until the file is closed: reading
    # a census file of many row groups would then hold the whole file by its end.
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from statcoder.batch.sources import Source

    rng = np.random.default_rng(0)
    path = tmp_path / "many-row-groups.parquet"
    with pq.ParquetWriter(path, pa.schema([("rid", pa.string()), ("text", pa.string())]),
                          compression="none") as writer:
        for group in range(200):  # 200 row groups of 1,000 texts of 200 random letters: ~40 MB
            letters = rng.integers(97, 123, size=(1000, 200), dtype=np.uint8)
            texts = [row.tobytes().decode() for row in letters]
            writer.write_table(pa.table({"rid": [f"{group}-{i}" for i in range(1000)], "text": texts}))
    source = Source(path, text_columns=["text"])
    before = pa.total_allocated_bytes()
    peak = rows = 0
    for chunk in source.chunks(1000):
        rows += len(chunk.frame)
        peak = max(peak, pa.total_allocated_bytes() - before)
    assert rows == 200_000
    assert peak < 8 * 2**20, f"{peak / 2**20:.0f} MB of Arrow memory held while reading chunks of 0.2 MB"


def test_a_run_limit_above_the_models_is_the_limit_the_texts_are_coded_with(titles, shared_data, tmp_path):
    """--max-text-length above the card's limit: the text is coded whole, not cut again to the card's."""
    from statcoder import Classification, train

    isco = Classification.from_csv(shared_data / "classifications" / "isco08.csv")
    model = train(titles.iloc[:600], text_columns=["text"], code_column="code", classification=isco, seed=0,
                  cv_folds=2, max_text_length=40).save(tmp_path / "model")
    long_text = "x" * 45 + " " + titles["text"].iloc[0]  # what it is about comes after the card's 40 characters
    pd.DataFrame({"text": [long_text]}).to_csv(tmp_path / "in.csv", index=False)
    code_files(model, tmp_path / "in.csv", tmp_path / "cut.csv", workers=1)  # default: the card's limit
    code_files(model, tmp_path / "in.csv", tmp_path / "whole.csv", workers=1, max_text_length=400)
    cut = pd.read_csv(tmp_path / "cut.csv", dtype=str, keep_default_na=False).iloc[0]
    whole = pd.read_csv(tmp_path / "whole.csv", dtype=str, keep_default_na=False).iloc[0]
    assert cut["problem"] == "too_long" and cut["decision"] == "review"
    assert whole["problem"] == ""
    expected = Coder.load(model).code([long_text], max_text_length=400).iloc[0]
    assert whole["predicted_code"] == expected["predicted_code"] != cut["predicted_code"]


def test_the_output_may_not_replace_the_input_or_land_inside_it(model_dir, records, tmp_path):
    records.to_csv(tmp_path / "in.csv", index=False)
    before = (tmp_path / "in.csv").read_bytes()
    with pytest.raises(InputError, match="would replace the input file"):
        code_files(model_dir, tmp_path / "in.csv", tmp_path / "." / "in.csv")
    assert (tmp_path / "in.csv").read_bytes() == before
    folder = tmp_path / "dataset"
    folder.mkdir()
    records.to_parquet(folder / "part-0.parquet", index=False)
    with pytest.raises(InputError, match="inside the input directory"):
        code_files(model_dir, folder, folder / "coded.parquet")
    assert sorted(p.name for p in folder.iterdir()) == ["part-0.parquet"]


def test_starting_over_says_how_many_finished_chunks_it_discards(model_dir, records, tmp_path):
    records.to_parquet(tmp_path / "in.parquet", index=False)
    out = tmp_path / "out.csv"
    parts = work_dir(out) / "parts"
    parts.mkdir(parents=True)
    for index in (0, 1):  # an interrupted run's finished chunks
        (parts / f"part-{index:06d}.csv").write_text("x\n")
    (parts / "part-000002.csv.tmp").write_text("x\n")  # one being written: not finished
    with pytest.warns(UserWarning, match=r"had finished 2 chunk\(s\); they are discarded .*--resume"):
        code_files(model_dir, tmp_path / "in.parquet", out, workers=1)
    assert len(pd.read_csv(out)) == len(records)


def test_ctrl_c_says_what_is_kept_and_how_to_continue(model_dir, records, tmp_path):
    big = pd.concat([records] * 4, ignore_index=True)
    big.to_parquet(tmp_path / "in.parquet", index=False)
    run = _run_cli("--model", str(model_dir), "--data", str(tmp_path / "in.parquet"), "--chunk-size", "300",
                   "--workers", "1", "--quiet", "--out", str(tmp_path / "out.csv"))
    parts = work_dir(tmp_path / "out.csv") / "parts"
    while run.poll() is None and not list(parts.glob("part-*.csv")):
        time.sleep(0.05)
    assert run.poll() is None, "the run finished before it could be interrupted"
    run.send_signal(signal.SIGINT)
    assert run.wait(timeout=120) == 130
    said = " ".join(run.stderr.read().split())
    assert "interrupted: nothing written at" in said and "run the same command with --resume to continue" in said
    assert "Traceback" not in said and not (tmp_path / "out.csv").exists()


def test_progress_says_when_its_total_is_an_estimate(model_dir, records, tmp_path):
    records.to_csv(tmp_path / "in.csv", index=False)  # a CSV's row count is estimated from its size
    records.to_parquet(tmp_path / "in.parquet", index=False)  # Parquet's is in its footer
    said: dict[str, set[str]] = {"csv": set(), "parquet": set()}
    for kind, descriptions in said.items():
        code_files(model_dir, tmp_path / f"in.{kind}", tmp_path / f"out-{kind}.csv", workers=1, chunk_size=200,
                   on_progress=lambda done, total, description, seen=descriptions: seen.add(description))
    assert "coding (total estimated)" in said["csv"]
    assert said["parquet"] == {"coding"}


def test_input_columns_named_like_outputs_are_refused_before_any_output(model_dir, records, tmp_path):
    records.assign(decision="mine").to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(InputError, match=r"already has output column\(s\) decision"):
        code_files(model_dir, tmp_path / "in.csv", tmp_path / "out.csv", workers=1)
    assert not (tmp_path / "out.csv").exists() and not work_dir(tmp_path / "out.csv").exists()
