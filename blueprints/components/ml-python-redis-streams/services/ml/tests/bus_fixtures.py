"""The fixtures of Redis Streams (a pytest plugin: `pytest_plugins` in conftest.py)."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis


@pytest.fixture
def bus_settings() -> dict[str, Any]:
    """What `make_settings` adds: a stream prefix of the test's own, so tests can run in
    parallel, and REDIS_URL when it is set (else a port nothing listens on)."""
    return {
        "stream_prefix": f"test-{uuid.uuid4().hex}",
        "redis_url": os.environ.get("REDIS_URL", "redis://127.0.0.1:1/0"),
    }


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a Redis server for the whole session: REDIS_URL when it is set,
    else a redis-server started here on a free loopback port, with a password.

    A missing redis-server is an error, never a skip: `make test` would pass
    without testing the worker."""
    url = os.environ.get("REDIS_URL")
    if url:
        with redis.Redis.from_url(url, socket_timeout=3) as client:
            try:
                client.ping()
            except redis.RedisError as exc:
                pytest.fail(f"REDIS_URL is set but Redis does not answer: {exc}", pytrace=False)
        yield url
        return
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail(
            "redis-server is not on PATH and REDIS_URL is not set: the Redis tests need "
            "one (apt install redis-server, brew install redis), or set REDIS_URL",
            pytrace=False,
        )
    directory = tmp_path_factory.mktemp("redis")
    password = secrets.token_hex(16)
    for _ in range(5):  # another process may take the free port first
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        config = directory / "redis.conf"
        config.write_text(
            f'port {port}\nbind 127.0.0.1\nrequirepass {password}\nsave ""\n'
            f"appendonly no\ndir {directory}\n"
        )
        process = subprocess.Popen(  # noqa: S603
            [server, str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        url = f"redis://:{password}@127.0.0.1:{port}/0"
        client = redis.Redis.from_url(url, socket_timeout=1)
        try:
            for _ in range(100):
                if process.poll() is not None:
                    break
                try:
                    client.ping()
                except redis.ConnectionError:
                    time.sleep(0.05)
                    continue
                yield url
                return
        finally:
            client.close()
            process.terminate()
            process.wait(timeout=10)
    pytest.fail(f"redis-server did not start ({server})", pytrace=False)


@pytest.fixture
def redis_url(redis_server: str) -> str:
    return redis_server
