"""Profile the scimhub server per scenario with py-spy, and print its hotspots.

    pip install py-spy
    python -m bench.profile --size 10000 --scenarios bde

Starts scimhub on a fresh database (users seeded through ResourceService, the last
``--a-http`` over HTTP), then records each scenario's requests with ``py-spy record
--format raw`` attached to the server process, and prints the frames with the most
samples: "self" (the frame was on top) and "inclusive" (anywhere on the stack).
Collapsed stacks are kept in the output folder for flame graphs (e.g. speedscope).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import replace
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import servers
from bench.run import seed_direct
from bench.scenarios import SCENARIOS
from bench.scenarios import Plan
from bench.scenarios import World
from bench.scenarios import initial_sync

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def frame_name(frame: str) -> str:
    """'create (scimhub/protocol/resources.py:120)' -> 'scimhub/protocol/resources.py:create'."""
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "/src/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{match['func']}"


OWN_CODE = "scimhub/"
WRAPPERS = ("scimhub/admin/", "scimhub/http/routes.py", "scimhub/http/auth.py:BearerAuthMiddleware.__call__")


def _package(name: str) -> str:
    return name.split("/", 1)[0].split(":", 1)[0]


def hotspots(raw: Path) -> tuple[int, dict[str, Counter[str]]]:
    """Samples, and counters: self (top frame), scimhub frames inclusive, calls out of scimhub."""
    tables: dict[str, Counter[str]] = {"self": Counter(), "scimhub inclusive": Counter(), "scimhub calls": Counter()}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame_name(f) for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += count
        tables["self"][frames[-1]] += count
        own = [f for f in frames if f.startswith(OWN_CODE) and not f.startswith(WRAPPERS)]
        for name in set(own):
            tables["scimhub inclusive"][name] += count
        if own:
            deepest = max(i for i, f in enumerate(frames) if f == own[-1])
            callee = frames[deepest + 1] if deepest + 1 < len(frames) else "(own code)"
            tables["scimhub calls"][f"{own[-1]} -> {_package(callee)}"] += count
    return total, tables


def print_hotspots(title: str, raw: Path, top: int) -> None:
    total, tables = hotspots(raw)
    print(f"\n## {title}: {total} samples ({raw})")
    if not total:
        return
    for heading, counter in tables.items():
        print(f"\n{heading}:")
        for name, count in counter.most_common(top):
            print(f"  {100 * count / total:5.1f}%  {name}")


def start_pyspy(pid: int, out: Path, rate: int) -> subprocess.Popen[bytes]:
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    argv = [pyspy, "record", "--pid", str(pid), "--format", "raw", "--rate", str(rate), "--output", str(out)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop_pyspy(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


async def profile(size: int, a_http: int, letters: str, out: Path, rate: int, top: int, plan: Plan) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="scimhub-profile-"))
    db_url = f"sqlite:///{workdir / 'bench.db'}"
    env = servers.scimhub_env(db_url)
    token = servers.make_tenant(env)
    port = servers.free_port()
    plan = replace(plan, size=size, a_http=min(size, a_http))
    ids = seed_direct(db_url, f"http://{servers.HOST}:{port}/scim/v2", size - plan.a_http, workdir)
    server = servers.start_scimhub(env, [port], workdir)
    try:
        await servers.wait_ready(server, token)
        world = World(server, token, ids + [""] * plan.a_http)
        for letter in ["a", *letters.replace("a", "")]:
            raw = out / f"scimhub-{size}-{letter}.txt"
            recorder = start_pyspy(server.pid, raw, rate) if letter in letters else None
            await asyncio.sleep(0.5 if recorder else 0)
            rows = await (initial_sync(plan, world) if letter == "a" else SCENARIOS[letter](plan, world))
            if recorder is not None:
                stop_pyspy(recorder)
                print(f"\nscenario {letter}: " + ", ".join(f"{r.row} {r.requests} req" for r in rows))
                print_hotspots(f"scenario {letter}, N={size:,}", raw, top)
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="py-spy profiles of scimhub per benchmark scenario.")
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--a-http", type=int, default=2000, help="users created over HTTP (profiled as a)")
    parser.add_argument("--scenarios", default="abcdef")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--singles", type=int, default=50)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "profiles")
    parser.add_argument("--analyze", type=Path, nargs="+", help="only print hotspots of saved raw profiles")
    args = parser.parse_args()
    if args.analyze:
        for raw in args.analyze:
            print_hotspots(raw.stem, raw, args.top)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    plan = Plan(0, 0, singles=args.singles)
    asyncio.run(profile(args.size, args.a_http, args.scenarios, args.out, args.rate, args.top, plan))


if __name__ == "__main__":
    main()
