"""scripts/package (docs/operations.md, "Install"): the tarball's layout, from the cheap `--debug`
mode that packs the binary the suite already built, so that CI proves the script without a
15-minute release build. What a release adds (`-c release --static-swift-stdlib`, the `ldd`
check, `strip`) is the same script on the same layout.

The example files in the tarball are the ones the other tests run: the nginx site
(test_tls_proxy.py) and the production configuration (below, and test_tls_proxy.py)."""
import configparser
import json
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

import conftest

ROOT = conftest.ROOT

# The package does not depend on the database: the SQLite run checks it, the PostgreSQL run of the
# suite need not pack the same 200 MB again.
pytestmark = pytest.mark.skipif(conftest.DATABASE_URL is not None, reason="database-independent: checked in the SQLite run")


def version_constant() -> str:
    source = (ROOT / "Sources/StrongAuthServer/Support/StrongAuthVersion.swift").read_text()
    return re.search(r'static let current = "([^"]+)"', source).group(1)


@pytest.fixture(scope="module")
def tarball():
    if not conftest.BINARY.exists():
        pytest.fail(f"{conftest.BINARY} does not exist: build it first")
    out = Path(tempfile.mkdtemp(prefix="strongauth-package-"))
    result = subprocess.run(["scripts/package", "--debug", "--out", str(out)], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    path = Path(result.stdout.strip().splitlines()[-1])
    yield path
    shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(scope="module")
def unpacked(tarball):
    """The tarball unpacked once (the debug binary is large): the `strongauth-<version>` directory."""
    directory = Path(tempfile.mkdtemp(prefix="strongauth-unpacked-"))
    with tarfile.open(tarball) as archive:
        archive.extractall(directory, filter="data")
    yield directory / f"strongauth-{version_constant()}"
    shutil.rmtree(directory, ignore_errors=True)


def test_the_tarball_is_named_after_the_version_and_holds_the_documented_layout(tarball):
    version = version_constant()
    arch = subprocess.run(["uname", "-m"], capture_output=True, text=True).stdout.strip()
    assert tarball.name == f"strongauth-{version}-linux-{arch}-debug.tar.gz", tarball.name
    with tarfile.open(tarball) as archive:
        members = {member.name: member for member in archive.getmembers()}
    top = f"strongauth-{version}"
    # Every resource bundle beside the built binary goes beside the packed one: the binary looks
    # there first, then in a build directory that the target machine does not have (a release
    # binary without them aborts at start — the debug suite never notices, its build directory exists).
    build = conftest.BINARY.resolve().parent
    bundles = {str(path.relative_to(build)) for bundle in build.glob("*.resources") for path in bundle.rglob("*") if path.is_file()}
    assert any(name.endswith("/openapi.yaml") for name in bundles), bundles
    expected = {f"bin/{name}" for name in bundles} | {"bin/strongauth", "systemd/strongauth.service", "nginx/strongauth.conf", "config/strongauth.json",
                "config/strongauth.env.example", "docs/operations.md", "README.md", "SECURITY.md", "CHANGELOG.md",
                "LICENSE", "SHA256SUMS"}
    files = {name[len(top) + 1:] for name, member in members.items() if member.isfile()}
    assert files == expected, files ^ expected
    assert all(name == top or name.startswith(top + "/") for name in members), "everything under one directory"
    assert members[f"{top}/bin/strongauth"].mode & 0o111, "the binary is executable"
    assert all(member.uid == 0 and member.gid == 0 for member in members.values()), "owned by root, not the builder"


def test_the_packed_binary_reports_its_version_and_the_checksums_match(unpacked):
    root = unpacked
    reported = subprocess.run([str(root / "bin/strongauth"), "--version"], capture_output=True, text=True, timeout=30)
    assert reported.stdout.strip() == version_constant(), reported
    checked = subprocess.run(["sha256sum", "--check", "--strict", "SHA256SUMS"], cwd=root, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    packed = [path for path in root.rglob("*") if path.is_file() and path.name != "SHA256SUMS"]
    assert len(checked.stdout.splitlines()) == len(packed), checked.stdout
    # The changelog's newest release is the binary's version.
    newest = re.search(r"^## \[(\d[^\]]*)\]", (root / "CHANGELOG.md").read_text(), re.M).group(1)
    assert newest == version_constant()
    assert "Apache License" in (root / "LICENSE").read_text()


def test_the_systemd_unit_is_hardened(unpacked):
    unit_path = unpacked / "systemd/strongauth.service"
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    # Repeated keys (SystemCallFilter=) are legal in a unit; keep the last for this check.
    unit.read_string(re.sub(r"(?m)^SystemCallFilter=.*\n(?=SystemCallFilter=)", "", unit_path.read_text()))
    service = unit["Service"]
    for key, value in {"DynamicUser": "yes", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
                       "PrivateTmp": "yes", "StateDirectory": "strongauth", "CapabilityBoundingSet": "",
                       "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX", "UMask": "0077"}.items():
        assert service.get(key) == value, f"{key}={service.get(key)!r}"
    assert service["ExecStart"].startswith("/opt/strongauth/bin/strongauth serve --config /etc/strongauth/strongauth.json")
    assert service["EnvironmentFile"] == "/etc/strongauth/strongauth.env"
    if shutil.which("systemd-analyze"):
        # systemd's own parser: no unknown directive, no bad value (the missing binary and
        # environment file are the only complaints allowed: they do not exist on this machine).
        verified = subprocess.run(["systemd-analyze", "verify", str(unit_path)], capture_output=True, text=True, timeout=60)
        problems = [line for line in (verified.stdout + verified.stderr).splitlines()
                    if line.strip() and "/opt/strongauth/bin/strongauth" not in line and "strongauth.env" not in line]
        assert not [line for line in problems if "Unknown" in line or "Invalid" in line or "Failed to parse" in line], problems


def test_the_example_production_configuration_passes_production_mode(unpacked, tmp_path):
    """The example configuration, with the secrets its env file names, is a production
    configuration the server accepts: `strongauth settings`-level checks run at start-up, so a
    start that gets as far as the database proves it (the example's database host is not here)."""
    root = unpacked
    config = json.loads((root / "config/strongauth.json").read_text())
    assert config["mode"] == "production" and config["issuer"].startswith("https://")
    env = conftest._child_env()
    env["STRONGAUTH_MASTER_KEY"] = conftest.TEST_MASTER_KEY
    # A database that refuses at once: the settings were accepted when the error is about it.
    env["STRONGAUTH_DATABASE_URL"] = f"postgres://nobody:x@127.0.0.1:{conftest._free_port()}/none"
    env["STRONGAUTH_DATA_DIR"] = str(tmp_path / "data")
    result = subprocess.run([str(root / "bin/strongauth"), "migrate", "--config", str(root / "config/strongauth.json")],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "production mode refuses" not in result.stderr, result.stderr
    # The same configuration on SQLite is refused, naming the setting.
    env["STRONGAUTH_DATABASE_URL"] = f"sqlite:{tmp_path}/x.sqlite"
    refused = subprocess.run([str(root / "bin/strongauth"), "migrate", "--config", str(root / "config/strongauth.json")],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "database.allowSqliteInProduction" in refused.stderr, refused.stderr


def test_the_dockerfile_installs_the_packaged_tarball_of_this_version():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"ARG VERSION={version_constant()}" in dockerfile
    assert "ADD strongauth-${VERSION}-linux-${ARCH}.tar.gz /opt/" in dockerfile
    assert not re.search(r"^RUN .*swift", dockerfile, re.M), "the image installs the tested tarball, it builds nothing"
    assert re.search(r"^USER 65532", dockerfile, re.M), "not root"
