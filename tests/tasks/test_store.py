"""The task state machine on both databases Easel supports: SQLite (default) and PostgreSQL."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest

from easel.db.models import TaskStatus
from easel.db.session import Database
from easel.tasks.store import NewTask, Outcome, Owner, TaskFilter, TaskStore, utcnow
from tests.conftest import postgres_schema

ALICE = Owner("key-alice")
BOB = Owner("key-bob")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[TaskStore]:
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'tasks.db'}")
        yield TaskStore(db)
        db.dispose()
        return
    with postgres_schema() as (url, _admin, _schema):
        db = Database(url)
        try:
            yield TaskStore(db)
        finally:
            db.dispose()


def new(model: str = "wanx2.1-imageedit") -> NewTask:
    return NewTask(model=model, function="super_resolution", request={"input": {}, "parameters": {}})


def test_task_belongs_to_its_key_and_workspace(store: TaskStore) -> None:
    task = store.create(Owner("key-alice", "ws-1"), new())
    assert store.get(task.id, Owner("key-alice")) is not None
    assert store.get(task.id, Owner("key-alice", "ws-1")) is not None
    assert store.get(task.id, Owner("key-alice", "ws-2")) is None
    assert store.get(task.id, BOB) is None
    assert store.get(str(uuid.uuid4()), ALICE) is None


def test_each_task_is_claimed_exactly_once_under_contention(store: TaskStore) -> None:
    created = {store.create(ALICE, new()).id for _ in range(12)}
    claimed: list[str] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        while (task := store.claim_next(f"host:1:boot:{n}")) is not None:
            with lock:
                claimed.append(task.id)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(created)
    assert all(store.get(i, ALICE).status == TaskStatus.RUNNING for i in created)


def test_claims_oldest_first(store: TaskStore) -> None:
    first = store.create(ALICE, new())
    store.create(ALICE, new())
    assert store.claim_next("w").id == first.id


def test_cancel_pending_at_once_and_running_by_request(store: TaskStore) -> None:
    pending = store.create(ALICE, new())
    assert not store.cancel(pending.id, BOB), "another key cannot cancel"
    assert store.cancel(pending.id, ALICE)
    assert store.get(pending.id, ALICE).status == TaskStatus.CANCELED
    assert not store.cancel(pending.id, ALICE), "an ended task cannot be cancelled"
    running = store.create(ALICE, new())
    assert store.claim_next("w").id == running.id
    assert not store.cancel_requested(running.id)
    assert not store.cancel(running.id, BOB)
    assert store.cancel(running.id, ALICE), "a RUNNING task takes a cancellation request"
    assert store.cancel_requested(running.id)
    assert store.get(running.id, ALICE).status == TaskStatus.RUNNING, "the worker ends it at its next step"
    assert store.end_canceled(running.id)
    assert store.get(running.id, ALICE).status == TaskStatus.CANCELED
    assert not store.cancel(running.id, ALICE)
    assert store.claim_next("w") is None, "a canceled task is never claimed"


def test_progress_is_kept_per_task(store: TaskStore) -> None:
    task = store.create(ALICE, new())
    assert store.progress_of(task.id) is None
    store.set_progress(task.id, 40)
    store.set_progress(task.id, 55)
    assert store.progress_of(task.id) == 55
    store.delete([task.id], [])
    assert store.progress_of(task.id) is None


def test_finish_transitions_only_from_running(store: TaskStore) -> None:
    task = store.create(ALICE, new())
    assert not store.succeed(task.id, Outcome(results=[{"blob": "k"}])), "not claimed yet"
    store.claim_next("w")
    assert store.succeed(task.id, Outcome(results=[{"blob": "k"}, {"code": "X", "message": "m"}]))
    done = store.get(task.id, ALICE)
    assert done.status == TaskStatus.SUCCEEDED
    assert done.usage == {"image_count": 1}
    assert done.end_time is not None
    assert not store.fail(task.id, "InternalError", "late"), "terminal states are final"


def test_outcome_without_any_image_is_failed(store: TaskStore) -> None:
    task = store.create(ALICE, new())
    store.claim_next("w")
    store.succeed(task.id, Outcome(results=[{"code": "InternalError.Timeout", "message": "slow"}]))
    done = store.get(task.id, ALICE)
    assert done.status == TaskStatus.FAILED and done.code == "InternalError.Timeout"


def test_pre_failed_task_is_never_run(store: TaskStore) -> None:
    task = store.create(ALICE, NewTask("m", "f", {}, failed_code="EngineUnavailable", failed_message="no"))
    assert task.status == TaskStatus.FAILED
    assert store.claim_next("w") is None


def test_requeue_and_give_up(store: TaskStore) -> None:
    task = store.create(ALICE, new())
    claimed = store.claim_next("host:99:dead:0")
    assert store.requeue(task.id, claimed.worker_id, give_up=False)
    assert store.get(task.id, ALICE).status == TaskStatus.PENDING
    again = store.claim_next("host:98:dead:0")
    assert again.attempts == 2
    assert not store.requeue(task.id, "someone-else", give_up=False), "only the orphaning worker's claim"
    assert store.requeue(task.id, again.worker_id, give_up=True)
    assert store.get(task.id, ALICE).status == TaskStatus.FAILED


def test_list_pages_filters_and_isolation(store: TaskStore) -> None:
    ids = [store.create(ALICE, new()).id for _ in range(5)]
    store.create(ALICE, new("wanx-x-painting"))
    store.create(BOB, new())
    store.cancel(ids[0], ALICE)
    page = store.list(ALICE, TaskFilter(model="wanx2.1-imageedit"), 1, 3)
    assert page.total == 5 and len(page.items) == 3
    rest = store.list(ALICE, TaskFilter(model="wanx2.1-imageedit"), 2, 3)
    assert {t.id for t in page.items + rest.items} == set(ids)
    assert store.list(ALICE, TaskFilter(status="CANCELED"), 1, 10).total == 1
    assert store.list(BOB, TaskFilter(), 1, 10).total == 1
    future = utcnow() + timedelta(hours=1)
    assert store.list(ALICE, TaskFilter(start=future), 1, 10).total == 0


def test_expired_tasks_and_blobs(store: TaskStore) -> None:
    task = store.create(ALICE, new())
    store.claim_next("w")
    store.succeed(task.id, Outcome(results=[{"blob": "results/x.png"}]))
    store.record_blob("results/x.png", ALICE.key_id, 10)
    assert store.expired(timedelta(hours=1)) == ([], [])
    task_ids, keys = store.expired(timedelta(seconds=-1))
    assert task_ids == [task.id] and keys == ["results/x.png"]
    store.delete(task_ids, keys)
    assert store.get(task.id, ALICE) is None
    assert store.blob_owner("results/x.png") is None


def test_task_ids_are_time_ordered_uuids(store: TaskStore) -> None:
    """Version 7 UUIDs: ids of tasks created later sort later (inserts append to the key index)."""
    ids = []
    for _ in range(3):
        ids.append(store.create(ALICE, NewTask(model="m", function="f", request={})).id)
        time.sleep(0.002)
    assert [uuid.UUID(i).version for i in ids] == [7, 7, 7]
    assert ids == sorted(ids) and len(set(ids)) == 3
    created_ms = int(ids[0].replace("-", "")[:12], 16)
    assert abs(created_ms / 1000 - time.time()) < 60
