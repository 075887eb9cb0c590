"""Schemathesis over the served `/openapi.yaml` against the live server (abuse).

Schemathesis (a fuzzer other people wrote) generates requests from the document — valid ones,
boundary values and invalid ones — and checks every answer: no 5xx, and the status code, content
type and body are the ones the document promises. Two runs, so that the fuzzer gets past
authentication: the end-user and OAuth faces with a user's bearer token, and the PowerAuth
integration API with an integration user's Basic credentials. Each run is bounded in cases
(`SCHEMATHESIS_EXAMPLES` per operation, default 20; about 20 s per run, 40 s per database; one worker) and
seeded, so CI reruns the same cases whatever the machine's speed; set SCHEMATHESIS_SEED (and
SCHEMATHESIS_EXAMPLES) to explore others.

A failure prints schemathesis' report with a curl command reproducing each failing case.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "20"))
SECONDS = 120  # a bound on each run, far above what it takes (about 12 s)
SEED = os.environ.get("SCHEMATHESIS_SEED", "20261124")
CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
])
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


# One worker: with two, schemathesis' threads describe Hypothesis strategies at once, and CPython
# 3.11's ast.parse is not safe across threads there — "SystemError: AST constructor recursion
# depth mismatch" ended a run (a "Runtime Error", not a finding) once in CI and once for a helper.
def run(server, *args):
    if not SCHEMATHESIS.exists():
        pytest.fail(f"{SCHEMATHESIS} is missing: install conformance/requirements.txt (scripts/test does)")
    command = [str(SCHEMATHESIS), "run", server.url("/openapi.yaml"), "--url", server.base,
               "--checks", CHECKS, "--seed", SEED, "--max-examples", str(EXAMPLES), "--workers", "1",
               "--phases", "examples,coverage,fuzzing", "--generation-database", "none",
               "--request-timeout", "10", "--no-color", "--suppress-health-check", "all",
               "--warnings", "off", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=SECONDS + 120, cwd=server.workdir,
                            env={**os.environ, "SCHEMATHESIS_HOOKS": ""})
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"schemathesis found problems ({' '.join(args)}):\n{output[-20000:]}"
    return output


@pytest.fixture(scope="module")
def user_token(server):
    client = server.create_client("fuzz")
    username, _ = server.create_user("fuzz", "fuzz-password")
    token = requests.post(server.url("/oauth/token"), auth=client, timeout=10,
                          data={"grant_type": "password", "username": username, "password": "fuzz-password"})
    assert token.status_code == 200, token.text
    return token.json()["access_token"]


@pytest.fixture(scope="module")
def integration_user(server):
    app_id = server.unique("fuzz-app")
    server.cli("apps", "create", "--id", app_id)
    created = server.cli("integration-users", "create", "--name", server.unique("fuzz-user"), "--app", app_id)
    return created["name"], created["password"]


def test_schemathesis_user_and_oauth_faces(server, user_token):
    run(server, "--exclude-path-regex", "^/powerauth-cloud/", "--header", f"Authorization: Bearer {user_token}")


def test_schemathesis_powerauth_integration_api(server, integration_user):
    name, password = integration_user
    run(server, "--include-path-regex", "^/powerauth-cloud/", "--auth", f"{name}:{password}")


def test_nul_characters_are_bad_input_on_every_face(server, integration_user):
    """PostgreSQL cannot store NUL in text (schemathesis found the 500 this was): a 4xx in the
    face's own error format, on SQLite and PostgreSQL alike."""
    name, password = integration_user
    client = server.create_client("nul")
    nul = "x\u0000y"
    answers = {
        "registration": requests.post(server.url("/powerauth-cloud/v2/registrations"), auth=(name, password), timeout=10,
                                      json={"userId": nul, "appId": nul}),
        "operation": requests.post(server.url("/powerauth-cloud/v2/operations"), auth=(name, password), timeout=10,
                                   json={"userId": nul, "template": "default.login"}),
        "password grant": requests.post(server.url("/oauth/token"), auth=client, timeout=10,
                                        data={"grant_type": "password", "username": nul, "password": nul}),
        "process": requests.post(server.url("/api/v1/processes"), timeout=10, json={
            "clientId": client[0], "clientSecret": client[1], "clientReferences": [{"clientReference": nul}],
            "processId": "USER_ONLY"}),
        "action request": requests.post(server.url("/v2/authentication/oauth2/action_request"), timeout=10, json={
            "action": "bank:transfers:create", "client_id": client[0], "client_secret": client[1], "uid": nul,
            "payload": {"note": nul}}),
        "poll": requests.get(server.url("/v2/authentication/oauth2/action_request/%00/poll"), timeout=10,
                             params={"client_id": client[0], "client_secret": client[1]}),
        "login challenge": requests.get(server.url("/session/loginchallenge"), timeout=10,
                                        params={"accountNumber": nul, "cardNumber": "1", "accessToolUsage": "SOFTTOKEN"}),
    }
    for what, response in answers.items():
        assert 400 <= response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"


def test_schemathesis_admin_api(server):
    """The admin API (docs/admin-api.md) with an admin client's token, in a realm of its own so that
    what the fuzzer disables or deletes is only ever its own (404 for everything else)."""
    realm = server.unique("fuzz-realm").lower()
    server.cli("realms", "create", "--id", realm)
    created = server.cli("clients", "create", "--id", server.unique("fuzz-admin"), "--scopes", "admin", "--realm", realm)
    token = requests.post(server.url("/oauth/token"), auth=(created["clientId"], created["clientSecret"]), timeout=10,
                          data={"grant_type": "client_credentials", "scope": "admin"})
    assert token.status_code == 200, token.text
    run(server, "--include-path-regex", "^/admin/v1/", "--header", f"Authorization: Bearer {token.json()['access_token']}")
