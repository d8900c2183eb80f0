"""Claims tasks: each takes an id and calls one service; idempotent."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from claims import services


@shared_task(
    name="claims.process_claims_upload",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def process_claims_upload(upload_id: int) -> str:
    """Read and load a claims file too large to read in the request. An upload already accepted or
    rejected is left alone; one interrupted by a crash (still ``processing``) is read again."""
    upload = services.claims_upload_process(upload_id=upload_id)
    return upload.status if upload is not None else "missing"


@shared_task(
    name="claims.compute_completion",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def compute_completion(payer_id: int, upload_id: int) -> str:
    """Fit the plan's completion factors as of an accepted claims file; a second delivery changes nothing."""
    run = services.completion_compute(payer_id=payer_id, upload_id=upload_id)
    return run.status if run is not None else "missing"
