"""Three `strongauth serve` nodes on one PostgreSQL (scale-out, docs/architecture.md).

The session's server is node 1; two more nodes start on the same database with the same master key
and issuer. Every flow below sends its consecutive requests to different nodes: the flows of the
other conformance modules run unchanged with a `RoundRobin` server whose `url()` rotates over the
three nodes. Then races spread over the three nodes: one decision wins, counters are exact.

PostgreSQL only: nodes share a database server; on SQLite (one file, one writer per process) two
nodes are covered by test_powerauth_two_nodes.py.
"""
import base64
import concurrent.futures
import json
import time

import pytest
import requests

import cluster
import conftest
import powerauth_phone as pa
import test_action_requests
import test_devices
import test_oauth2
import test_processes
import test_sessions
from test_action_requests import approve_on_phone, username_of
from test_devices import Phone, bind, user_session
from test_oauth2 import assert_oauth_error, assert_successful_token_response, introspect, post_token
from test_powerauth import Cloud, KNOWLEDGE_FACTORS, create_registration

pytestmark = pytest.mark.skipif(
    not conftest.DATABASE_URL,
    reason="multi-node tests need PostgreSQL (the PostgreSQL pass sets STRONGAUTH_TEST_DATABASE_URL); "
           "two nodes on one SQLite file are in test_powerauth_two_nodes.py")

NODES = 3
RACERS = 12


@pytest.fixture(scope="module")
def nodes(server):
    """The bases of the three nodes: the session's server and two peers."""
    peers = [cluster.Node(f"peer{index}", server.workdir, cluster.peer_env(server)) for index in (2, 3)]
    try:
        for peer in peers:
            peer.start()
        yield [server.base] + [peer.base for peer in peers]
    finally:
        codes = [peer.stop() for peer in peers]
    assert codes == [0, 0], f"the peers did not stop cleanly on SIGTERM: {codes}\n" + "\n".join(p.log_tail() for p in peers)


@pytest.fixture
def rr(server, nodes):
    return cluster.RoundRobin(server, nodes)


@pytest.fixture(scope="module")
def client(server):
    return server.create_client("multi-node")


@pytest.fixture(scope="module")
def metadata(server):
    return requests.get(server.url("/.well-known/oauth-authorization-server"), timeout=10).json()


@pytest.fixture(scope="module")
def jwks_client(server):
    import jwt
    return jwt.PyJWKClient(server.url("/.well-known/jwks.json"), cache_keys=True)


def crossed_every_node(rr):
    assert all(count > 0 for count in rr.hits.values()), f"the flow did not reach every node: {rr.hits}"


def on_nodes(nodes, count, call):
    """`call(base, index)` `count` times at once, spread round-robin over the nodes."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda index: call(nodes[index % len(nodes)], index), range(count)))


# --- every flow, one request per node in turn ----------------------------------------------------


def test_password_grant_and_refresh_rotation_across_nodes(rr, client, metadata, jwks_client):
    test_oauth2.test_rfc6749_4_3_password_and_6_refresh_with_authlib(rr, client, metadata, jwks_client)
    crossed_every_node(rr)


def test_tokens_of_one_node_are_live_on_every_node(server, nodes, client):
    username, user_id = server.create_user("everywhere", "everywhere-password")
    issued = assert_successful_token_response(requests.post(
        nodes[0] + "/oauth/token", auth=client, timeout=10,
        data={"grant_type": "password", "username": username, "password": "everywhere-password"}))
    for base in nodes:
        body = requests.post(base + "/oauth/introspect", auth=client, data={"token": issued["access_token"]}, timeout=10).json()
        assert body["active"] is True and body["sub"] == user_id, (base, body)
    # Revoked on node 2: inactive on every node at once (no node caches a verdict).
    assert requests.post(nodes[1] + "/oauth/revoke", auth=client, data={"token": issued["access_token"]}, timeout=10).status_code == 200
    for base in nodes:
        assert requests.post(base + "/oauth/introspect", auth=client, data={"token": issued["access_token"]},
                             timeout=10).json() == {"active": False}, base


def test_concurrent_first_bindings_over_three_nodes_one_active(server, nodes):
    """20 first bindings of one user verified at once over three nodes on one
    PostgreSQL → exactly one ACTIVE (was: 2 to 6 in 43 of 44 rounds)."""
    app = server.create_client("mn-first-binding")
    for round_ in range(3):
        headers, number = user_session(server, app, f"mn-first-binding-{round_}")
        checked, statuses = test_devices.bind_concurrently(nodes, headers, number, server)
        assert checked >= 2
        assert statuses.count("ACTIVE") == 1, statuses
        assert statuses.count("PENDING_COMMIT") == checked - 1, statuses


def test_device_binding_challenges_and_confirmed_tokens_across_nodes(rr):
    app = rr.create_client("multi-node-phone")
    test_devices.test_bind_challenge_confirmed_tokens_and_refresh(rr, app)
    test_devices.test_removed_device_ends_confirmed_tokens(rr, app)
    crossed_every_node(rr)


def test_shine_action_request_across_nodes(rr):
    test_action_requests.test_seed_001_flow_literally(rr, rr.create_client("multi-node-shine"))
    crossed_every_node(rr)


def test_finapi_processes_across_nodes(rr, client, jwks_client):
    test_processes.test_seed_002_process_then_access_token_verified_at_the_jwks(rr, client, jwks_client)
    test_processes.test_invalidate_true_returns_the_token_once_more_then_ends_the_process(rr, client)
    crossed_every_node(rr)


def test_abn_amro_session_across_nodes(rr):
    test_sessions.test_softtoken_login_session_and_logout(rr)
    crossed_every_node(rr)


def test_operation_created_on_node_1_approved_by_a_powerauth_phone_on_node_2_status_on_node_3(server, nodes):
    """PowerAuth Cloud REST API: the bank creates an operation on node 1; a PowerAuth phone activated across the
    nodes lists it (MAC token) and authorizes it (signed 2FA) through the mobile token API on node
    2; the bank reads APPROVED on node 3."""
    app_id = server.unique("mn-pa-app")
    app = server.cli("apps", "create", "--id", app_id)
    integration = server.cli("integration-users", "create", "--name", server.unique("mn-pa-user"), "--app", app_id)
    node1, node2, node3 = (Cloud(cluster.RoundRobin(server, [base]), integration["name"], integration["password"]) for base in nodes)

    # The registration itself crosses the nodes: created on 1, activated on 2, committed on 3.
    registration = create_registration(node1, app)
    phone = pa.PowerAuthPhone(app["appKey"], app["appSecret"], app["masterPublicKey"], transport=pa.Transport(nodes[1]))
    phone.activate(registration["activationCode"])
    assert node3.commit(registration["registrationId"]).status_code == 200
    assert node1.registration(registration["registrationId"])["registrationStatus"] == "ACTIVE"

    created = node1.session.post(node1.url("/operations"), data=json.dumps({
        "userId": registration["userId"], "template": "default.payment",
        "parameters": {"amount": "99.50", "currency": "EUR", "account": "DE89370400440532013000"}}), timeout=10)
    assert created.status_code == 200, created.text
    operation_id = created.json()["operationId"]

    token_id, token_secret = phone.create_token()
    mobile = nodes[1] + "/enrollment-server/api/auth/token/app/operation"
    listed = requests.post(mobile + "/list", data=b"{}", timeout=10, headers={
        "Content-Type": "application/json", "X-PowerAuth-Token": phone.token_header(token_id, token_secret)})
    assert listed.status_code == 200, listed.text
    [shown] = [item for item in listed.json()["responseObject"] if item["id"] == operation_id]
    assert shown["data"] == "A1*A99.50EUR*IDE89370400440532013000" and shown["status"] == "PENDING"

    body = json.dumps({"requestObject": {"id": operation_id, "data": shown["data"]}}).encode()
    header = phone.sign("POST", "/operation/authorize", body, KNOWLEDGE_FACTORS)
    authorized = requests.post(mobile + "/authorize", data=body, timeout=10, headers={
        "Content-Type": "application/json", "X-PowerAuth-Authorization": header})
    assert authorized.status_code == 200 and authorized.json()["status"] == "OK", authorized.text

    status = node3.session.get(node3.url(f"/operations/{operation_id}"), timeout=10)
    assert status.status_code == 200 and status.json()["status"] == "APPROVED", status.text


# --- races spread over the nodes: exactly one winner, exact counters -------------------------------


def test_concurrent_approvals_of_one_operation_on_three_nodes_approve_once(server, nodes):
    app = server.create_client("mn-race-approve")
    headers, number = user_session(server, app, "mn-race-approve")
    phone = Phone()
    device_id = bind(server, headers, phone, number)
    app_id = server.unique("mn-race-app")
    server.cli("apps", "create", "--id", app_id)
    integration = server.cli("integration-users", "create", "--name", server.unique("mn-race-user"), "--app", app_id)
    auth = (integration["name"], integration["password"])
    created = requests.post(nodes[0] + "/powerauth-cloud/v2/operations", auth=auth, timeout=10, json={
        "userId": f"mn-race-approve-{server.run_id}", "template": "default.payment",  # user_session's username
        "parameters": {"amount": "10.00", "currency": "EUR", "account": "DE02"}})
    assert created.status_code == 200, created.text
    operation_id = created.json()["operationId"]
    pending = requests.get(nodes[1] + "/api/user/approvals", headers=headers, timeout=10).json()
    [approval] = [item for item in pending if item["id"] == operation_id]
    answer = {"deviceId": device_id, "data": approval["data"], "signature": phone.sign(approval["stringToSign"])}

    responses = on_nodes(nodes, RACERS, lambda base, _: requests.post(
        base + f"/api/user/approvals/{operation_id}/approve", headers=headers, json=answer, timeout=30))
    codes = [response.status_code for response in responses]
    assert codes.count(200) == 1, codes
    assert all(code == 409 for code in codes if code != 200), [(r.status_code, r.text[:200]) for r in responses]
    for base in nodes:
        shown = requests.get(base + f"/powerauth-cloud/v2/operations/{operation_id}", auth=auth, timeout=10).json()
        assert shown["status"] == "APPROVED" and shown["failureCount"] == 0, shown
    # One decision, recorded once.
    assert _audit(f"approval:{operation_id}", "approval.approved") == 1


def test_concurrent_uses_of_one_short_lived_token_on_three_nodes(rr):
    test_action_requests.test_a_short_lived_token_is_used_once_under_concurrency(rr, rr.create_client("mn-slt"))
    crossed_every_node(rr)


def test_concurrent_process_token_exchanges_on_three_nodes_stop_at_the_maximum(rr, client):
    test_processes.test_ten_exchanges_then_refused_even_concurrently(rr, client)
    crossed_every_node(rr)


def test_a_refresh_token_presented_on_three_nodes_at_once_rotates_once(server, nodes, client):
    username, _ = server.create_user("mn-refresh", "mn-refresh-password")
    issued = assert_successful_token_response(requests.post(
        nodes[0] + "/oauth/token", auth=client, timeout=10,
        data={"grant_type": "password", "username": username, "password": "mn-refresh-password"}))
    responses = on_nodes(nodes, RACERS, lambda base, _: requests.post(
        base + "/oauth/token", auth=client, timeout=30,
        data={"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]}))
    winners = [response for response in responses if response.status_code == 200]
    assert len(winners) == 1, [(r.status_code, r.text[:120]) for r in responses]
    for response in responses:
        if response.status_code != 200:
            assert_oauth_error(response, 400, "invalid_grant")
    # The losers presented a spent token: reuse, so the family (with the winner's new token) is revoked.
    rotated = winners[0].json()["refresh_token"]
    assert rotated != issued["refresh_token"]
    assert_oauth_error(post_token(cluster.RoundRobin(server, nodes[1:]),
                                  {"grant_type": "refresh_token", "refresh_token": rotated}, auth=client), 400, "invalid_grant")
    assert introspect(cluster.RoundRobin(server, nodes[2:]), client, winners[0].json()["access_token"]) == {"active": False}


def test_password_brute_force_on_three_nodes_stops_at_the_lockout_limit_exactly(server, nodes, client):
    username, user_id = server.create_user("mn-brute", "the-right-password")
    guesses = 30
    responses = on_nodes(nodes, guesses, lambda base, index: requests.post(
        base + "/oauth/token", auth=client, timeout=60,
        data={"grant_type": "password", "username": username, "password": f"wrong-{index}"}))
    for response in responses:
        assert_oauth_error(response, 400, "invalid_grant")
    # Even the right password is refused now, on every node.
    for base in nodes:
        assert_oauth_error(requests.post(base + "/oauth/token", auth=client, timeout=10, data={
            "grant_type": "password", "username": username, "password": "the-right-password"}), 400, "invalid_grant")
    # Exactly 5 passwords were checked (consecutive failures 1…5); every other guess met the lock.
    events = _audit_details(f"user:{user_id}", "login.password")
    checked = sorted(int(details["consecutive_failures"]) for details in events if details.get("reason") == "wrong_password")
    assert checked == [1, 2, 3, 4, 5], events
    # Tries against the lock are counted per window (SECURITY.md): a record with a `count`.
    locked = sum(int(details.get("count", "1")) for details in events if details.get("reason") == "locked")
    assert locked == guesses - 5 + len(nodes), events


def test_four_wrong_passwords_on_three_nodes_do_not_lock(server, nodes, client):
    """The counter is exact downwards too: 4 concurrent failures leave the 5th try to the user."""
    username, _ = server.create_user("mn-four", "the-right-password")
    on_nodes(nodes, 4, lambda base, index: requests.post(base + "/oauth/token", auth=client, timeout=60, data={
        "grant_type": "password", "username": username, "password": f"wrong-{index}"}))
    assert_successful_token_response(requests.post(nodes[2] + "/oauth/token", auth=client, timeout=10, data={
        "grant_type": "password", "username": username, "password": "the-right-password"}))


# --- the audit log, read from the database (the journal and the chain) -----------------------------


def _audit_rows(subject: str, action: str, outcome: str = None) -> list:
    where = f"subject = '{subject}' AND action = '{action}'" + (f" AND outcome = '{outcome}'" if outcome else "")
    output = cluster.psql(conftest.DATABASE_URL,
                          f"SELECT details FROM audit_journal WHERE {where} UNION ALL SELECT details FROM audit_events WHERE {where}")
    return [line for line in output.splitlines() if line.strip()]


def _audit(subject: str, action: str, outcome: str = None) -> int:
    return len(_audit_rows(subject, action, outcome))


def _audit_details(subject: str, action: str) -> list:
    """The details of the events, and of the failures still counted in open windows
    (`audit_failures`: one row with a count per window and source)."""
    where = f"subject = '{subject}' AND action = '{action}'"
    counting = cluster.psql(conftest.DATABASE_URL,
                            "SELECT json_build_object('reason', reason, 'count', failures::text)::text "
                            f"FROM audit_failures WHERE {where}")
    return [json.loads(row) for row in _audit_rows(subject, action) + [line for line in counting.splitlines() if line.strip()]]


# --- a node's PostgreSQL connections -------------------------------------------------------------


def _strongauth_connections(reaching: int = None, patience: float = 20.0) -> int:
    """The connections named `strongauth` in pg_stat_activity (every node's pool names its own so);
    with `reaching`, polled until the count is that (connections open in the background)."""
    deadline = time.monotonic() + patience
    while True:
        count = int(cluster.psql(conftest.DATABASE_URL,
                                 "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'strongauth'"))
        if reaching is None or count == reaching or time.monotonic() > deadline:
            return count
        time.sleep(0.1)


def test_a_serving_node_keeps_its_postgresql_connections_open(server):
    """A node opens its `database.postgresConnections` as it starts, before any request, and keeps
    them while it serves, idle or not (a fixed pool: postgres-nio then starts no idle timer per request, which
    cost a quarter of a node's CPU per read, docs/benchmarks.md); they close when it stops."""
    before = _strongauth_connections()
    node = cluster.Node("fixed-pool", server.workdir, cluster.peer_env(server, STRONGAUTH_DATABASE_POSTGRES_CONNECTIONS=3))
    node.start()
    try:
        assert _strongauth_connections(reaching=before + 3) == before + 3
        # Past the idle timeout (10 s) that closes a connection opened on demand (the node's start
        # opens some that way too): all three are still there.
        time.sleep(12)
        assert _strongauth_connections() == before + 3
        # Concurrent requests (each /ready reads the database) run on those three: none is added.
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: requests.get(node.url("/ready"), timeout=30).status_code, range(32)))
        assert answers == [200] * 32
        assert _strongauth_connections() == before + 3
    finally:
        assert node.stop() == 0, node.log_tail()
    assert _strongauth_connections(reaching=before) == before
