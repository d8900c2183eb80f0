from celery import shared_task


@shared_task(name="core.echo")
def echo(value: str) -> str:
    """A round trip through the broker and a worker: health checks and the CI test use it."""
    return value
