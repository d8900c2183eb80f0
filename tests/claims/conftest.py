"""Claims fixtures: uploads go under the test's tmp_path."""

from __future__ import annotations

from tests.fixtures.contracts import media_in_tmp

_media = media_in_tmp()
