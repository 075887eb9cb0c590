"""finAPI process controller (finAPI's API documentation, docs/processes.md) against the live server: finAPI's two steps
with `requests`, the access token verified the way a resource server would (pyjwt against the
JWKS), the limit of 10 exchanges, invalidate=true, and client authentication."""
import concurrent.futures

import jwt
import pytest
import requests


@pytest.fixture(scope="module")
def client(server):
    return server.create_client("processes")


@pytest.fixture(scope="module")
def jwks_client(server):
    return jwt.PyJWKClient(server.url("/.well-known/jwks.json"), cache_keys=True)


def create(server, client, references, process_id="USER_ONLY"):
    client_id, client_secret = client
    # finAPI's request body, literally.
    return requests.post(server.url("/api/v1/processes"), timeout=10, json={
        "clientId": client_id, "clientSecret": client_secret,
        "clientReferences": [{"clientReference": reference} for reference in references],
        "processId": process_id})


def process_tokens(server, client, references):
    response = create(server, client, references)
    assert response.status_code == 201, response.text
    processes = response.json()["processes"]
    assert [process["clientReference"] for process in processes] == references
    return [process["processToken"] for process in processes]


def exchange(server, token, invalidate=None):
    params = {} if invalidate is None else {"invalidate": invalidate}
    return requests.get(server.url(f"/api/v1/processes/{token}"), params=params, timeout=10)


def test_seed_002_process_then_access_token_verified_at_the_jwks(server, client, jwks_client):
    [token] = process_tokens(server, client, ["<customer-reference>"])
    response = exchange(server, token, invalidate="false")
    assert response.status_code == 200, response.text
    assert response.headers.get("Cache-Control") == "no-store"
    assert list(response.json()) == ["accessToken"]
    access_token = response.json()["accessToken"]

    issuer = requests.get(server.url("/.well-known/oauth-authorization-server"), timeout=10).json()["issuer"]
    header = jwt.get_unverified_header(access_token)
    assert header["alg"] == "ES256" and header.get("kid")
    key = jwks_client.get_signing_key_from_jwt(access_token)
    claims = jwt.decode(access_token, key.key, algorithms=["ES256"], issuer=issuer,
                        options={"verify_aud": False, "require": ["exp", "iat", "iss", "sub"]})
    assert claims["client_id"] == client[0]
    assert claims["amr"] == ["process"]

    # The identity behind it: a finAPI user of this client, and an active token on introspection.
    me = requests.get(server.url("/api/v2/users"), headers={"Authorization": f"Bearer {access_token}"}, timeout=10)
    assert me.status_code == 200, me.text
    assert me.json()["id"].startswith("process:")
    introspection = requests.post(server.url("/oauth/introspect"), auth=client, data={"token": access_token}, timeout=10)
    assert introspection.json()["active"] is True and introspection.json()["sub"] == claims["sub"]


def test_ten_exchanges_then_refused_even_concurrently(server, client):
    [sequential, parallel] = process_tokens(server, client, ["sequential", "parallel"])
    for _ in range(10):
        assert exchange(server, sequential).status_code == 200
    eleventh = exchange(server, sequential)
    assert eleventh.status_code == 404, eleventh.text
    assert eleventh.headers["Content-Type"].startswith("application/problem+json")

    with concurrent.futures.ThreadPoolExecutor(max_workers=15) as pool:
        codes = list(pool.map(lambda _: exchange(server, parallel).status_code, range(30)))
    assert codes.count(200) == 10 and codes.count(404) == 20, codes


def test_invalidate_true_returns_the_token_once_more_then_ends_the_process(server, client):
    [token] = process_tokens(server, client, ["invalidate"])
    assert exchange(server, token).status_code == 200
    last = exchange(server, token, invalidate="true")
    assert last.status_code == 200 and last.json()["accessToken"]
    assert exchange(server, token).status_code == 404
    assert exchange(server, token, invalidate="true").status_code == 404
    # An unknown token gets the same answer as an ended one.
    unknown = exchange(server, "sa_pt_" + "A" * 43)
    assert unknown.status_code == 404 and unknown.json()["detail"] == exchange(server, token).json()["detail"]


def test_client_authentication_and_bad_input(server, client):
    client_id, _ = client
    wrong = create(server, (client_id, "sa_cs_not-the-secret"), ["r"])
    assert wrong.status_code == 401, wrong.text
    assert wrong.headers["Content-Type"].startswith("application/problem+json")
    assert create(server, client, []).status_code == 400
    assert create(server, client, ["same", "same"]).status_code == 400
    assert create(server, client, [f"r{index}" for index in range(101)]).status_code == 400
    assert create(server, client, ["r"], process_id="").status_code == 400
    missing = requests.post(server.url("/api/v1/processes"), timeout=10, json={
        "clientId": client_id, "clientSecret": client[1], "clientReferences": [{"clientReference": "r"}]})
    assert missing.status_code == 400, missing.text
    assert exchange(server, "sa_pt_x", invalidate="sometimes").status_code == 400
