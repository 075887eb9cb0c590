#!/usr/bin/env python3
"""Attributes perf samples of a StrongAuth server to the Swift async function they ran in.

perf's call graphs stop at the job an executor runs: an async function's callers are not on the
stack, so `perf report --children` cannot say what a request's handler costs in all. This script
charges each sample to the partial function the executor was running (the frame just above
`runJobInEstablishedExecutorContext`), and samples outside any job to their thread (NIO's event
loops, a leaf frame that could not be unwound), then prints the largest, demangled.

  perf record -F 2000 -g -p "$(pgrep -f 'strongauth serve')" -o perf.data -- sleep 10
  perf script -i perf.data -F comm,tid,ip,sym | bench/perf_tasks.py [--threads] [N]

--threads prints the share of each thread name instead (sqlite-writer, sqlite-reader, NIO-…,
and the cooperative pool's threads).

--callers SYMBOL [DEPTH] prints who the samples inside SYMBOL (any frame whose name contains it,
e.g. getGenericMetadata, sqlite3BtreeOpen) came from: the DEPTH (default 3) nearest callers that
are not the Swift runtime's, most frequent first. It needs whole stacks (`bench/duo.sh --perf`).
"""
import collections
import subprocess
import sys


def samples(lines):
    """(thread name, frames leaf-first) for each sample of `perf script -F comm,tid,ip,sym`."""
    comm, frames = None, []
    for line in lines:
        if not line.strip():
            continue
        if line[0] not in " \t":
            if comm is not None:
                yield comm, frames
            comm, frames = line.split()[0], []
        else:
            parts = line.strip().split(None, 1)
            frames.append(parts[1] if len(parts) > 1 else "?")
    if comm is not None:
        yield comm, frames


def owner(comm, frames):
    for index, frame in enumerate(frames):
        if "runJobInEstablishedExecutorContext" in frame:
            return frames[index - 1] if index > 0 else "(the job runner)"
    return f"[{comm}] " + (frames[0] if frames else "?")


RUNTIME_FRAMES = ("swift_", "_swift", "Metadata", "_ZN5swift", "_ZL", "__swift_instantiate", "getCache", "getOrInsert")


def callers(symbol, depth, limit):
    """Prints the callers of the frames matching `symbol`, outside the Swift runtime, most frequent first."""
    counts, total, inside = collections.Counter(), 0, 0
    for _, frames in samples(sys.stdin):
        total += 1
        for index, frame in enumerate(frames):
            if symbol in frame:
                inside += 1
                chain = [f for f in frames[index + 1:] if not any(r in f for r in RUNTIME_FRAMES)][:depth]
                counts[" <- ".join(chain)] += 1
                break
    if total == 0:
        sys.exit("no samples on stdin (perf script -F comm,tid,ip,sym)")
    print(f"{100 * inside / total:.1f}% of {total} samples are inside {symbol}")
    top = counts.most_common(limit)
    for (chain, count), name in zip(top, demangled([chain for chain, _ in top])):
        print(f"{100 * count / total:5.2f}%  {name[:220]}")


def demangled(names):
    try:
        return subprocess.run(["swift", "demangle", "--simplified"], input="\n".join(names),
                              capture_output=True, text=True, check=True).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return names


def main():
    args = sys.argv[1:]
    if args[:1] == ["--callers"] and len(args) >= 2:
        depth = int(args[2]) if len(args) > 2 and args[2].isdigit() else 3
        callers(args[1], depth, 25)
        return
    by_thread = "--threads" in args
    numbers = [int(a) for a in args if a.isdigit()]
    limit = numbers[0] if numbers else 50
    counts, total = collections.Counter(), 0
    for comm, frames in samples(sys.stdin):
        total += 1
        counts[comm if by_thread else owner(comm, frames)] += 1
    if total == 0:
        sys.exit("no samples on stdin (perf script -F comm,tid,ip,sym)")
    top = counts.most_common(limit)
    for (_, count), name in zip(top, demangled([k for k, _ in top])):
        print(f"{100 * count / total:5.1f}%  {name[:160]}")


if __name__ == "__main__":
    main()
