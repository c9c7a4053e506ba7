from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from django.test import Client, override_settings

ROOT = Path(__file__).resolve().parents[2]
DEAD_REDIS = "redis://127.0.0.1:1/0"


def healthz(client: Client) -> Any:
    """Asked from a thread of its own, as a server's request thread is: a browser test earlier in
    the same worker leaves Playwright's event loop running on this thread, where the channel
    layer's check (async_to_sync) refuses to run."""

    def ask() -> Any:
        try:
            return client.get("/healthz")
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(ask).result()


@pytest.mark.django_db
def test_healthz_is_green_with_every_dependency_up(client: Client) -> None:
    response = healthz(client)
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "channel_layer": True,
        "broker": True,
    }


@pytest.mark.django_db
def test_healthz_is_red_when_the_channel_layer_is_down(client: Client) -> None:
    layers = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [DEAD_REDIS]}}
    }
    with override_settings(CHANNEL_LAYERS=layers):
        response = healthz(client)
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "fail"
    assert body["checks"]["channel_layer"]["ok"] is False
    assert "onnect" in body["checks"]["channel_layer"]["detail"]
    assert body["checks"]["database"]["ok"] is True


@pytest.mark.django_db
def test_healthz_is_red_when_the_broker_is_down(client: Client) -> None:
    with override_settings(CELERY_BROKER_URL=DEAD_REDIS):
        response = healthz(client)
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False
    assert response.json()["checks"]["broker"]["detail"]


def test_healthz_is_red_when_the_database_is_down() -> None:
    script = (
        "import django, json; django.setup(); from django.test import Client; "
        "r = Client(HTTP_HOST='localhost').get('/healthz'); "
        "print(json.dumps({'status': r.status_code, 'body': r.json()}))"
    )
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://postgres@127.0.0.1:1/gridwise",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["status"] == 503
    assert outcome["body"]["checks"]["database"]["ok"] is False
    assert outcome["body"]["checks"]["channel_layer"]["ok"] is True
