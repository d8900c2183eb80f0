"""The Celery app: configured from Django settings (``CELERY_*``), tasks found in each app's tasks.py.

The request id of the request that sends a task travels in the message and is logged by the task
(core.observability); task durations and outcomes go to the metrics; a worker serves its metrics on
WORKER_METRICS_PORT when that is set."""

import os

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun, worker_ready

from core import observability

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("carebundle")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

before_task_publish.connect(observability.carry_request_id, weak=False)
task_prerun.connect(observability.task_started, weak=False)
task_postrun.connect(observability.task_finished, weak=False)


@worker_ready.connect(weak=False)
def serve_worker_metrics(**_) -> None:
    from django.conf import settings

    from core import metrics

    if settings.WORKER_METRICS_PORT:
        metrics.serve(settings.WORKER_METRICS_PORT)
