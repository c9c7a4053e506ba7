"""schemathesis against the live OpenAPI schema: every operation, with a trade token and seeded
objects, must never answer 5xx and must answer what the schema says (status, type, body)."""

from __future__ import annotations

import functools
import json
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import override_settings
from drf_spectacular.generators import SchemaGenerator
from schemathesis.generation.hypothesis.examples import generate_one
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts import tokens
from accounts.tests.factories import make_user
from bots import actions
from bots.tests.conftest import paper_account_for
from bots.tests.factories import grid_config
from bots.tests.test_engine import started
from bots.webhooks import actions as webhook_actions
from exchanges.paper import market

CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
# Bybit accounts the fuzzer invents point at venues this closed machine cannot reach: their
# documented 502/503 (code exchange_*) is the right answer. Every other 5xx is a failure.
VENUE_ERRORS = (502, 503)
EXAMPLES = 10
# The seeded webhook endpoint: a local port nothing listens on, so a ping never leaves the machine.
CLOSED_LOCAL_URL = "http://127.0.0.1:9/gridwise"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
# Plain WSGI in-process: the requests run on the test's own connection and transaction.
application = get_wsgi_application()


def _operations() -> list[tuple[str, str]]:
    """Listed from the generator at collection; the test itself loads the schema over HTTP."""
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    return [(path, method.upper()) for path, methods in paths.items() for method in methods]


@functools.cache
def _live_schema() -> Any:
    """Served by the app itself, once per run: generating it takes a second."""
    return schemathesis.openapi.from_wsgi("/api/schema/", application)


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Iterator[None]:
    """A WSGI request closes old connections when it ends, which would close the test's own
    (and its transaction); Django's test client keeps it the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _no_dns_for_invented_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Webhook URLs the fuzzer invents would be looked up by the SSRF guard; on this closed
    machine they resolve to nothing, so answer that at once and ask no resolver. The schema's
    own example host resolves to a public address, so its create succeeds (nothing is sent)."""
    real = socket.getaddrinfo

    def resolve(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in LOOPBACK_NAMES or host is None:
            return real(host, port, *args, **kwargs)
        if host == "example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


@dataclass(frozen=True)
class Seeded:
    token: str
    ids: dict[str, int]


@pytest.fixture
def seeded(db: None) -> Seeded:
    """A trader with a paper account, a running bot with fills and a draft bot, so object
    endpoints meet real objects."""
    market.set_price("BTCUSDT", Decimal("54000"))
    owner = make_user(email="schema@example.com")
    account = paper_account_for(owner)
    running = started(actions.do_create_bot(owner, account, "Running", grid_config(), Decimal("54000")))
    market.set_price("BTCUSDT", Decimal("52900"))
    draft = actions.do_create_bot(owner, account, "Draft", grid_config(), Decimal("54000"))
    hook = webhook_actions.do_create_endpoint(owner, url=CLOSED_LOCAL_URL, events=["order.filled"])
    webhook_actions.do_send_ping(hook)  # a delivery for the log (queued after a commit that never comes)
    issued = tokens.do_create_token(owner, "schemathesis", ["read", "trade"])
    ids = {"running": running.pk, "draft": draft.pk, "account": account.pk, "webhook": hook.pk}
    return Seeded(issued.plaintext, ids)


def _path_parameters(path: str, seeded: Seeded) -> dict[str, Any]:
    if "{id}" not in path:
        return {}
    if path.startswith("/api/v1/exchange-accounts/"):
        return {"id": seeded.ids["account"]}
    if path.startswith("/api/v1/webhooks/"):
        return {"id": seeded.ids["webhook"]}
    # Endpoints that change a bot get the draft; reads get the bot that has traded.
    changes = path.endswith(("/start/", "/stop/", "/emergency-stop/")) or path == "/api/v1/bots/{id}/"
    return {"id": seeded.ids["draft" if changes else "running"]}


@pytest.mark.slow
@pytest.mark.parametrize(("path", "method"), _operations())
@override_settings(
    API_THROTTLE_RATES={"token": "100000/min", "user": "100000/min", "anon": "100000/min"},
    # At most two key checks reach out to a venue; later ones get the documented 429.
    ACCOUNT_RATE_LIMITS={**settings.ACCOUNT_RATE_LIMITS, "exchange_key_check": "2/h/user"},
)
def test_operation_matches_its_schema(seeded: Seeded, path: str, method: str) -> None:
    operation = _live_schema()[path][method]
    headers = {"Authorization": f"Bearer {seeded.token}"}
    strategy = operation.as_strategy(path_parameters=_path_parameters(path, seeded))

    @hypothesis.settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    @hypothesis.given(case=strategy)
    def check(case: Any) -> None:
        _call_and_validate(case, headers)

    check()
    # The schema's own request examples too, so documented happy paths (a create) are held to
    # the schema, not left to the fuzzer's luck.
    for example in operation.get_strategies_from_examples(path_parameters=_path_parameters(path, seeded)):
        _call_and_validate(generate_one(example), headers)


def _call_and_validate(case: Any, headers: dict[str, str]) -> None:
    response = case.call(headers=headers)
    if response.status_code >= 500:
        assert response.status_code in VENUE_ERRORS, case.as_curl_command(headers)
        assert response.json()["error"]["code"].startswith("exchange_"), response.text
    case.validate_response(response, checks=CHECKS, headers=headers)


def test_schema_and_docs_are_served(db: None) -> None:
    from django.test import Client

    client = Client()
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    document = json.loads(schema.content)
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    preview = document["paths"]["/api/v1/bots/preview/"]["post"]
    assert preview["description"]
    assert {"200", "400", "401", "403"} <= set(preview["responses"])
    assert preview["requestBody"]["content"]["application/json"]["examples"]
    assert client.get("/api/docs/").status_code == 200
    assert client.get("/api/redoc/").status_code == 200


def test_every_operation_documents_examples_and_errors() -> None:
    document = SchemaGenerator().get_schema(request=None, public=True)
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            where = f"{method.upper()} {path}"
            assert operation.get("description"), where
            assert any(code.startswith(("4", "5")) for code in operation["responses"]), where
            success = next(r for code, r in operation["responses"].items() if code.startswith("2"))
            if "content" in success and "export" not in path:
                assert any("examples" in c for c in success["content"].values()), where
            if method in ("put", "patch") or (method == "post" and "requestBody" in operation):
                body = operation.get("requestBody", {}).get("content", {})
                assert not body or any("examples" in c for c in body.values()), where


def test_swagger_ui_and_redoc_load_only_our_own_static_files(db: None) -> None:
    from django.contrib.staticfiles import finders
    from django.test import Client

    client = Client()
    for page, expected in (("/api/docs/", "swagger-ui-bundle.js"), ("/api/redoc/", "redoc.standalone.js")):
        html = client.get(page).content.decode()
        assert "jsdelivr" not in html, page
        assert "googleapis" not in html, page
        urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
        urls += re.findall(r"""["'](https?://[^"']+)["']""", html)
        assert any(url.endswith(expected) for url in urls), (page, urls)
        for url in urls:
            assert not url.startswith(("http:", "https:", "//")), (page, url)
            if url.startswith(settings.STATIC_URL):
                assert finders.find(url.removeprefix(settings.STATIC_URL)), url
