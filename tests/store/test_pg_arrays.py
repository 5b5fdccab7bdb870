"""Binary array parameters built by statcoder.store.pg_arrays read back in PostgreSQL as sent."""

from __future__ import annotations

import math

import psycopg
import pytest
from kit import fresh_postgres, postgres_url

from statcoder.store import pg_arrays


@pytest.fixture
def connection():
    url = fresh_postgres(postgres_url()).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        pg_arrays.register(conn)
        yield conn


@pytest.mark.parametrize(("kind", "values"), [
    ("text", ["plain", "", None, "éàü – 医生 🚑", "tab\there", "x" * 70_000, "'quoted' {braces}, \"comma\""]),
    ("text", []),
    ("int4", [0, 1, -1, 2**31 - 1, -(2**31), None, 7]),
    ("float8", [0.0, -0.0, 1e-300, -2.5, 1 / 3, None, 1e300]),
])
def test_arrays_read_back_as_sent(connection, kind, values):
    array = pg_arrays.encode(kind, values)
    got = connection.execute(f"SELECT %b::{kind}[]", [array]).fetchone()[0]
    assert got == values
    # element by element through unnest too (what the review-task insert selects from)
    rows = connection.execute(f"SELECT v FROM unnest(%b::{kind}[]) WITH ORDINALITY AS t(v, k) ORDER BY k",
                              [array]).fetchall()
    assert [r[0] for r in rows] == values


def test_special_floats_and_non_string_text(connection):
    got = connection.execute("SELECT %b::float8[]", [pg_arrays.encode("float8", [math.inf, -math.inf])]).fetchone()[0]
    assert got == [math.inf, -math.inf]
    nan = connection.execute("SELECT %b::float8[]", [pg_arrays.encode("float8", [math.nan])]).fetchone()[0]
    assert math.isnan(nan[0])
    assert connection.execute("SELECT %b::text[]", [pg_arrays.encode("text", [12, 3.5])]).fetchone()[0] == ["12", "3.5"]


def test_an_int4_out_of_range_is_refused_before_sending():
    with pytest.raises(Exception, match="format requires|out of range|argument out of range"):
        pg_arrays.encode("int4", [2**31])
