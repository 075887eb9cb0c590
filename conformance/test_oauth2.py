"""OAuth 2.0 conformance, driven by authlib (the client integrators run) and pyjwt (a resource
server verifying our tokens against our JWKS). Named after the RFC sections they check."""
import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.integrations.base_client.errors import OAuthError as AuthlibOAuthError


@pytest.fixture(scope="module")
def client(server):
    return server.create_client("authlib")


@pytest.fixture(scope="module")
def metadata(server):
    response = requests.get(server.url("/.well-known/oauth-authorization-server"))
    assert response.status_code == 200
    return response.json()


def verify_with_jwks(server, metadata, token):
    """What a resource server does: fetch the JWKS, pick the key by kid, check ES256 and claims."""
    jwks_client = jwt.PyJWKClient(metadata["jwks_uri"].replace(metadata["issuer"], server.base))
    key = jwks_client.get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=["ES256"], issuer=metadata["issuer"], options={"verify_aud": False})


def test_rfc8414_metadata(server, metadata):
    assert metadata["issuer"] == server.base
    assert metadata["token_endpoint"] == server.base + "/oauth/token"
    for field in ("jwks_uri", "introspection_endpoint", "revocation_endpoint"):
        assert metadata[field].startswith(server.base)
    assert {"client_credentials", "password", "refresh_token"} <= set(metadata["grant_types_supported"])


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
@pytest.mark.parametrize("path", ["/oauth/token", "/api/v2/oauth/token"])
def test_rfc6749_4_4_client_credentials_with_authlib(server, client, metadata, auth_method, path):
    client_id, secret = client
    session = OAuth2Session(client_id, secret, token_endpoint_auth_method=auth_method, scope="accounts")
    token = session.fetch_token(server.url(path), grant_type="client_credentials")
    assert token["token_type"].lower() == "bearer"
    assert isinstance(token["expires_in"], int)
    assert "refresh_token" not in token

    header = jwt.get_unverified_header(token["access_token"])
    assert header["alg"] == "ES256" and header["kid"]
    claims = verify_with_jwks(server, metadata, token["access_token"])
    assert claims["client_id"] == client_id
    assert claims["sub"] == client_id
    assert "accounts" in claims["scope"].split()
    assert isinstance(claims["exp"], int) and isinstance(claims["iat"], int)


def test_rfc6749_4_3_password_and_6_refresh_with_authlib(server, client, metadata):
    client_id, secret = client
    username, user_id = server.create_user("pw", "correct horse battery")
    session = OAuth2Session(client_id, secret, scope="accounts")
    token = session.fetch_token(server.url("/oauth/token"), username=username, password="correct horse battery")
    assert token["refresh_token"].startswith("sa_rt_")
    claims = verify_with_jwks(server, metadata, token["access_token"])
    assert claims["sub"] == user_id
    assert claims["amr"] == ["pwd"]

    first_refresh = token["refresh_token"]
    refreshed = session.refresh_token(server.url("/oauth/token"), refresh_token=first_refresh)
    assert refreshed["refresh_token"] != first_refresh
    verify_with_jwks(server, metadata, refreshed["access_token"])

    # RFC 6819 §5.2.2.3: a spent refresh token presented again revokes the whole family.
    reuse = requests.post(server.url("/oauth/token"), auth=(client_id, secret),
                          data={"grant_type": "refresh_token", "refresh_token": first_refresh})
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    family = requests.post(server.url("/oauth/token"), auth=(client_id, secret),
                           data={"grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"]})
    assert family.status_code == 400 and family.json()["error"] == "invalid_grant"
    with pytest.raises(AuthlibOAuthError) as raised:
        OAuth2Session(client_id, secret).refresh_token(server.url("/oauth/token"), refresh_token=refreshed["refresh_token"])
    assert raised.value.error == "invalid_grant"


def test_rfc7662_introspection_and_rfc7009_revocation(server, client):
    client_id, secret = client
    session = OAuth2Session(client_id, secret)
    token = session.fetch_token(server.url("/oauth/token"), grant_type="client_credentials")["access_token"]

    active = requests.post(server.url("/oauth/introspect"), auth=(client_id, secret), data={"token": token})
    assert active.status_code == 200
    body = active.json()
    assert body["active"] is True
    assert body["client_id"] == client_id and body["sub"] == client_id
    assert isinstance(body["exp"], int) and isinstance(body["iat"], int)
    assert body["token_type"] == "Bearer"

    garbage = requests.post(server.url("/oauth/introspect"), auth=(client_id, secret), data={"token": "garbage"})
    assert garbage.json() == {"active": False}

    revoked = session.revoke_token(server.url("/oauth/revoke"), token=token, token_type_hint="access_token")
    assert revoked.status_code == 200
    after = requests.post(server.url("/oauth/introspect"), auth=(client_id, secret), data={"token": token})
    assert after.json() == {"active": False}


def test_rfc7009_revoking_a_refresh_token(server, client):
    client_id, secret = client
    username, _ = server.create_user("revoke", "revoke-password")
    session = OAuth2Session(client_id, secret)
    token = session.fetch_token(server.url("/oauth/token"), username=username, password="revoke-password")
    assert session.revoke_token(server.url("/oauth/revoke"), token=token["refresh_token"]).status_code == 200
    response = requests.post(server.url("/oauth/token"), auth=(client_id, secret),
                             data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]})
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def assert_oauth_error(response, status, error):
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Type"].startswith("application/json")


def test_rfc6749_5_2_wrong_secret_is_invalid_client(server, client):
    client_id, secret = client
    response = requests.post(server.url("/oauth/token"), auth=(client_id, secret + "x"), data={"grant_type": "client_credentials"})
    assert_oauth_error(response, 401, "invalid_client")
    assert "WWW-Authenticate" in response.headers


def test_rfc6749_5_2_unknown_client_is_invalid_client(server):
    response = requests.post(server.url("/oauth/token"), auth=("nobody", "nothing"), data={"grant_type": "client_credentials"})
    assert_oauth_error(response, 401, "invalid_client")


def test_rfc6749_5_2_unknown_grant_is_unsupported_grant_type(server, client):
    response = requests.post(server.url("/oauth/token"), auth=client, data={"grant_type": "urn:example:unknown"})
    assert_oauth_error(response, 400, "unsupported_grant_type")


def test_rfc6749_5_2_scope_beyond_the_client_is_invalid_scope(server, client):
    response = requests.post(server.url("/oauth/token"), auth=client, data={"grant_type": "client_credentials", "scope": "admin"})
    assert_oauth_error(response, 400, "invalid_scope")
    with pytest.raises(AuthlibOAuthError) as raised:
        OAuth2Session(*client, scope="admin").fetch_token(server.url("/oauth/token"), grant_type="client_credentials")
    assert raised.value.error == "invalid_scope"


def test_rfc6749_5_2_missing_grant_type_and_wrong_content_type(server, client):
    assert_oauth_error(requests.post(server.url("/oauth/token"), auth=client, data={"scope": "accounts"}), 400, "invalid_request")
    assert_oauth_error(requests.post(server.url("/oauth/token"), auth=client, json={"grant_type": "client_credentials"}),
                       400, "invalid_request")


def test_rfc6749_5_2_wrong_password_is_invalid_grant(server, client):
    username, _ = server.create_user("wrongpw", "the-right-password")
    response = requests.post(server.url("/oauth/token"), auth=client,
                             data={"grant_type": "password", "username": username, "password": "the-wrong-password"})
    assert_oauth_error(response, 400, "invalid_grant")


def test_five_wrong_passwords_lock_the_account(server, client):
    username, _ = server.create_user("lockout", "the-right-password")
    data = {"grant_type": "password", "username": username}
    for _ in range(5):
        assert_oauth_error(requests.post(server.url("/oauth/token"), auth=client, data={**data, "password": "wrong-password"}),
                           400, "invalid_grant")
    locked = requests.post(server.url("/oauth/token"), auth=client, data={**data, "password": "the-right-password"})
    assert_oauth_error(locked, 400, "invalid_grant")


def test_finapi_users_lifecycle(server, client, metadata):
    client_id, secret = client
    client_token = OAuth2Session(client_id, secret).fetch_token(server.url("/api/v2/oauth/token"), grant_type="client_credentials")
    bearer = {"Authorization": "Bearer " + client_token["access_token"]}
    username = f"finapi-{server.run_id}"
    created = requests.post(server.url("/api/v2/users"), headers=bearer, json={
        "id": username, "password": "finapi-password", "email": "a@example.com",
        "phone": "+49 99 999999-999", "isAutoUpdateEnabled": False})
    assert created.status_code == 201, created.text
    assert created.json()["id"] == username and created.json()["password"] == "finapi-password"

    user_token = OAuth2Session(client_id, secret).fetch_token(
        server.url("/api/v2/oauth/token"), username=username, password="finapi-password")["access_token"]
    user_bearer = {"Authorization": "Bearer " + user_token}
    me = requests.get(server.url("/api/v2/users"), headers=user_bearer)
    assert me.status_code == 200 and me.json()["id"] == username
    assert requests.get(server.url("/api/v2/users"), headers=bearer).status_code in (401, 403)

    assert requests.delete(server.url("/api/v2/users"), headers=user_bearer).status_code == 200
    login = requests.post(server.url("/oauth/token"), auth=client,
                          data={"grant_type": "password", "username": username, "password": "finapi-password"})
    assert_oauth_error(login, 400, "invalid_grant")
    gone = requests.post(server.url("/oauth/introspect"), auth=client, data={"token": user_token})
    assert gone.json() == {"active": False}
