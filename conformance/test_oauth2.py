"""OAuth 2.0 conformance (RFC 6749), driven by authlib (the client integrators run) and pyjwt (a
resource server verifying our tokens against our JWKS). Tests are named after the RFC sections
they check."""
import jwt
import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError as AuthlibOAuthError
from authlib.integrations.requests_client import OAuth2Session

GRANTS = {"client_credentials", "password", "refresh_token"}
TOKEN_PATHS = ["/oauth/token", "/api/v2/oauth/token"]


# --- fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(server):
    """(client_id, client_secret) of a client allowed all three grants and accounts,transfers."""
    return server.create_client("authlib")


@pytest.fixture(scope="module")
def metadata(server):
    response = requests.get(server.url("/.well-known/oauth-authorization-server"), timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()


@pytest.fixture(scope="module")
def jwks_client(server):
    return jwt.PyJWKClient(server.url("/.well-known/jwks.json"), cache_keys=True)


def session(client, **kwargs) -> OAuth2Session:
    client_id, secret = client
    return OAuth2Session(client_id, secret, **kwargs)


def post_token(server, data, auth=None, path="/oauth/token", **kwargs):
    return requests.post(server.url(path), data=data, auth=auth, timeout=10, **kwargs)


def introspect(server, client, token):
    response = requests.post(server.url("/oauth/introspect"), auth=client, data={"token": token}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()


def verify_with_jwks(jwks_client, metadata, token, audience):
    """What a resource server does: fetch the JWKS, pick the key by kid, check ES256 and claims —
    including `aud` (RFC 9068 §4: a resource server rejects a token not meant for it)."""
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256", header
    assert header.get("kid"), header
    signing_key = jwks_client.get_signing_key_from_jwt(token)  # raises if the kid is not in the JWKS
    assert signing_key.key_id == header["kid"]
    claims = jwt.decode(token, signing_key.key, algorithms=["ES256"], issuer=metadata["issuer"], audience=audience,
                        options={"require": ["exp", "iat", "iss", "aud"]})
    assert claims["iss"] == metadata["issuer"]
    assert type(claims["exp"]) is int, claims  # NumericDate without a fraction
    assert type(claims["iat"]) is int, claims
    return claims


def assert_successful_token_response(response):
    assert response.status_code == 200, response.text
    assert response.headers.get("Cache-Control") == "no-store"
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["access_token"]
    assert body["token_type"].lower() == "bearer"
    assert type(body["expires_in"]) is int and body["expires_in"] > 0
    return body


def assert_oauth_error(response, status, error):
    """RFC 6749 §5.2: JSON body with `error`, not cacheable."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    assert response.headers.get("Cache-Control") == "no-store", response.headers
    body = response.json()
    assert body["error"] == error, body
    return body


# --- RFC 8414 metadata and the JWKS --------------------------------------------------------------


def test_rfc8414_metadata(server, metadata):
    for field in ("issuer", "token_endpoint", "jwks_uri", "introspection_endpoint", "revocation_endpoint"):
        assert isinstance(metadata.get(field), str) and metadata[field].startswith(("http://", "https://")), field
    assert "?" not in metadata["issuer"] and "#" not in metadata["issuer"]
    assert metadata["issuer"] == server.base
    assert metadata["token_endpoint"] == server.base + "/oauth/token"
    assert metadata["jwks_uri"] == server.base + "/.well-known/jwks.json"
    assert metadata["introspection_endpoint"] == server.base + "/oauth/introspect"
    assert metadata["revocation_endpoint"] == server.base + "/oauth/revoke"
    assert GRANTS <= set(metadata["grant_types_supported"])


def test_rfc7517_jwks_publishes_public_p256_keys_only(server):
    response = requests.get(server.url("/.well-known/jwks.json"), timeout=10)
    assert response.status_code == 200
    keys = response.json()["keys"]
    assert keys
    for key in keys:
        assert key["kty"] == "EC" and key["crv"] == "P-256" and key["kid"], key
        assert "d" not in key, "the JWKS must never carry the private key"
        assert key.get("alg", "ES256") == "ES256"


# --- RFC 6749 §4.4 client credentials ------------------------------------------------------------


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
@pytest.mark.parametrize("path", TOKEN_PATHS)
def test_rfc6749_4_4_client_credentials_with_authlib(server, client, metadata, jwks_client, auth_method, path):
    client_id, _ = client
    oauth = session(client, token_endpoint_auth_method=auth_method, scope="accounts")
    token = oauth.fetch_token(server.url(path), grant_type="client_credentials")
    assert token["token_type"].lower() == "bearer"
    assert type(token["expires_in"]) is int
    assert "refresh_token" not in token  # RFC 6749 §4.4.3: SHOULD NOT be included

    jwks_kids = {key["kid"] for key in requests.get(server.url("/.well-known/jwks.json"), timeout=10).json()["keys"]}
    assert jwt.get_unverified_header(token["access_token"])["kid"] in jwks_kids

    claims = verify_with_jwks(jwks_client, metadata, token["access_token"], audience=client_id)
    assert claims["client_id"] == client_id
    assert "accounts" in claims["scope"].split()
    assert "transfers" not in claims["scope"].split()  # only what was asked for


@pytest.mark.parametrize("path", TOKEN_PATHS)
def test_rfc6749_5_1_successful_response_is_not_cacheable(server, client, path):
    body = assert_successful_token_response(
        post_token(server, {"grant_type": "client_credentials", "scope": "accounts transfers"}, auth=client, path=path))
    assert set(body.get("scope", "accounts transfers").split()) == {"accounts", "transfers"}


# --- RFC 6749 §4.3 password and §6 refresh ------------------------------------------------------


def test_rfc6749_4_3_password_and_6_refresh_with_authlib(server, client, metadata, jwks_client):
    client_id, _ = client
    username, user_id = server.create_user("pw", "correct horse battery")
    oauth = session(client, scope="accounts")
    token = oauth.fetch_token(server.url("/oauth/token"), username=username, password="correct horse battery")
    assert token["access_token"] and token["refresh_token"]
    assert token["token_type"].lower() == "bearer"
    claims = verify_with_jwks(jwks_client, metadata, token["access_token"], audience=client_id)
    assert claims["sub"] == user_id
    assert claims["client_id"] == client_id
    assert "accounts" in claims["scope"].split()

    first_refresh = token["refresh_token"]
    refreshed = oauth.refresh_token(server.url("/oauth/token"), refresh_token=first_refresh)
    assert refreshed["access_token"] and refreshed["refresh_token"]
    assert refreshed["refresh_token"] != first_refresh, "refresh tokens rotate"
    assert refreshed["access_token"] != token["access_token"]
    refreshed_claims = verify_with_jwks(jwks_client, metadata, refreshed["access_token"], audience=client_id)
    assert refreshed_claims["sub"] == user_id
    assert "accounts" in refreshed_claims["scope"].split()

    # RFC 6819 §5.2.2.3 / OAuth 2.0 Security BCP: a spent refresh token presented again
    # revokes the whole family, including the one that replaced it.
    reuse = post_token(server, {"grant_type": "refresh_token", "refresh_token": first_refresh}, auth=client)
    assert_oauth_error(reuse, 400, "invalid_grant")
    family = post_token(server, {"grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"]}, auth=client)
    assert_oauth_error(family, 400, "invalid_grant")
    with pytest.raises(AuthlibOAuthError) as raised:
        session(client).refresh_token(server.url("/oauth/token"), refresh_token=refreshed["refresh_token"])
    assert raised.value.error == "invalid_grant"


def test_rfc6749_5_1_password_grant_response(server, client):
    username, _ = server.create_user("pwraw", "raw-password-1")
    body = assert_successful_token_response(post_token(
        server, {"grant_type": "password", "username": username, "password": "raw-password-1", "scope": "accounts"},
        auth=client, path="/api/v2/oauth/token"))
    assert body["refresh_token"]
    refreshed = assert_successful_token_response(post_token(
        server, {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}, auth=client))
    assert refreshed["refresh_token"] != body["refresh_token"]


def test_rfc6749_6_refresh_token_is_bound_to_its_client(server, client):
    username, _ = server.create_user("bound", "bound-password")
    token = session(client).fetch_token(server.url("/oauth/token"), username=username, password="bound-password")
    other = server.create_client("other")
    response = post_token(server, {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}, auth=other)
    assert_oauth_error(response, 400, "invalid_grant")


# --- RFC 7662 introspection and RFC 7009 revocation ----------------------------------------------


def test_rfc7662_introspection_and_rfc7009_revocation(server, client):
    client_id, _ = client
    oauth = session(client, scope="accounts")
    token = oauth.fetch_token(server.url("/oauth/token"), grant_type="client_credentials")["access_token"]

    body = introspect(server, client, token)
    assert body["active"] is True
    assert body["client_id"] == client_id
    assert "accounts" in body["scope"].split()
    assert body["sub"]
    assert type(body["exp"]) is int and type(body["iat"]) is int
    assert body["token_type"] == "Bearer"

    assert introspect(server, client, "garbage") == {"active": False}

    revoked = oauth.revoke_token(server.url("/oauth/revoke"), token=token, token_type_hint="access_token")
    assert revoked.status_code == 200, revoked.text
    assert introspect(server, client, token) == {"active": False}


def test_rfc7662_introspection_of_a_user_token(server, client):
    client_id, _ = client
    username, user_id = server.create_user("introspect", "introspect-password")
    token = session(client, scope="accounts").fetch_token(
        server.url("/oauth/token"), username=username, password="introspect-password")
    body = introspect(server, client, token["access_token"])
    assert body["active"] is True
    assert body["sub"] == user_id
    assert body["client_id"] == client_id
    assert body["token_type"] == "Bearer"


# --- RFC 9068 §2.2 aud, RFC 8707 resource indicators, RFC 7662 §4 who may introspect ------------


def test_rfc9068_aud_names_the_client_and_a_resource_server_rejects_other_audiences(server, client, metadata,
                                                                                   jwks_client):
    """A token issued to client A is not accepted where only client B's (or resource R's) are."""
    client_id, _ = client
    other_id, _ = server.create_client("aud-other")
    token = session(client, scope="accounts").fetch_token(server.url("/oauth/token"), grant_type="client_credentials")
    assert jwt.decode(token["access_token"], options={"verify_signature": False})["aud"] in (client_id, [client_id])
    verify_with_jwks(jwks_client, metadata, token["access_token"], audience=client_id)
    with pytest.raises(jwt.InvalidAudienceError):
        verify_with_jwks(jwks_client, metadata, token["access_token"], audience=other_id)
    with pytest.raises(jwt.InvalidAudienceError):
        verify_with_jwks(jwks_client, metadata, token["access_token"], audience="https://payments.bank.example")


def test_rfc8707_resource_indicators_join_the_audience(server, client, metadata, jwks_client):
    client_id, _ = client
    resource = "https://payments.bank.example/api"
    body = assert_successful_token_response(post_token(
        server, {"grant_type": "client_credentials", "resource": resource}, auth=client))
    claims = verify_with_jwks(jwks_client, metadata, body["access_token"], audience=resource)
    assert claims["aud"] == [client_id, resource]
    assert_oauth_error(post_token(server, {"grant_type": "client_credentials", "resource": "payments"}, auth=client),
                       400, "invalid_target")
    assert_oauth_error(post_token(server, {"grant_type": "client_credentials", "resource": resource + "#x"},
                                  auth=client), 400, "invalid_target")


def test_rfc7662_4_only_the_issued_to_client_or_a_resource_server_learns_about_a_token(server, client):
    username, _ = server.create_user("introspect-who", "introspect-password")
    tokens = session(client, scope="accounts").fetch_token(
        server.url("/oauth/token"), username=username, password="introspect-password")
    other = server.create_client("introspect-other")
    created = server.cli("clients", "create", "--id", server.unique("resource-api"), "--scopes", "accounts",
                         "--grants", "client_credentials", "--introspect")
    assert created["resourceServer"] is True, created
    resource_server = (created["clientId"], created["clientSecret"])
    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert introspect(server, client, token)["active"] is True
        assert introspect(server, other, token) == {"active": False}, "a foreign client learns nothing"
        seen = introspect(server, resource_server, token)
        assert seen["active"] is True and seen["client_id"] == client[0], seen


def test_rfc7662_introspection_requires_client_authentication(server, client):
    token = session(client).fetch_token(server.url("/oauth/token"), grant_type="client_credentials")["access_token"]
    anonymous = requests.post(server.url("/oauth/introspect"), data={"token": token}, timeout=10)
    assert anonymous.status_code == 401, anonymous.text
    wrong = requests.post(server.url("/oauth/introspect"), auth=(client[0], client[1] + "x"), data={"token": token},
                          timeout=10)
    assert wrong.status_code == 401, wrong.text


def test_rfc7009_revoking_a_refresh_token(server, client):
    username, _ = server.create_user("revoke", "revoke-password")
    oauth = session(client)
    token = oauth.fetch_token(server.url("/oauth/token"), username=username, password="revoke-password")
    revoked = oauth.revoke_token(server.url("/oauth/revoke"), token=token["refresh_token"],
                                 token_type_hint="refresh_token")
    assert revoked.status_code == 200, revoked.text
    response = post_token(server, {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}, auth=client)
    assert_oauth_error(response, 400, "invalid_grant")


def test_rfc7009_2_2_revoking_an_unknown_token_is_still_200(server, client):
    response = requests.post(server.url("/oauth/revoke"), auth=client, data={"token": "no-such-token"}, timeout=10)
    assert response.status_code == 200, response.text


# --- RFC 6749 §5.2 errors -----------------------------------------------------------------------


def test_rfc6749_5_2_wrong_secret_is_invalid_client(server, client):
    client_id, secret = client
    response = post_token(server, {"grant_type": "client_credentials"}, auth=(client_id, secret + "x"))
    assert_oauth_error(response, 401, "invalid_client")
    assert "WWW-Authenticate" in response.headers
    with pytest.raises(AuthlibOAuthError) as raised:
        OAuth2Session(client_id, secret + "x").fetch_token(server.url("/oauth/token"), grant_type="client_credentials")
    assert raised.value.error == "invalid_client"


def test_rfc6749_5_2_wrong_secret_in_the_body_is_invalid_client(server, client):
    client_id, secret = client
    response = post_token(server, {"grant_type": "client_credentials", "client_id": client_id,
                                   "client_secret": secret + "x"})
    assert_oauth_error(response, 401, "invalid_client")
    assert "WWW-Authenticate" in response.headers


def test_rfc6749_5_2_unknown_client_is_invalid_client(server):
    response = post_token(server, {"grant_type": "client_credentials"}, auth=(server.unique("nobody"), "nothing"))
    assert_oauth_error(response, 401, "invalid_client")
    assert "WWW-Authenticate" in response.headers


def test_rfc6749_5_2_no_client_authentication_is_invalid_client(server):
    response = post_token(server, {"grant_type": "client_credentials"})
    assert_oauth_error(response, 401, "invalid_client")
    assert "WWW-Authenticate" in response.headers


def test_rfc6749_5_2_unknown_grant_is_unsupported_grant_type(server, client):
    response = post_token(server, {"grant_type": "urn:example:unknown"}, auth=client)
    assert_oauth_error(response, 400, "unsupported_grant_type")


def test_rfc6749_5_2_scope_beyond_the_client_is_invalid_scope(server, client):
    response = post_token(server, {"grant_type": "client_credentials", "scope": "admin"}, auth=client)
    assert_oauth_error(response, 400, "invalid_scope")
    with pytest.raises(AuthlibOAuthError) as raised:
        session(client, scope="accounts admin").fetch_token(server.url("/oauth/token"), grant_type="client_credentials")
    assert raised.value.error == "invalid_scope"


def test_rfc6749_5_2_missing_grant_type_is_invalid_request(server, client):
    response = post_token(server, {"scope": "accounts"}, auth=client)
    assert_oauth_error(response, 400, "invalid_request")


def test_rfc6749_5_2_json_body_is_invalid_request(server, client):
    response = requests.post(server.url("/oauth/token"), auth=client, json={"grant_type": "client_credentials"},
                             timeout=10)
    assert_oauth_error(response, 400, "invalid_request")


def test_rfc6749_5_2_password_grant_without_password_is_invalid_request(server, client):
    username, _ = server.create_user("nopw", "some-password")
    response = post_token(server, {"grant_type": "password", "username": username}, auth=client)
    assert_oauth_error(response, 400, "invalid_request")


def test_rfc6749_5_2_wrong_password_is_invalid_grant(server, client):
    username, _ = server.create_user("wrongpw", "the-right-password")
    response = post_token(server, {"grant_type": "password", "username": username, "password": "the-wrong-password"},
                          auth=client)
    assert_oauth_error(response, 400, "invalid_grant")
    with pytest.raises(AuthlibOAuthError) as raised:
        session(client).fetch_token(server.url("/oauth/token"), username=username, password="the-wrong-password")
    assert raised.value.error == "invalid_grant"


def test_rfc6749_5_2_unknown_user_is_invalid_grant(server, client):
    response = post_token(server, {"grant_type": "password", "username": server.unique("ghost"), "password": "x"},
                          auth=client)
    assert_oauth_error(response, 400, "invalid_grant")


def test_rfc6749_5_2_unknown_refresh_token_is_invalid_grant(server, client):
    response = post_token(server, {"grant_type": "refresh_token", "refresh_token": "not-a-refresh-token"}, auth=client)
    assert_oauth_error(response, 400, "invalid_grant")


def test_rfc6749_5_2_grant_not_allowed_for_the_client_is_unauthorized_client(server):
    client_only = server.create_client("cconly", grants="client_credentials")
    username, _ = server.create_user("cconly", "cconly-password")
    response = post_token(server, {"grant_type": "password", "username": username, "password": "cconly-password"},
                          auth=client_only)
    assert_oauth_error(response, 400, "unauthorized_client")


# --- lockout -------------------------------------------------------------------------------------


def test_five_wrong_passwords_lock_the_account(server, client):
    username, _ = server.create_user("lockout", "the-right-password")
    data = {"grant_type": "password", "username": username}
    for attempt in range(5):
        response = post_token(server, {**data, "password": f"wrong-password-{attempt}"}, auth=client)
        assert_oauth_error(response, 400, "invalid_grant")
    locked = post_token(server, {**data, "password": "the-right-password"}, auth=client)
    assert_oauth_error(locked, 400, "invalid_grant")


# --- finAPI users (finAPI's API documentation) ---------------------------------------------------------------------


def test_finapi_users_lifecycle(server, client):
    client_id, _ = client
    client_token = session(client).fetch_token(server.url("/api/v2/oauth/token"), grant_type="client_credentials")
    client_bearer = {"Authorization": "Bearer " + client_token["access_token"]}
    username = server.unique("finapi")
    created = requests.post(server.url("/api/v2/users"), headers=client_bearer, timeout=10, json={
        "id": username, "password": "finapi-password", "email": "a@example.com",
        "phone": "+49 99 999999-999", "isAutoUpdateEnabled": False})
    assert created.status_code == 201, created.text
    assert created.json()["id"] == username
    assert created.json()["password"] == "finapi-password"

    user_token = session(client).fetch_token(
        server.url("/api/v2/oauth/token"), username=username, password="finapi-password")["access_token"]
    user_bearer = {"Authorization": "Bearer " + user_token}
    me = requests.get(server.url("/api/v2/users"), headers=user_bearer, timeout=10)
    assert me.status_code == 200, me.text
    assert me.json()["id"] == username
    assert introspect(server, client, user_token)["active"] is True

    # A client token is not a user: it has no user to show.
    assert requests.get(server.url("/api/v2/users"), headers=client_bearer, timeout=10).status_code in (401, 403)
    assert requests.get(server.url("/api/v2/users"), timeout=10).status_code == 401

    # Deleting the account needs fresh two factors (docs/security-model.md): the password token gets RFC 9470's
    # step-up; a token confirmed by a device bound with the SMS OTP may.
    from test_devices import Phone, assert_step_up, bind, confirmed_headers
    assert_step_up(requests.delete(server.url("/api/v2/users"), headers=user_bearer, timeout=10))
    phone = Phone()
    device_id = bind(server, user_bearer, phone, "+49 99 999999-999")
    deleted = requests.delete(server.url("/api/v2/users"), headers=confirmed_headers(server, user_bearer, phone, device_id),
                              timeout=10)
    assert deleted.status_code == 200, deleted.text

    login = post_token(server, {"grant_type": "password", "username": username, "password": "finapi-password"},
                       auth=client)
    assert_oauth_error(login, 400, "invalid_grant")
    assert introspect(server, client, user_token) == {"active": False}
    assert requests.get(server.url("/api/v2/users"), headers=user_bearer, timeout=10).status_code == 401


def test_finapi_create_user_needs_a_client_token(server, client):
    response = requests.post(server.url("/api/v2/users"), timeout=10, json={
        "id": server.unique("anon"), "password": "anon-password", "email": "a@example.com",
        "phone": "+49 99 999999-999", "isAutoUpdateEnabled": False})
    assert response.status_code == 401, response.text
