"""Batch coding at census scale: one chunk function, a local streaming engine, a Spark engine.

``code_chunk`` is the single code path (used by the local engine, Spark and the service's
jobs); ``code_files`` is the local engine behind ``statcoder code``; the Spark entry point is
``statcoder.batch.spark.code_dataframe`` (needs the ``statcoder[spark]`` extra).
"""

from statcoder.batch.chunks import (
    BATCH_COLUMNS,
    PROBLEMS,
    code_chunk,
    prepare_texts,
    problem_counts,
)
from statcoder.batch.local import DEFAULT_CHUNK_SIZE, BatchResult, code_files

__all__ = [
    "BATCH_COLUMNS",
    "DEFAULT_CHUNK_SIZE",
    "PROBLEMS",
    "BatchResult",
    "code_chunk",
    "code_files",
    "prepare_texts",
    "problem_counts",
]
