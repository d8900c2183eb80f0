"""The test suite's settings: the development defaults (pyproject.toml's pytest section names this module).

Setting the variable here, not only in the Makefile, keeps a bare ``pytest`` working; processes the
tests start (Celery workers, servers) inherit it with the rest of the environment.
"""

import os

os.environ.setdefault("CAREBUNDLE_ENV", "development")

from config.settings import *  # noqa: E402, F403
