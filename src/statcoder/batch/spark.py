"""The Spark engine: ``mapInPandas`` over the same chunk function as the local engine.

Use from an existing pipeline::

    from statcoder.batch.spark import code_dataframe
    coded = code_dataframe(df, "/shared/models/isco-2026", text_columns=["job_title", "duties"])

Each executor's Python worker loads the model directory once (its file hashes are checked
as on every load; nothing is unpickled: only the directory path travels with the job) and
codes the Arrow batches Spark hands it with :func:`statcoder.batch.chunks.code_chunk`. The
model directory is read from a path every executor sees (shared file system), or shipped
with ``spark-submit --archives model.zip#model`` and named by its link name (``"model"``).
Needs the ``statcoder[spark]`` extra (pyspark) and Java on every node.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from statcoder.batch.cache import DEFAULT_CACHE_SIZE
from statcoder.batch.chunks import (
    BATCH_COLUMNS,
    cache_for,
    card_max_text_length,
    check_text_columns,
    code_chunk,
)
from statcoder.errors import ConfigurationError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

_CODERS: dict[str, Any] = {}
_CACHES: dict[tuple, Any] = {}  # per (model, top_k, max_text_length, text columns): a TextCache


def _spark_types():
    try:
        from pyspark.sql import types as T
    except ImportError:
        raise ConfigurationError("the Spark engine needs pyspark",
                                 hint="pip install 'statcoder[spark]' (and Java 17+ on every node)") from None
    return T


def _resolve_model(model_dir: str) -> str:
    """A directory visible here, or the name of a file/archive shipped with the job."""
    if Path(model_dir).is_dir():
        return model_dir
    from pyspark import SparkFiles

    shipped = SparkFiles.get(Path(model_dir).name)
    return shipped if Path(shipped).is_dir() else model_dir


def _coder(model_dir: str):
    """The model of ``model_dir``, loaded once per Python worker process (hash-checked)."""
    coder = _CODERS.get(model_dir)
    if coder is None:
        from statcoder.coder import Coder

        coder = _CODERS[model_dir] = Coder.load(_resolve_model(model_dir))
    return coder


def output_fields():
    """The Spark fields the engine adds, in order (same names and types as the local engine)."""
    T = _spark_types()
    kinds = {"predicted_level": T.LongType(), "confidence": T.DoubleType()}
    return [T.StructField(name, kinds.get(name, T.StringType()), False) for name in BATCH_COLUMNS]


def code_dataframe(
    df: DataFrame, model_dir: str | Path, *, text_columns: Sequence[str], top_k: int = 5,
    max_text_length: int = 10_000,
) -> DataFrame:
    """Return ``df`` with the coded-output columns added (``problem`` and ``model_version`` too).

    Lazy, like every Spark transformation: nothing runs until the result is written or
    collected. Rows keep their partitioning; row order within partitions is Spark's. Raises
    InputError at once when a text column is missing.
    """
    T = _spark_types()
    check_text_columns(df.columns, list(text_columns), where="DataFrame")  # output columns refused too
    schema = T.StructType(list(df.schema.fields) + output_fields())
    names = [f.name for f in schema.fields]
    model = str(model_dir)
    columns = list(text_columns)

    def code_batches(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        coder = _coder(model)
        # the Python worker is reused across tasks: its cache of coded texts carries over (as the
        # local engine's workers' does); the output is the same with or without it
        key = (model, top_k, max_text_length, tuple(columns))
        cache = _CACHES.get(key) or _CACHES.setdefault(key, cache_for(coder, DEFAULT_CACHE_SIZE))
        for frame in batches:
            coded = code_chunk(coder, frame, text_columns=columns, top_k=top_k, max_text_length=max_text_length,
                               where="spark", cache=cache)
            yield coded[names]

    return df.mapInPandas(code_batches, schema)


def use_this_python() -> None:
    """Local mode: make Spark's Python workers run this interpreter (where statcoder is installed).

    PySpark takes the workers' interpreter from ``PYSPARK_PYTHON`` (default: ``python3`` on the
    PATH, which may lack statcoder); an explicit setting is left alone. Call before the session starts.
    """
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


def _partition_columns(df: DataFrame, base: str) -> list[str]:
    """Hive partition columns of a file-based DataFrame, from the path of its first file."""
    files = df.inputFiles()
    if not files:
        return []
    relative = files[0].split(base.rstrip("/").split("://")[-1], 1)[-1]
    return [part.split("=", 1)[0] for part in relative.strip("/").split("/")[:-1] if "=" in part]


def code_path(
    model_dir: str | Path, input_path: str | Path, output_path: str | Path, *,
    text_columns: Sequence[str] | None = None, top_k: int = 5, max_text_length: int | None = None,
    master: str | None = None, spark: SparkSession | None = None,
) -> int:
    """Read Parquet (file, directory or hive dataset) or CSV, code it, write a Parquet dataset.

    The input's hive partitioning is kept in the output. A local output path is written to a
    temporary sibling and renamed when complete; other file systems rely on Spark's commit
    protocol (``_SUCCESS``). Returns the number of rows coded.
    """
    _spark_types()
    from pyspark.sql import SparkSession

    from statcoder.models.persistence import read_model_dir

    card, _ = read_model_dir(model_dir)  # hash check on the driver, before any job starts
    columns = list(text_columns or card.get("training_data", {}).get("text_columns", ["text"]))
    if max_text_length is None:  # the limit the model was trained with travels in its card
        max_text_length = card_max_text_length(card)
    if spark is None:
        builder = SparkSession.builder.appName("statcoder code")
        if master:
            builder = builder.master(master)
        if master is None or master.startswith("local"):
            use_this_python()
        spark = builder.getOrCreate()
    source = str(input_path)
    if source.lower().endswith((".csv", ".csv.gz")):
        df = spark.read.option("header", True).option("multiLine", True).option("escape", '"').csv(source)
    else:
        df = spark.read.parquet(source)
    partitions = _partition_columns(df, source)
    coded = code_dataframe(df, str(Path(model_dir).resolve()) if Path(model_dir).is_dir() else str(model_dir),
                           text_columns=columns, top_k=top_k, max_text_length=max_text_length)
    target = str(output_path)
    local = "://" not in target
    write_to = f"{target}.tmp-{uuid.uuid4().hex[:8]}" if local else target
    writer = coded.write.mode("overwrite" if not local else "errorifexists")
    if partitions:
        writer = writer.partitionBy(*partitions)
    writer.parquet(write_to)
    if local:
        if Path(target).exists():
            shutil.rmtree(target) if Path(target).is_dir() else Path(target).unlink()
        os.replace(write_to, target)
    return spark.read.parquet(target).count()
