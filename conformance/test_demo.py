"""The README's first command ends in `strongauth demo`: every flow through the Swift SDK against
the running server. It must keep working as the product grows (a demo that breaks is a broken
promise), so the suite runs it against its own server, on SQLite and on PostgreSQL."""
import subprocess

from conftest import BINARY, _database_args


def test_the_demo_runs_every_flow(server):
    result = subprocess.run([str(BINARY), "demo", "--server", server.url("").rstrip("/"), *_database_args()],
                            cwd=server.workdir, env=server.env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    for milestone in ("client_credentials grant", "signatureValid=true", "GET /session → lastLogonDate",
                      "a wrong identification code → 403 MESSAGE_WRONG_RESPONSE: The response is not correct",
                      "strongauth audit verify"):
        assert milestone in result.stdout, f"the demo no longer shows {milestone!r}:\n{result.stdout}"
