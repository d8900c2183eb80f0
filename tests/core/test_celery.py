"""A round trip through the configured broker (Redis in CI) and a real worker process."""

import pytest

from core.tasks import echo


@pytest.mark.worker
def test_round_trip_through_a_real_worker(celery_worker):
    result = echo.delay("hello palliative care")
    assert result.get(timeout=30) == "hello palliative care"
