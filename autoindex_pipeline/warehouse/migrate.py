"""Apply the Alembic migrations shipped inside the package (`autoindex db upgrade`)."""

from __future__ import annotations

import functools
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    # Every op's warehouse resource asks (upgrade() at set-up): parsing the scripts each time
    # was 7 % of a simulated fortnight's profile. Re-read when a script file changes.
    versions = MIGRATIONS_DIR / "versions"
    return _head(tuple(sorted((p.name, p.stat().st_mtime_ns) for p in versions.glob("*.py"))))


@functools.lru_cache(maxsize=4)
def _head(_scripts: tuple[tuple[str, int], ...]) -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: sa.Engine, revision: str = "head") -> str:
    """Bring the warehouse to ``revision``; a no-op when it is already there. Returns the
    revision the warehouse is at afterwards."""
    if revision == "head" and current_revision(engine) == (head := head_revision()):
        return head
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    return current_revision(engine) or ""
