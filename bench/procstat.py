"""Server CPU seconds and memory from /proc (Linux).

CPU is the process's own time plus that of its descendants. The main thread (where an
asyncio server does its work) is read from /proc/PID/schedstat in nanoseconds; other
threads and children come from utime+stime clock ticks (10 ms), which is precise enough
for them. (The time of a thread that ended between two readings is not counted: uvicorn
keeps no short-lived threads.)
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

_HZ = os.sysconf("SC_CLK_TCK")


def _stat_fields(path: Path) -> list[str]:
    # The command name (field 2) may contain spaces; everything after the last ')' is fixed.
    return path.read_text().rsplit(")", 1)[1].split()


def _ticks(path: Path) -> int:
    fields = _stat_fields(path)  # fields[11] utime, [12] stime
    return int(fields[11]) + int(fields[12])


def _main_thread_seconds(pid: int) -> float | None:
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def machine_busy_seconds() -> float:
    """Non-idle CPU seconds of the whole machine, all CPUs (/proc/stat: every field but idle and iowait)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    ticks = [int(f) for f in fields[:8]]  # user nice system idle iowait irq softirq steal
    return (sum(ticks) - ticks[3] - ticks[4]) / _HZ


def own_cpu_seconds() -> float:
    """CPU seconds of this process (the load generator), all threads."""
    times = os.times()
    return times.user + times.system


def descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int(_stat_fields(entry / "stat")[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    stack = [pid]
    while stack:
        for child in parents.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def process_cpu_seconds(pid: int) -> float:
    """CPU seconds of one process: main thread in ns, other live threads and reaped children in ticks.

    Each counter is read once and only ever grows, so a difference of two readings is never
    negative (mixing the process-wide and per-thread tick counters is: they are read apart).
    """
    fields = _stat_fields(Path(f"/proc/{pid}/stat"))
    ticks = int(fields[13]) + int(fields[14])  # cutime + cstime: children that were waited for
    main = _main_thread_seconds(pid)
    for task in Path(f"/proc/{pid}/task").iterdir():
        if task.name == str(pid) and main is not None:
            continue
        try:
            ticks += _ticks(task / "stat")
        except OSError:  # the thread ended between listing and reading
            continue
    return (main or 0.0) + ticks / _HZ


def tree_cpu_seconds(pid: int) -> float:
    total = process_cpu_seconds(pid)
    for child in descendants(pid):
        try:
            total += process_cpu_seconds(child)
        except OSError:
            continue
    return total


@dataclass(frozen=True, slots=True)
class Memory:
    hwm_kb: int  # VmHWM: peak resident set size since the process started
    rss_kb: int


def memory(pid: int) -> Memory:
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            values[name] = int(rest.split()[0])
    return Memory(values.get("VmHWM", 0), values.get("VmRSS", 0))


# -- the PostgreSQL server (on this machine) -------------------------------------------------
# A client backend's title: "postgres: [cluster: ]user database host(port) activity" ([local] for a socket).
_BACKEND = re.compile(r"^postgres: (?:\S+: )?\S+ (?P<db>\S+) (?:\S+\(\d+\)|\[local\])(?: |$)")


@dataclass(frozen=True, slots=True)
class PostgresSnapshot:
    ticks: dict[int, tuple[int, bool]]  # pid -> (utime+stime ticks, whether it counts as this benchmark's)
    reaped: int  # the postmaster's cutime+cstime: ticks of its children that have ended


@dataclass(frozen=True, slots=True)
class PostgresCpu:
    mine: float  # seconds of the postmaster, its auxiliary processes and ``database``'s backends
    others: float  # seconds of other databases' backends, and of backends that ended (unattributable)


def postgres_snapshot(database: str) -> PostgresSnapshot:
    """CPU ticks (utime+stime) of the local PostgreSQL server's processes, read from /proc.

    Every postgres process counts as the benchmark's (the postmaster, WAL writer, checkpointer,
    autovacuum, ``database``'s client backends) except the client backends of other databases:
    another user's load on the same server is reported apart.
    """
    ticks: dict[int, tuple[int, bool]] = {}
    reaped = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            fields = _stat_fields(entry / "stat")
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # the process ended between listing and reading
            continue
        backend = _BACKEND.match(title)
        ticks[int(entry.name)] = (int(fields[11]) + int(fields[12]), backend is None or backend["db"] == database)
        if not title.startswith("postgres:"):  # the postmaster
            reaped += int(fields[13]) + int(fields[14])
    return PostgresSnapshot(ticks, reaped)


def postgres_cpu_between(before: PostgresSnapshot, after: PostgresSnapshot) -> PostgresCpu:
    """CPU seconds between two snapshots. A process that started in between counts in full; one
    that ended in between is in the postmaster's reaped time, which cannot tell whose it was
    (``others``: the benchmark's servers keep their pooled connections open)."""
    mine = others = 0
    for pid, (ticks, ours) in after.ticks.items():
        used = ticks - before.ticks.get(pid, (0, ours))[0]
        if ours:
            mine += used
        else:
            others += used
    others += after.reaped - before.reaped
    return PostgresCpu(mine / _HZ, others / _HZ)
