"""Server CPU seconds and memory from /proc (Linux).

CPU is the process's own time plus that of its descendants. The main thread (where an
asyncio server does its work) is read from /proc/PID/schedstat in nanoseconds; other
threads and children come from utime+stime clock ticks (10 ms), which is precise enough
for them. (The time of a thread that ended between two readings is not counted: uvicorn
keeps no short-lived threads.)
"""

from __future__ import annotations

import os
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
