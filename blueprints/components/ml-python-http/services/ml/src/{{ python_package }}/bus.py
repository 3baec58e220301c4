"""How requests reach this service: over HTTP, from the gateway straight to its API (`main.py`).

No message bus stands in between, so the hooks that `settings.py` and `main.py` call
are empty: no settings beyond the service's own (`BusSettings`), nothing to hold open
while the app runs (`connect`), nothing for `/readyz` to check beyond the model
(`check_ready`). Generated for another transport, this module holds its bus's settings
and client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from pydantic_settings import BaseSettings

if TYPE_CHECKING:
    from fastapi import FastAPI


class BusSettings(BaseSettings):
    """No settings of its own."""


@asynccontextmanager
async def connect(app: FastAPI, settings: BusSettings) -> AsyncIterator[None]:
    """Nothing to open."""
    yield


async def check_ready(app: FastAPI) -> None:
    """Nothing to check."""
