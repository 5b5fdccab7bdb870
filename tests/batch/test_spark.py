"""The Spark engine in local[2] mode (pyspark wheel + Debian's Java): same records as the local engine."""

from __future__ import annotations

import pandas as pd
import pyarrow.dataset as ds
import pytest

from statcoder.batch import BATCH_COLUMNS, code_files
from statcoder.errors import InputError

pyspark = pytest.importorskip("pyspark", reason="the spark extra is part of dev; install statcoder[spark]")


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    from statcoder.batch.spark import use_this_python

    use_this_python()
    session = (SparkSession.builder.master("local[2]").appName("statcoder-tests")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
               .config("spark.sql.execution.arrow.maxRecordsPerBatch", "500").getOrCreate())
    yield session
    session.stop()


def test_spark_output_equals_local_engine_record_for_record(spark, model_dir, records, tmp_path):
    from statcoder.batch.spark import code_path

    sample = records.iloc[:1200].copy()
    sample.loc[3, "text"] = "12345"
    sample.loc[4, "text"] = ""
    sample.to_parquet(tmp_path / "in", partition_cols=["survey", "period"], index=False)
    rows = code_path(model_dir, tmp_path / "in", tmp_path / "spark_out", spark=spark)
    code_files(model_dir, tmp_path / "in", tmp_path / "local_out", workers=1, chunk_size=500)
    assert rows == len(sample)
    # partitioning kept: the same hive directories as the input
    dirs = {p.parent.relative_to(tmp_path / "spark_out").as_posix() for p in (tmp_path / "spark_out").rglob("*.parquet")}
    assert dirs == {f"survey={s}/period={p}" for s in ("LFS", "SES") for p in ("2026Q3", "2026Q4")}
    assert not list(tmp_path.glob("spark_out.tmp-*"))
    read = lambda path: ds.dataset(path, partitioning="hive").to_table().to_pandas()
    from_spark, from_local = read(tmp_path / "spark_out"), read(tmp_path / "local_out")
    assert set(from_spark.columns) == set(from_local.columns) == set(sample.columns) | set(BATCH_COLUMNS)
    columns = list(from_local.columns)
    from_spark = from_spark[columns].sort_values("rid").reset_index(drop=True)
    from_local = from_local[columns].sort_values("rid").reset_index(drop=True)
    assert from_spark["problem"].tolist().count("not_text") == 1
    for frame in (from_spark, from_local):
        frame["survey"], frame["period"] = frame["survey"].astype(str), frame["period"].astype(str)
    pd.testing.assert_frame_equal(from_spark, from_local, check_dtype=False, check_categorical=False)


def test_code_dataframe_entry_point(spark, model_dir, records):
    from statcoder.batch.spark import code_dataframe

    df = spark.createDataFrame(records.iloc[:50][["rid", "text"]])
    coded = code_dataframe(df, model_dir, text_columns=["text"], top_k=2)
    assert coded.columns == ["rid", "text", *BATCH_COLUMNS]
    out = coded.toPandas()
    assert len(out) == 50 and out["model_version"].str.startswith("m-").all()
    with pytest.raises(InputError, match="'title' not found"):
        code_dataframe(df, model_dir, text_columns=["title"])
