"""No bus over HTTP (bus.py): the service is ready once the model is loaded."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_readyz(client: TestClient) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready"}
