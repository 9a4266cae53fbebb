"""Side-by-side Markdown table of several benchmark results (e.g. 1 vs 2 processes, SQLite vs PostgreSQL).

    python -m bench.compare bench/results/A.json bench/results/B.json [--size 10000]

One line per measured row, and for each run: requests/s, scimhub CPU µs/request, the database
server's CPU µs/request (PostgreSQL; "-" on SQLite, whose work is in the scimhub process), and
both as multiples of the floor measured in the same run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

NONE = "-"


def _num(value: float | None, fmt: str = "{:,.0f}") -> str:
    return NONE if value is None else fmt.format(value)


def _title(run: dict[str, Any]) -> str:
    processes = run.get("processes", 1)
    return f"{run['db']}, {processes} process{'es' if processes > 1 else ''}"


def runs_of(paths: list[Path], size: int | None) -> list[dict[str, Any]]:
    found = []
    for path in paths:
        document = orjson.loads(path.read_bytes())
        found += [r for r in document["runs"] if size is None or r["size"] == size]
    return found


def markdown(runs: list[dict[str, Any]]) -> str:
    labels: dict[str, str] = {}
    cells: dict[str, list[str]] = {}
    for n, run in enumerate(runs):
        for entry in run["rows"]:
            mine = entry["scimhub"]
            labels.setdefault(entry["row"], mine["label"])
            row = cells.setdefault(entry["row"], [NONE] * 5 * len(runs))
            row[5 * n : 5 * n + 5] = [
                _num(mine["rps"]),
                _num(mine["cpu_us_per_request"]),
                _num(mine.get("db_cpu_us_per_request")),
                _num(entry["cpu_ratio_vs_floor"], "{:.2f}x"),
                _num(entry.get("cpu_with_database_ratio_vs_floor"), "{:.2f}x"),
            ]
    head = ["row"]
    for run in runs:
        name = _title(run)
        head += [f"req/s ({name})", "scimhub µs/req", "postgres µs/req", "x floor", "x floor incl. pg"]
    lines = ["| " + " | ".join(head) + " |", "|---" + "|--:" * (len(head) - 1) + "|"]
    for key, row in cells.items():
        lines.append(f"| {labels[key]} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, nargs="+", help="JSON files written by python -m bench.run")
    parser.add_argument("--size", type=int, default=None, help="only runs at this N")
    args = parser.parse_args(argv)
    runs = runs_of(args.results, args.size)
    if not runs:
        print("no runs found", file=sys.stderr)
        return 1
    print(markdown(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
