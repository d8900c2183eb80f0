"""Bulk operations: the same work for every contract (month-end, ...), spread over the workers.

An operation is one ``BulkOperation`` with one ``BulkItem`` per contract. Starting it sends a Celery
group of ``core.run_bulk_item`` tasks, one per item, so every worker takes a share; the operation's
progress is its items' statuses, and the last item to finish closes it. Each item is idempotent: a
redelivered or retried item already finished is left alone, and each kind's handler is idempotent too
(a month-end item asks for the month's payment run, which returns the run already there). An item that
fails is reported with its reason and retried alone; it never stops the others.

Apps register a handler per kind (``register``, from their ``AppConfig.ready``); core imports no app. A
kind may also register a completion hook (``on_finished``), run once by whoever closes the operation, at
the end of the locked transaction that closes it (e.g. the rate sheet zip assembled from its items' work).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import OperationalError, transaction
from django.db.models import Count, F
from django.utils import timezone

from core.domain.canonical import canonical_json, sha256_hex
from core.errors import ApplicationError
from core.models import BulkItem, BulkItemStatus, BulkOperation, BulkStatus

logger = logging.getLogger(__name__)

#: An item whose handler stopped unexpectedly: the reason, as the progress page shows it.
ITEM_FAILED_MESSAGE = "Stopped: {error}"
#: The completion hook stopped unexpectedly: the operation is failed with this reason.
FINISH_FAILED_MESSAGE = "Finishing stopped: {error}"


@dataclass(frozen=True)
class Outcome:
    """What a handler did for one item: ``done``, ``skipped`` (nothing to do yet) or ``failed``."""

    status: str
    message: str = ""
    result: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[BulkOperation, BulkItem], Outcome]
FinishedHook = Callable[[BulkOperation], None]
_HANDLERS: dict[str, Handler] = {}
_ON_FINISHED: dict[str, FinishedHook] = {}


def register(kind: str, handler: Handler, on_finished: FinishedHook | None = None) -> None:
    """The kind's item handler and, optionally, its completion hook. The hook is called with the closed
    operation (status done or failed); it must be idempotent: a retry may close the operation again."""
    _HANDLERS[kind] = handler
    if on_finished is None:
        _ON_FINISHED.pop(kind, None)
    else:
        _ON_FINISHED[kind] = on_finished


def operation_key(kind: str, params: dict[str, Any]) -> str:
    return sha256_hex(canonical_json({"kind": kind, "params": params}))


def bulk_operation_start(
    *,
    organization,
    kind: str,
    title: str,
    params: dict[str, Any],
    subjects: Iterable[tuple[int, str]],
    requested_by=None,
) -> tuple[BulkOperation, list[BulkItem]]:
    """Start (or start again) the organisation's operation of this kind and parameters for the subjects
    (``(id, label)`` pairs). Starting again adds the subjects not in it yet and queues every item not
    done (pending, skipped or failed); done items stay done. Returns the operation and the items queued."""
    if kind not in _HANDLERS:
        raise ValueError(f"No bulk handler registered for {kind!r}")
    key = operation_key(kind, params)
    with transaction.atomic():
        operation, _ = BulkOperation.objects.select_for_update().get_or_create(
            organization=organization,
            key=key,
            defaults={"kind": kind, "title": title, "params": params, "requested_by": requested_by},
        )
        known = set(operation.items.values_list("subject_id", flat=True))
        BulkItem.objects.bulk_create(
            [
                BulkItem(operation=operation, subject_id=pk, label=label)
                for pk, label in subjects
                if pk not in known
            ]
        )
        queued = list(operation.items.exclude(status=BulkItemStatus.DONE).order_by("pk"))
        BulkItem.objects.filter(pk__in=[i.pk for i in queued]).update(
            status=BulkItemStatus.PENDING, message="", finished_at=None
        )
        _queue(operation, queued, requested_by)
    return operation, queued


def bulk_operation_retry_failed(*, operation: BulkOperation, requested_by=None) -> list[BulkItem]:
    """Queue the operation's failed items again, alone; the others are left as they are."""
    with transaction.atomic():
        operation = BulkOperation.objects.select_for_update().get(pk=operation.pk)
        queued = list(operation.items.filter(status=BulkItemStatus.FAILED).order_by("pk"))
        BulkItem.objects.filter(pk__in=[i.pk for i in queued]).update(
            status=BulkItemStatus.PENDING, message="", finished_at=None
        )
        _queue(operation, queued, requested_by)
    return queued


def _queue(operation: BulkOperation, items: list[BulkItem], requested_by) -> None:
    if not items:
        if operation.error:  # its completion hook failed: closing it again runs the hook again
            BulkOperation.objects.filter(pk=operation.pk).update(finished_at=None, error="")
        _close_if_finished(operation.pk)
        return
    operation.status = BulkStatus.RUNNING
    operation.started_at = timezone.now()
    operation.finished_at = None
    operation.error = ""
    if requested_by is not None:
        operation.requested_by = requested_by
    operation.save(update_fields=["status", "started_at", "finished_at", "error", "requested_by"])
    ids = [item.pk for item in items]
    transaction.on_commit(lambda: _send(ids))


def _send(item_ids: list[int], queue: str | None = None) -> None:
    """One Celery group, one task per item (on the heavy queue unless a test names its own)."""
    from celery import group

    from core.tasks import run_bulk_item

    group(run_bulk_item.si(item_id) for item_id in item_ids).apply_async(
        **({"queue": queue} if queue else {})
    )


def bulk_item_run(*, item_id: int) -> BulkItem | None:
    """Do one item's work (the Celery task's body). An item no longer pending is left alone, but its
    operation is closed if it is not yet (a worker lost between finishing the item and closing)."""
    item = BulkItem.objects.select_related("operation").filter(pk=item_id).first()
    if item is None:
        return None
    if item.status != BulkItemStatus.PENDING:
        if item.operation.finished_at is None:
            _close_if_finished(item.operation_id)
        return item
    BulkItem.objects.filter(pk=item_id).update(attempts=F("attempts") + 1)
    try:
        outcome = _HANDLERS[item.operation.kind](item.operation, item)
    except OperationalError:
        raise  # the database: the task retries
    except ApplicationError as exc:
        outcome = Outcome(BulkItemStatus.FAILED, exc.message)
    except Exception as exc:
        logger.exception("Bulk item %s (%s) stopped", item_id, item.operation.kind)
        outcome = Outcome(
            BulkItemStatus.FAILED, ITEM_FAILED_MESSAGE.format(error=f"{type(exc).__name__}: {exc}")
        )
    BulkItem.objects.filter(pk=item_id, status=BulkItemStatus.PENDING).update(
        status=outcome.status,
        message=outcome.message[:500],
        result=outcome.result,
        finished_at=timezone.now(),
    )
    _close_if_finished(item.operation_id)
    item.refresh_from_db()
    return item


def _close_if_finished(operation_id: int) -> None:
    """The operation is finished once no item is pending; the lock on its row makes the last two items
    to finish agree on which one closes it, so the kind's completion hook runs once, by that one, at the
    end of the same transaction (a worker lost in it leaves the operation open, and the item's redelivered
    message closes it). The hook runs in a savepoint: if it raises, its writes are undone and the
    operation is failed with the reason instead."""
    with transaction.atomic():
        operation = BulkOperation.objects.select_for_update().get(pk=operation_id)
        counts = bulk_counts(operation)
        if counts[BulkItemStatus.PENDING] or operation.finished_at is not None:
            return
        operation.status = BulkStatus.FAILED if counts[BulkItemStatus.FAILED] else BulkStatus.DONE
        operation.finished_at = timezone.now()
        operation.error = ""
        operation.save(update_fields=["status", "finished_at", "error"])
        hook = _ON_FINISHED.get(operation.kind)
        if hook is None:
            return
        try:
            with transaction.atomic():
                hook(operation)
        except OperationalError:
            raise  # the database: the whole close is undone and the task retries
        except Exception as exc:
            logger.exception("Finishing bulk operation %s (%s) stopped", operation_id, operation.kind)
            operation.status = BulkStatus.FAILED
            operation.error = FINISH_FAILED_MESSAGE.format(error=f"{type(exc).__name__}: {exc}")[:2000]
            operation.save(update_fields=["status", "error"])


def bulk_counts(operation: BulkOperation) -> dict[str, int]:
    """Items per status (every status present, zero if none)."""
    counts = dict.fromkeys(BulkItemStatus.values, 0)
    for row in operation.items.values("status").annotate(n=Count("pk")):
        counts[row["status"]] = row["n"]
    return counts
