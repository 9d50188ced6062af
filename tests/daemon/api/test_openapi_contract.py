"""The API does what its OpenAPI spec says: schemathesis against a real daemon on loopback.

Every operation is called with generated requests, valid and invalid, and each answer is
checked against the spec the daemon serves: its status code is declared, its content type
is declared, its body matches the declared schema (the error document for every error), it
is not a server error, and a method the spec does not list for a path answers 405 with an
`Allow` header naming exactly the spec's methods. A route that answers a code it does not
declare, or a declaration that drifts from its handler, fails here.

The daemon is this module's own: generated requests teach facts, write memories, rename
and delete sessions and pause the index, so they must not reach a daemon other tests share.
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from schemathesis import Case

from tests.support.daemon import RunningDaemon, start_daemon

pytestmark = pytest.mark.slow  # a daemon process of its own

# Operations left out, each with why. Everything else runs, including the ones that can only
# answer an error in this daemon (no adapters, no training runs, no watched folders).
EXCLUDED = {
    "POST /api/train": "starts a training run: minutes of CPU, then a new adapter is loaded",
    "POST /api/models/use": "loads another chat model (or asks Ollama for one): slow, and "
    "every later case would run on it",
    "POST /api/folders": "a generated path such as '/' or '.' is a real folder: the daemon "
    "would watch and index it",
    "GET /api/index/events": "an endless event stream: it ends only when the client leaves",
}

# Each operation's share: the coverage phase's deterministic cases (each parameter's
# boundaries and wrong types, undeclared methods), then this many fuzzed ones.
MAX_EXAMPLES = 5
# Generated answers stop after this many tokens: the contract is the answer's shape, and a
# whole answer of the default model takes seconds on a busy CPU.
ANSWER_TOKENS = 2
GENERATING = {"POST /api/ask", "POST /v1/chat/completions"}


def _config(token: str) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "headers": {"Authorization": f"Bearer {token}"},
            "request-timeout": 60,
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,  # the same cases on every run and machine
                "database": "none",  # no example database: nothing is replayed or stored
            },
            "checks": {
                "enabled": False,
                "not_a_server_error": {"enabled": True},
                "status_code_conformance": {"enabled": True},
                "content_type_conformance": {"enabled": True},
                "response_schema_conformance": {"enabled": True},
                "response_headers_conformance": {"enabled": True},
                "unsupported_method": {"enabled": True},
                "allow_header_conformance": {"enabled": True},
            },
        }
    )


@pytest.fixture(scope="module")
def contract_daemon(tmp_path_factory: pytest.TempPathFactory) -> RunningDaemon:
    # One llama.cpp thread: its threads spin while they wait for each other, and on busy
    # cores a single one answers the short generations here sooner.
    home = tmp_path_factory.mktemp("cove-contract")
    running = start_daemon(home, config="[model]\nthreads = 1\n")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def api_spec(contract_daemon: RunningDaemon):
    """The spec the daemon serves, tested with the daemon's token."""
    url = f"{contract_daemon.url}/openapi.json"
    return schemathesis.openapi.from_url(url, config=_config(contract_daemon.token))


# Filters go on the lazy schema: they replace those of the schema the fixture returns.
schema = schemathesis.pytest.from_fixture("api_spec").exclude(name=list(EXCLUDED))


def _short_answer(case: Case) -> None:
    """Cap a generated answer at ANSWER_TOKENS (a body that is not an object answers 400
    before anything is generated)."""
    if case.operation.label in GENERATING and isinstance(case.body, dict):
        case.body["max_tokens"] = ANSWER_TOKENS
        case.body.pop("max_completion_tokens", None)


@schema.parametrize()
def test_the_daemon_answers_as_its_spec_says(case: Case) -> None:
    _short_answer(case)
    case.call_and_validate()


def test_every_error_is_declared_with_the_error_document(contract_daemon: RunningDaemon):
    """Each operation declares 401 and 421 (the token and the Host guards), each error it
    declares has the error document as its body, and no 422 is left: validation answers 400."""
    spec = httpx.get(f"{contract_daemon.url}/openapi.json").json()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            answers = operation["responses"]
            assert {"401", "421"} <= set(answers), (method, path)
            assert "422" not in answers, (method, path)
            for status, answer in answers.items():
                if int(status) >= 400:
                    body = answer["content"]["application/json"]["schema"]
                    assert body == {"$ref": "#/components/schemas/ErrorDocument"}, (method, path)


def test_a_method_a_path_lacks_is_405_naming_all_the_paths_methods(
    contract_daemon: RunningDaemon,
):
    """Allow lists every method of the path, not only the first route's, and a literal path
    wins over a template: /api/adapters/rollback is POST only."""
    headers = {"Authorization": f"Bearer {contract_daemon.token}"}
    expected = {
        "/api/sessions/s_0": "DELETE, GET, PATCH",
        "/api/messages/m_0/feedback": "DELETE, PUT",
        "/api/adapters/rollback": "POST",
        "/api/index/events": "GET",
    }
    for path, allow in expected.items():
        response = httpx.request("OPTIONS", contract_daemon.url + path, headers=headers)
        assert response.status_code == 405, path
        assert response.headers["allow"] == allow, path
        assert response.json()["error"]["code"] == "http_405"
    # POST /api/index/status reaches POST /api/index/{action} and fails its validation; the
    # literal GET path is still the one it names.
    for path in ("/api/index/status", "/api/index/errors"):
        response = httpx.post(contract_daemon.url + path, headers=headers)
        assert response.status_code == 405, path
        assert response.headers["allow"] == "GET", path
        assert response.json()["error"]["code"] == "http_405"
    not_an_action = httpx.post(contract_daemon.url + "/api/index/reindex", headers=headers)
    assert not_an_action.status_code == 400  # no path of the spec names it: a bad action
