"""The README's walkthrough, run as written, against a fresh server (so the README cannot rot).

The `sh` block under "A five-minute walkthrough with curl" is extracted from README.md and run
by bash in the working directory of a fresh `strongauth serve` (its own SQLite file, whatever the
suite's database is), with `S` pointing at it. Only two things are stood in for: `swift build`
(the suite runs the binary it was given, which is put on the PATH) and `jq`, which runs with `-e`
so that a value missing from a step's answer (`null`) stops the walk at that step instead of being
passed on. Then the answers the walkthrough promises are checked in its output.
"""
import os
import re
import subprocess
import tempfile
from pathlib import Path

import conftest
from cluster import Node

README = conftest.ROOT / "README.md"


def walkthrough() -> str:
    text = README.read_text()
    section = text.split("## A five-minute walkthrough with curl", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert blocks, "no ```sh block in the README's walkthrough section"
    return "\n".join(blocks)


def test_walkthrough_has_no_unexplained_placeholders():
    for number, line in enumerate(walkthrough().splitlines(), 1):
        code = line.split("#", 1)[0]
        assert "…" not in code, f"walkthrough line {number} has a placeholder to fill in: {line!r}"
        assert "127.0.0.1:8080" not in code or line.startswith("S="), f"line {number} bypasses $S: {line!r}"


def test_readme_walkthrough_runs_against_a_fresh_server():
    workdir = Path(tempfile.mkdtemp(prefix="strongauth-readme-"))
    node = Node("readme", workdir, conftest._child_env(), database_url="").start()
    try:
        script = "\n".join([
            "set -eu",
            "swift() { :; }",  # the binary is built already
            'jq() { command jq -e "$@"; }',  # null (a missing value) fails the step
            walkthrough(),
        ])
        env = dict(node.env)
        env["PATH"] = f"{conftest.BINARY.parent}{os.pathsep}{env.get('PATH', '')}"
        env["S"] = node.base
        result = subprocess.run(["bash", "-c", script], cwd=workdir, env=env, capture_output=True, text=True,
                                timeout=300)
        output = result.stdout
        assert result.returncode == 0, (
            f"the walkthrough stopped (exit {result.returncode}):\nstdout:\n{output[-6000:]}\n"
            f"stderr:\n{result.stderr[-4000:]}\nserver:\n{node.log_tail()}")
        # What the walkthrough says each step answers.
        assert '"error":"invalid_grant"' in output.replace(" ", ""), output  # a reused refresh token
        assert '"signatureValid":true' in output.replace(" ", ""), output  # the PowerAuth signature
        assert '"accessToken"' in output, output  # the finAPI process exchange
        assert '"kind":"action_request"' in output.replace(" ", ""), output  # bob's pending list, with bob's token
        assert '"clients"' in output and '"invalid_client"' in output, output  # the admin API; the old secret
        assert '"intact" : true' in output or '"intact":true' in output, output  # audit verify
    finally:
        assert node.stop() == 0
