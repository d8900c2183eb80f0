"""Login throttling: django-axes, tolerant of callers that pass no request.

Every login path a person can reach (the login page, POST /api/v1/auth/token/) passes the request,
so lockouts apply there. Calls without a request (the test client's login(), management
commands) are not throttled rather than refused.
"""

from axes.backends import AxesStandaloneBackend


class LockoutBackend(AxesStandaloneBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
