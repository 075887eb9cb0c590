"""The server sizes its threads to the processors it may run on (UsableProcessors, EventLoopSizing).

NIO and Foundation count the machine's processors (NIO also a container's CPU quota and cpuset),
not the CPU affinity mask that `taskset`, `numactl` or a unit's `CPUAffinity=` give a process. A
node pinned to one CPU must run one event loop and one SQLite reader thread, not one per CPU of
the machine: on one processor the extra threads only add context switches (docs/benchmarks.md,
twenty-third pass). Read from the running process's threads (`/proc/<pid>/task/*/comm`).
"""
import collections
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest

import cluster
import conftest

pytestmark = pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs Linux and two CPUs this process may use")


@pytest.fixture
def workdir():
    path = Path(tempfile.mkdtemp(prefix="strongauth-processors-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def thread_kinds(pid: int) -> collections.Counter:
    """How many threads of each kind the process runs: NIO's event loops, SQLite's readers."""
    kinds = collections.Counter()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
        except OSError:
            continue  # the thread ended meanwhile
        if re.fullmatch(r"NIO-SGLTN-\d+-#\d+", name):
            kinds["event loop"] += 1
        elif name == "sqlite-reader":
            kinds["sqlite reader"] += 1
    return kinds


def start_node(workdir: Path, name: str, cpus: set, **settings) -> cluster.Node:
    """A node on its own SQLite file, started with the affinity mask `cpus` (inherited from this
    thread, which gets its own mask back at once)."""
    node = cluster.Node(name, workdir, conftest.caller_env(conftest.SERVER_ENV, **settings), database_url="")
    own = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        node.start(wait=False)
    finally:
        os.sched_setaffinity(0, own)
    node.wait_ready()
    return node


def test_a_node_pinned_to_one_cpu_runs_one_event_loop_and_one_reader_thread(workdir):
    cpu = min(os.sched_getaffinity(0))
    node = start_node(workdir, "pinned", {cpu})
    try:
        assert os.sched_getaffinity(node.process.pid) == {cpu}
        assert thread_kinds(node.process.pid) == {"event loop": 1, "sqlite reader": 1}
    finally:
        assert node.stop() == 0, node.log_tail()


def test_a_node_on_two_cpus_runs_two_of_each(workdir):
    cpus = set(sorted(os.sched_getaffinity(0))[:2])
    node = start_node(workdir, "two", cpus)
    try:
        assert thread_kinds(node.process.pid) == {"event loop": 2, "sqlite reader": 2}
    finally:
        assert node.stop() == 0, node.log_tail()


def test_nio_own_setting_wins(workdir):
    cpu = min(os.sched_getaffinity(0))
    node = start_node(workdir, "nio-setting", {cpu}, NIO_SINGLETON_GROUP_LOOP_COUNT=3)
    try:
        assert thread_kinds(node.process.pid)["event loop"] == 3
    finally:
        assert node.stop() == 0, node.log_tail()
