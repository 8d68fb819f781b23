"""The PostgreSQL pool pings only connections that sat idle, and still survives a dropped connection."""

from __future__ import annotations

import time

from sqlalchemy import text

from easel.db.session import PING_AFTER_IDLE_S, Database
from tests.conftest import postgres_schema


def test_busy_connections_are_not_pinged_idle_ones_are_and_a_dead_one_is_replaced(monkeypatch) -> None:
    with postgres_schema() as (url, admin, _schema):
        db = Database(url)
        try:
            pings: list[object] = []
            real_ping = db.engine.dialect.do_ping
            monkeypatch.setattr(db.engine.dialect, "do_ping", lambda conn: (pings.append(conn), real_ping(conn))[1])
            with db.engine.begin() as conn:
                pid = conn.scalar(text("SELECT pg_backend_pid()"))
            for _ in range(20):  # back to back, as a busy worker uses them
                with db.engine.begin() as conn:
                    conn.execute(text("SELECT 1"))
            assert pings == []

            # the database drops the pooled connection while it is idle (a restart, a proxy timeout)
            with admin.connect() as conn:
                assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            time.sleep(PING_AFTER_IDLE_S + 0.2)
            with db.engine.begin() as conn:
                new_pid = conn.scalar(text("SELECT pg_backend_pid()"))
            assert len(pings) == 1 and new_pid != pid
        finally:
            db.dispose()
