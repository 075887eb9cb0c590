"""Failed authentications in the audit log (SECURITY.md): wrong client secrets sent with `requests`
to a live server do not append one chained row each; they are counted per window and source,
and the closed window is sealed (by the running node's AuditSealer) into ONE audit record with
its count, which `strongauth audit failures` shows and `strongauth audit verify` checks."""
import tempfile
import time
from pathlib import Path

import requests

import cluster
from conftest import caller_env

ENV = caller_env(STRONGAUTH_PASSWORD_HASH_COST=4, STRONGAUTH_AUDIT_FAILURE_WINDOW_SECONDS=2,
                 STRONGAUTH_RATE_LIMITS_CLIENT_FAILURE_BURST=1000, STRONGAUTH_RATE_LIMITS_CLIENT_FAILURE_PER_MINUTE=1000)
WRONG = 20


def test_wrong_client_secrets_become_one_counted_audit_record():
    node = cluster.Node("auditfailures", Path(tempfile.mkdtemp(prefix="strongauth-auditfailures-")), ENV, database_url="")
    node.cli("clients", "create", "--id", "shop", "--grants", "client_credentials")
    before = node.cli("audit", "verify")["events"]
    with node:
        base = node.base
        # All in one 2-second window (aligned to the epoch: start just after a boundary).
        time.sleep(2 - time.time() % 2 + 0.05)
        with requests.Session() as session:
            for _ in range(WRONG):
                response = session.post(base + "/oauth/token", auth=("shop", "not-the-secret"),
                                        data={"grant_type": "client_credentials"}, timeout=10)
                assert response.status_code == 401 and response.json()["error"] == "invalid_client", response.text

        # The running node seals the window within a few seconds of its end (every 5 s).
        deadline = time.monotonic() + 20
        while True:
            failures = node.cli("audit", "failures")
            sealed = [record for record in failures["sealed"] if record["action"] == "client.authentication"]
            if sealed or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert len(sealed) == 1, failures
        assert sealed[0]["count"] == WRONG and sealed[0]["subject"] == "client:shop", sealed
        assert sealed[0]["sourceAddress"] == "127.0.0.1" and sealed[0]["reason"] == "wrong_secret", sealed
        assert not [row for row in failures["open"] if row["action"] == "client.authentication"], failures
        # The chain grew by that one record only (and still verifies).
        verified = node.cli("audit", "verify")
        assert verified == {"intact": True, "events": before + 1}, verified
