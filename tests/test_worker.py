"""The job queue and worker: an item never stays 'processing' after its job ends unsuccessfully."""
from datetime import timedelta

from repository import catalog
from repository import jobs as queue
from repository.models import Item, Job, utcnow
from ingest.worker import HANDLERS, JobCancelled, Worker, handler


def _item_with_job(repo, kind):
    with repo.unit_of_work("test") as uow:
        coll = catalog.add_collection(uow.session, f"c-{kind}", "C")
        item = Item(collection=coll, title="t", state="processing")
        uow.session.add(item)
        uow.session.flush()
        job = queue.enqueue(uow.session, kind, item_id=item.id)
        return item.id, job.id


def _state(repo, item_id, job_id):
    with repo.session() as s:
        return s.get(Item, item_id).state, s.get(Item, item_id).error, s.get(Job, job_id).state


def test_a_cancelled_running_job_marks_its_item_failed_and_retry_revives_it(repo):
    @handler("test-cancel")
    def _cancel(ctx):
        with repo.session() as s:
            queue.request_cancel(s, ctx.job.id)
            s.commit()
        ctx.progress(1, 2, "halfway")  # sees the request and raises JobCancelled

    try:
        item_id, job_id = _item_with_job(repo, "test-cancel")
        Worker(repo).run_job(queue.claim(repo.db, "w"), _cancel)
        state, error, job_state = _state(repo, item_id, job_id)
        assert (state, job_state) == ("failed", "cancelled") and "cancelled" in error
        with repo.session() as s:
            queue.retry(s, job_id)
            s.commit()
        assert _state(repo, item_id, job_id)[::2] == ("processing", "queued")
    finally:
        HANDLERS.pop("test-cancel", None)


def test_cancelling_a_queued_job_fails_its_item_at_once(repo):
    item_id, job_id = _item_with_job(repo, "test-queued")
    with repo.session() as s:
        queue.request_cancel(s, job_id, by="mei")
        s.commit()
    state, error, job_state = _state(repo, item_id, job_id)
    assert (state, job_state) == ("failed", "cancelled") and "by mei" in error


def test_a_crashing_handler_fails_the_job_and_the_worker_lives_on(repo):
    def _boom(ctx):
        raise ZeroDivisionError("bug")

    item_id, job_id = _item_with_job(repo, "test-boom")
    Worker(repo).run_job(queue.claim(repo.db, "w"), _boom)
    state, error, job_state = _state(repo, item_id, job_id)
    assert (state, job_state) == ("failed", "failed") and "ZeroDivisionError" in error


def test_a_dead_workers_job_is_claimed_again(repo):
    item_id, job_id = _item_with_job(repo, "test-stale")
    first = queue.claim(repo.db, "dead-worker")
    assert queue.claim(repo.db, "other", stale_after=60) is None  # still fresh
    with repo.session() as s:
        s.get(Job, job_id).heartbeat_at = utcnow() - timedelta(seconds=600)
        s.commit()
    again = queue.claim(repo.db, "other", stale_after=60)
    assert again.id == first.id and again.worker == "other" and again.attempts == 2
