"""Backup and restore under load (docs/backup.md).

A node serves while requests run concurrently; a backup is taken in the middle (`strongauth
backup` on SQLite, `pg_dump -Fc` on PostgreSQL), restored into a fresh data directory / database
(`strongauth restore`, `pg_restore`) and a node started on it. What the bank needs after a restore:
the audit chain verifies, a refresh token issued before the backup still rotates (once), a token
signed before it still verifies, and a PowerAuth registration's counter is where it was — the
phone signs again, and a signature the server had already accepted before the backup is refused.
"""
import concurrent.futures
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest
import requests

import cluster
import conftest
import powerauth_phone as pa
from test_powerauth import KNOWLEDGE_FACTORS, Cloud, activated_phone

PG_DUMP = shutil.which("pg_dump") or "/usr/lib/postgresql/15/bin/pg_dump"
PG_RESTORE = shutil.which("pg_restore") or "/usr/lib/postgresql/15/bin/pg_restore"
PASSWORD = "backup-password-1"


def sqlite_url(workdir: Path) -> str:
    return f"sqlite:{workdir}/data/strongauth.sqlite"


def token(server, client, **form):
    response = requests.post(server.url("/oauth/token"), auth=client, data=form, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def load(server, client, stop: threading.Event, counts: dict):
    """Writes that keep the database busy while the backup runs: token issuance (rows, audit)."""
    while not stop.is_set():
        response = requests.post(server.url("/oauth/token"), auth=client, data={"grant_type": "client_credentials"}, timeout=30)
        counts["ok" if response.status_code == 200 else "failed"] += 1


def prepare(source):
    """The state a restore must carry over, made on `source`."""
    client = source.create_client("backup", grants="client_credentials,password,refresh_token")
    username, _ = source.create_user("backup-user", PASSWORD)
    tokens = token(source, client, grant_type="password", username=username, password=PASSWORD, scope="accounts")
    app = source.cli("apps", "create", "--id", source.unique("backup-app"))
    integration = source.cli("integration-users", "create", "--name", source.unique("backup-int"), "--app", app["applicationId"])
    cloud = Cloud(source, integration["name"], integration["password"])
    phone, registration = activated_phone(source, app, cloud)
    accepted = phone.sign("POST", "/login", b"{}", KNOWLEDGE_FACTORS)
    assert cloud.verify("POST", "/login", accepted, b"{}")["signatureValid"] is True
    return {"client": client, "tokens": tokens, "app": app, "integration": integration, "phone": phone,
            "registration": registration, "accepted": accepted}


def backed_up_under_load(source, take_backup):
    """Runs `take_backup()` while eight threads issue tokens; returns what the load did."""
    load_client = source.create_client("backup-load")
    stop = threading.Event()
    counts = {"ok": 0, "failed": 0}
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        workers = [pool.submit(load, source, load_client, stop, counts) for _ in range(8)]
        try:
            while counts["ok"] < 20:
                stop.wait(0.05)
            take_backup()
            before = counts["ok"]
            while counts["ok"] < before + 20:  # writes went on during and after the backup
                stop.wait(0.05)
        finally:
            stop.set()
            for worker in workers:
                worker.result()
    assert counts["failed"] == 0, counts
    return counts


def check_restored(restored, state):
    audit = restored.cli("audit", "verify")
    assert audit["intact"] is True and audit["events"] > 0, audit

    # An access token signed before the backup still verifies (its signing key came along).
    introspected = requests.post(restored.url("/oauth/introspect"), auth=state["client"],
                                 data={"token": state["tokens"]["access_token"]}, timeout=30).json()
    assert introspected["active"] is True, introspected
    # The refresh token from before the backup rotates, once.
    rotated = token(restored, state["client"], grant_type="refresh_token", refresh_token=state["tokens"]["refresh_token"])
    assert rotated["refresh_token"] != state["tokens"]["refresh_token"]
    again = requests.post(restored.url("/oauth/token"), auth=state["client"],
                          data={"grant_type": "refresh_token", "refresh_token": state["tokens"]["refresh_token"]}, timeout=30)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant", again.text

    # The PowerAuth counter is intact: the accepted signature stays spent, the phone signs on.
    cloud = Cloud(restored, state["integration"]["name"], state["integration"]["password"])
    assert cloud.verify("POST", "/login", state["accepted"], b"{}")["signatureValid"] is False
    phone = state["phone"]
    phone.transport = pa.Transport(restored.base)
    for _ in range(3):
        assert cloud.verify("POST", "/login", phone.sign("POST", "/login", b"{}", KNOWLEDGE_FACTORS), b"{}")["signatureValid"] is True
    shown = cloud.registration(state["registration"]["registrationId"])
    assert shown["registrationStatus"] == "ACTIVE", shown


def start_restored(workdir, database_url, source, state):
    """A node on the restored data, checked, stopped. It answers at another port, but it is the
    same installation: the same issuer (`iss`) as the source."""
    restored = cluster.Cluster(workdir, database_url, 1)
    for target in [restored, *restored.nodes]:
        target.env["STRONGAUTH_ISSUER"] = source.env["STRONGAUTH_ISSUER"]
    restored.start()
    try:
        check_restored(restored, state)
    finally:
        restored.stop()


def refused(workdir, env, *args) -> str:
    """Runs `strongauth ARGS`, which must fail; returns its standard error."""
    result = subprocess.run([str(conftest.BINARY), *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0, result.stdout
    return result.stderr


def test_sqlite_backup_under_load_restores_into_a_fresh_directory():
    workdir = Path(tempfile.mkdtemp(prefix="strongauth-backup-"))
    source = cluster.Cluster(workdir / "source", sqlite_url(workdir / "source"), 1)
    source.workdir.mkdir(parents=True)
    backup = workdir / "strongauth-backup.sqlite"
    source.start()
    try:
        state = prepare(source)
        backed_up_under_load(source, lambda: source.cli("backup", "--to", str(backup)))
        # A second backup never overwrites the first.
        assert "already exists" in refused(source.workdir, source.env, "backup", "--to", str(backup), "--database", source.database_url)
    finally:
        source.stop()
    assert oct(backup.stat().st_mode & 0o777) == "0o600"

    target = workdir / "restored"
    target.mkdir()
    summary = cluster.cli(target, source.env, sqlite_url(target), "restore", "--from", str(backup))
    assert summary["pendingMigrations"] == 0, summary
    # Restoring again over the restored data is refused without --force.
    assert "--force" in refused(target, source.env, "restore", "--from", str(backup), "--database", sqlite_url(target))
    start_restored(target, sqlite_url(target), source, state)
    shutil.rmtree(workdir, ignore_errors=True)


def test_postgres_backup_under_load_with_pg_dump_and_pg_restore():
    if not conftest.DATABASE_URL:
        pytest.skip("needs PostgreSQL (STRONGAUTH_TEST_DATABASE_URL)")
    workdir = Path(tempfile.mkdtemp(prefix="strongauth-backup-pg-"))
    backup = workdir / "strongauth.dump"
    with cluster.scratch_database("sa_backup_src") as source_db, cluster.scratch_database("sa_backup_dst") as target_db:
        source = cluster.Cluster(workdir, source_db.url, 1)
        source.start()
        try:
            state = prepare(source)
            # `strongauth backup` says what to use instead of half-doing it.
            assert "pg_dump -Fc" in refused(workdir, source.env, "backup", "--to", str(workdir / "x"), "--database", source_db.url)

            def pg_dump():
                subprocess.run([PG_DUMP, "-Fc", "--file", str(backup), source_db.url], check=True, timeout=120,
                               env={**os.environ, "PGCONNECT_TIMEOUT": "5"})
            backed_up_under_load(source, pg_dump)
        finally:
            source.stop()
        subprocess.run([PG_RESTORE, "--no-owner", "--exit-on-error", "--dbname", target_db.url, str(backup)], check=True,
                       timeout=120, env={**os.environ, "PGCONNECT_TIMEOUT": "5"})
        start_restored(workdir, target_db.url, source, state)
    shutil.rmtree(workdir, ignore_errors=True)
