"""The service store: SQLAlchemy tables, repositories and the Alembic migrations that create them."""

from statcoder.store import workbench_tables as _workbench_tables  # noqa: F401 (metadata)
from statcoder.store.database import Database, current_revision, make_engine, upgrade, utc, utcnow

__all__ = ["Database", "current_revision", "make_engine", "upgrade", "utc", "utcnow"]
