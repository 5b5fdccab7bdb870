"""Settings from the environment (prefix ``STATCODER_``). Nothing else reads ``os.environ``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """All run-time settings. Every field is read from ``STATCODER_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="STATCODER_", extra="ignore")

    #: where the demo caches downloaded public data and writes its outputs
    demo_dir: Path = Path(".demo")
    #: directory where tests look for the shared reference data
    shared_data: Path = Path("../shared/data")
    #: texts longer than this (characters) are rejected with a clear error
    max_text_length: int = 10_000
    #: number of threads a model may use (1 keeps runs reproducible and comparable)
    threads: int = 1


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read once from the environment."""
    return Settings()
