"""The fixtures of the bus (a pytest plugin: `pytest_plugins` in conftest.py).

Over HTTP there is none: the tests' settings need nothing more."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def bus_settings() -> dict[str, Any]:
    """What `make_settings` adds to the settings of each test: nothing."""
    return {}
