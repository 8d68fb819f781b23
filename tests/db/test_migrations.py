"""Schema migrations on both databases: a fresh database reaches the models' schema, and a database made
by create_all before migrations existed is adopted by `easel migrate` with its keys and tasks kept."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, text

from easel.db import migrate
from easel.db.models import Base
from easel.db.session import Database
from tests.conftest import POSTGRES, postgres_schema

HERE = Path(__file__).parent


@dataclass
class Target:
    url: str
    dialect: str

    def engine(self) -> Engine:
        return create_engine(self.url)


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    if request.param == "sqlite":
        yield Target(f"sqlite:///{tmp_path / 'easel.db'}", "sqlite")
        return
    with postgres_schema() as (url, _admin, _schema):
        yield Target(url, "postgresql")


def differences(engine: Engine) -> list:
    with engine.connect() as conn:
        opts = {"compare_type": True, "include_object": _easel_object}
        return compare_metadata(MigrationContext.configure(conn, opts=opts), Base.metadata)


def _easel_object(obj: object, name: str | None, *_args: object) -> bool:
    """procrastinate's tables (PostgreSQL queue, revision 0005) are its own schema, not Easel's models."""
    return not (name or "").startswith("procrastinate_")


def easel_migrate(target: Target, home: Path, *args: str) -> str:
    env = {"EASEL_HOME": str(home), "EASEL_DATABASE_URL": target.url, "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "easel", "migrate", *args], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def create_legacy_schema(target: Target) -> None:
    """What Easel's create_all made before migrations (recorded DDL of that version's models)."""
    lines = (HERE / f"legacy_{target.dialect}.sql").read_text().splitlines()
    ddl = "\n".join(line for line in lines if not line.startswith("--"))
    statements = [s.strip() for s in ddl.split(";") if s.strip()]
    engine = target.engine()
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
        conn.execute(text("INSERT INTO api_keys (id, name, key_hash, key_prefix, created_at) VALUES "
                          "('key-old', 'old key', :h, 'sk-oldkey1', '2026-11-30 10:00:00')"), {"h": "ab" * 32})
        conn.execute(text(
            "INSERT INTO tasks (id, owner_key_id, workspace, api, batch_index, model, function, status, request, "
            "submit_time, attempts) VALUES ('task-old', 'key-old', '', 'dashscope', 0, 'wanx2.1-imageedit', "
            "'super_resolution', 'SUCCEEDED', '{\"input\": {}}', '2026-11-30 10:00:01', 1)"))
    engine.dispose()


def test_a_fresh_database_migrates_to_the_models_schema(target: Target) -> None:
    db = Database(target.url)  # the embedded default: migrated at start
    try:
        assert migrate.current(db.engine) == migrate.head()
        assert differences(db.engine) == []
    finally:
        db.dispose()


def test_a_database_made_before_migrations_is_adopted_and_keeps_its_rows(target: Target, tmp_path: Path) -> None:
    create_legacy_schema(target)
    engine = target.engine()
    try:
        assert migrate.current(engine) is None
        assert differences(engine) != []  # the legacy schema lacks what later revisions add

        first = easel_migrate(target, tmp_path)
        assert migrate.head() in first and "was none" in first
        assert migrate.current(engine) == migrate.head()
        assert differences(engine) == []
        with engine.connect() as conn:
            assert conn.execute(text("SELECT name FROM api_keys WHERE id = 'key-old'")).scalar() == "old key"
            row = conn.execute(text("SELECT status, owner_key_id FROM tasks WHERE id = 'task-old'")).one()
        assert tuple(row) == ("SUCCEEDED", "key-old")

        second = easel_migrate(target, tmp_path)
        assert "already the newest" in second
        assert migrate.current(engine) == migrate.head()
        status = easel_migrate(target, tmp_path, "--status")
        assert f"database revision: {migrate.head()}; newest: {migrate.head()}" in status
    finally:
        engine.dispose()


def test_without_auto_migrate_an_old_schema_is_refused_with_the_fix(target: Target, tmp_path: Path) -> None:
    create_legacy_schema(target)
    env = {"EASEL_HOME": str(tmp_path), "EASEL_DATABASE_URL": target.url, "EASEL_AUTO_MIGRATE": "0",
           "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "easel", "keys", "list"], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0
    assert "easel migrate" in result.stderr and "Traceback" not in result.stderr
    engine = target.engine()
    try:
        assert migrate.current(engine) is None  # nothing was changed behind the operator's back
    finally:
        engine.dispose()
    easel_migrate(target, tmp_path)
    result = subprocess.run([sys.executable, "-m", "easel", "keys", "list"], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0 and "key-old" in result.stdout


def test_sql_mode_prints_the_whole_schema_for_a_dba(tmp_path: Path) -> None:
    sql = easel_migrate(Target(POSTGRES, "postgresql"), tmp_path, "--sql")
    for table in Base.metadata.tables:
        assert f"CREATE TABLE {table} " in sql
    assert f"UPDATE alembic_version SET version_num='{migrate.head()}'" in sql


def test_nodes_starting_together_migrate_once(target: Target, tmp_path: Path) -> None:
    """Three processes reach an empty database at once: one migrates, the others wait and find it done."""
    env = {"EASEL_HOME": str(tmp_path), "EASEL_DATABASE_URL": target.url, "PATH": "/usr/bin:/bin"}
    procs = [subprocess.Popen([sys.executable, "-m", "easel", "migrate"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [(p.wait(120), *p.communicate()) for p in procs]
    assert all(code == 0 for code, _out, _err in results), results
    assert sum("(was none)" in out for _code, out, _err in results) == 1, results
    engine = target.engine()
    try:
        assert migrate.current(engine) == migrate.head()
        assert differences(engine) == []
    finally:
        engine.dispose()
