"""Results as JSON and as Markdown tables, and the issue's targets checked against them."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Any

from bench.scenarios import Row

BUILT = "floor-built"  # the previous floor (bench/floor_built.py), reported beside the canned one


@dataclass
class SizeRun:
    """Everything measured at one size on one database."""

    size: int
    db: str
    processes: int = 1  # scimhub serve processes on the database
    seeded: int = 0  # users created directly through ResourceService before the server started
    http_created: int = 0  # users created over HTTP (scenario a, or unmeasured population)
    rows: list[Row] = field(default_factory=list)
    peak_kb: dict[str, int] = field(default_factory=dict)  # server -> largest VmHWM of one process, at the end
    process_peaks_kb: dict[str, list[int]] = field(default_factory=dict)  # server -> VmHWM of each process
    notes: list[str] = field(default_factory=list)

    def pairs(self) -> list[tuple[Row, Row | None]]:
        """(scimhub row, floor row) in run order."""
        floor = {r.row: r for r in self.rows if r.server == "floor"}
        return [(r, floor.get(r.row)) for r in self.rows if r.server == "scimhub"]

    def row(self, name: str, server: str = "scimhub") -> Row | None:
        return next((r for r in self.rows if r.row == name and r.server == server), None)

    def ratio(self, name: str, floor_name: str = "floor") -> float | None:
        """scimhub's CPU per request over a floor's: ``floor`` (canned bytes) or ``floor-built``."""
        mine, floor = self.row(name), self.row(name, floor_name)
        if mine is None or floor is None or not mine.cpu_us or not floor.cpu_us:
            return None
        return mine.cpu_us / floor.cpu_us

    def total_ratio(self, name: str) -> float | None:
        """Server plus database server CPU per request, as a multiple of the floor's."""
        mine, floor = self.row(name), self.row(name, "floor")
        if mine is None or floor is None or mine.db_cpu_s is None or not mine.total_cpu_us or not floor.cpu_us:
            return None
        return mine.total_cpu_us / floor.cpu_us

    @property
    def has_database_cpu(self) -> bool:
        return any(r.db_cpu_s is not None for r in self.rows)

    def to_json(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "db": self.db,
            "processes": self.processes,
            "seeded_directly": self.seeded,
            "created_over_http": self.http_created,
            "rows": [
                {
                    "row": mine.row,
                    "scimhub": mine.to_json(),
                    "floor": floor.to_json() if floor else None,
                    "floor_built": built.to_json() if (built := self.row(mine.row, BUILT)) else None,
                    "cpu_ratio_vs_floor": self.ratio(mine.row),
                    "cpu_ratio_vs_built_floor": self.ratio(mine.row, BUILT),
                    "cpu_with_database_ratio_vs_floor": self.total_ratio(mine.row),
                }
                for mine, floor in self.pairs()
            ],
            "peak_rss_kb": self.peak_kb,
            "peak_rss_kb_per_process": self.process_peaks_kb,
            "notes": self.notes,
        }


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    limit: str
    value: float | None
    met: bool | None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"target": self.name, "limit": self.limit, "value": self.value, "met": self.met, "note": self.note}


def _find(runs: list[SizeRun], size: int, db: str = "sqlite") -> SizeRun | None:
    return next((r for r in runs if r.size == size and r.db == db and r.processes == 1), None)


def _bound(name: str, limit: float, unit: str, value: float | None, note: str = "") -> Target:
    return Target(name, f"≤ {limit:g}{unit}", value, None if value is None else value <= limit, note)


def _ratio_targets(runs: list[SizeRun]) -> list[Target]:
    run = _find(runs, 100_000)
    specs = (
        ("a POST /Users, CPU x floor (100k)", ("a.post",), 3.0),
        ("b filter userName eq, CPU x floor (100k)", ("b.hit", "b.miss"), 2.0),
        ("c list page of 100, CPU x floor (100k)", ("c.index", "c.cursor"), 4.0),
        ("d PATCH active false, CPU x floor (100k)", ("d.entra", "d.okta"), 3.0),
        ("e GET /Groups excl. members, 100k group, CPU x floor", ("e.list",), 2.0),
        ("f PUT /Users/{id}, CPU x floor (100k)", ("f.put",), 3.5),
        ("f DELETE /Users/{id}, CPU x floor (100k)", ("f.delete",), 3.0),
    )
    targets = []
    for name, rows, limit in specs:
        values = [run.ratio(r) for r in rows] if run else []
        known = [v for v in values if v is not None]
        detail = ", ".join(f"{r} {v:.2f}x" for r, v in zip(rows, values, strict=False) if v is not None)
        built = [v for r in rows if run and (v := run.ratio(r, BUILT)) is not None]
        if built:
            detail += f"; x built floor: max {max(built):.2f}x"
        targets.append(_bound(name, limit, "x", max(known) if known else None, detail or "not run"))
    return targets


def _p50(run: SizeRun | None, row: str) -> float | None:
    found = run.row(row) if run else None
    return found.p50_ms if found else None


def _quotient(top: float | None, bottom: float | None) -> float | None:
    return top / bottom if top is not None and bottom else None


def _group_targets(runs: list[SizeRun]) -> list[Target]:
    run = _find(runs, 100_000)
    targets = []
    for kind in ("add", "remove"):
        big, small = _p50(run, f"e.{kind}1.big"), _p50(run, f"e.{kind}1.small")
        targets.append(_bound(f"one-member {kind} on a 100k group, p50", 3.0, " ms", big, "IdP-shaped (no query)"))
        targets.append(
            _bound(f"one-member {kind}: 100k group p50 / 100-member group p50", 2.0, "x", _quotient(big, small))
        )
    return targets


def _scaling_targets(runs: list[SizeRun]) -> list[Target]:
    million, small = _find(runs, 1_000_000), _find(runs, 10_000)
    eq = _quotient(_p50(million, "b.hit"), _p50(small, "b.hit"))
    cursor = million.row("c.cursor") if million else None
    end = cursor.extra.get("last_over_first") if cursor and cursor.extra.get("complete") else None
    peak_kb = million.peak_kb.get("scimhub") if million else None
    peak = peak_kb / 1024 if peak_kb else None
    return [
        _bound("eq filter p50 at 1M / at 10k", 1.5, "x", eq, "" if million else "1M not run"),
        _bound("cursor page at the end of 1M / first page (p50 of 10)", 1.5, "x", end, "" if million else "1M not run"),
        _bound("scimhub peak RSS (VmHWM) at 1M users", 150, " MB", peak, "" if million else "1M not run"),
    ]


def targets(runs: list[SizeRun]) -> list[Target]:
    return [*_ratio_targets(runs), *_group_targets(runs), *_scaling_targets(runs)]


# -- Markdown -------------------------------------------------------------------------------------
NONE = "-"


def _num(value: float | None, fmt: str = "{:,.0f}") -> str:
    return NONE if value is None else fmt.format(value)


def _ms(value: float | None) -> str:
    if value is None:
        return NONE
    return f"{value:,.1f}" if value >= 100 else f"{value:.2f}" if value >= 1 else f"{value:.3f}"


def _flags(row: Row) -> str:
    flags = []
    if row.unexpected:
        flags.append(f"{row.unexpected} bad")
    if row.stopped:
        flags.append("time-capped")
    if row.extra.get("complete") is False:
        flags.append("walk incomplete")
    return f" ({', '.join(flags)})" if flags else ""


HEADER = (
    "| scenario | requests | req/s | p50 ms | p99 ms | server CPU µs/req | req per CPU-s | x floor "
    "| floor µs/req | floor p50 ms | x built floor | built floor µs/req |"
    "\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
)
# With PostgreSQL part of the work is the database server's: its CPU, and the ratio of both to the floor.
DATABASE_HEADER = (
    "| scenario | requests | req/s | p50 ms | p99 ms | scimhub CPU µs/req | postgres CPU µs/req | x floor "
    "| x floor incl. postgres | floor µs/req | floor p50 ms | x built floor | built floor µs/req |"
    "\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
)


def _table_row(run: SizeRun, mine: Row, floor: Row | None) -> str:
    per_cpu = mine.requests / mine.cpu_s if mine.cpu_s > 0 else None
    cells = [
        f"{mine.label}{_flags(mine)}",
        f"{mine.requests:,}",
        _num(mine.rps),
        _ms(mine.p50_ms),
        _ms(mine.p99_ms),
        _num(mine.cpu_us),
        *([_num(mine.db_cpu_us)] if run.has_database_cpu else [_num(per_cpu)]),
        _num(run.ratio(mine.row), "{:.2f}x"),
        *([_num(run.total_ratio(mine.row), "{:.2f}x")] if run.has_database_cpu else []),
        _num(floor.cpu_us if floor else None),
        _ms(floor.p50_ms if floor else None),
        _num(run.ratio(mine.row, BUILT), "{:.2f}x"),
        _num(built.cpu_us if (built := run.row(mine.row, BUILT)) else None),
    ]
    return "| " + " | ".join(cells) + " |"


def _noise_note(run: SizeRun) -> list[str]:
    """Rows during which the machine (or the database server) also worked for others."""
    lines = []
    busy = [
        f"{r.row} {r.extra['other_cpu_s'] / r.wall_s:.2f}"
        for r in run.rows
        if r.server == "scimhub" and r.wall_s > 0 and r.extra.get("other_cpu_s", 0.0) > 0.1 * r.wall_s
    ]
    if busy:
        lines.append(
            "- other processes' CPU during the row, in cores (the machine was shared; figures above exclude it): "
            + ", ".join(busy)
        )
    noisy = [
        f"{r.row} {r.db_other_cpu_s:.2f} s"
        for r in run.rows
        if r.server == "scimhub" and r.db_other_cpu_s and r.db_other_cpu_s > 0.05 * max(r.db_cpu_s or 0.0, 0.2)
    ]
    if noisy:
        lines.append(
            "- PostgreSQL CPU not counted above (other databases' backends, or backends that ended): "
            + ", ".join(noisy)
        )
    return lines


def _walk_note(run: SizeRun) -> list[str]:
    lines = []
    for name in ("c.index", "c.cursor"):
        row = run.row(name)
        if row and row.extra:
            lines.append(
                f"- `{name}`: {row.extra['pages']:,} pages, {'complete' if row.extra['complete'] else 'INCOMPLETE'}; "
                f"p50 of the first 10 pages {_ms(row.extra['first_pages_p50_ms'])} ms, "
                f"of the last 10 {_ms(row.extra['last_pages_p50_ms'])} ms"
            )
    return lines


def size_markdown(run: SizeRun) -> str:
    title = f"### N = {run.size:,} users · {run.db}"
    if run.processes > 1:
        title += f" · {run.processes} scimhub processes (requests round-robin)"
    origin = (
        f"{run.seeded:,} users seeded directly through `ResourceService` (`--seed-direct`), "
        f"{run.http_created:,} created over HTTP"
        if run.seeded
        else f"all {run.http_created:,} users created over HTTP"
    )
    peaks = ", ".join(f"{k} {v / 1024:,.0f} MB" for k, v in run.peak_kb.items())
    per_process = run.process_peaks_kb.get("scimhub", [])
    if len(per_process) > 1:
        peaks += " (max of one process; each: " + ", ".join(f"{v / 1024:,.0f}" for v in per_process) + " MB)"
    lines = [title, "", origin + ".", "", DATABASE_HEADER if run.has_database_cpu else HEADER]
    lines += [_table_row(run, mine, floor) for mine, floor in run.pairs()]
    lines += ["", f"Peak RSS (VmHWM) at the end: {peaks or NONE}.", *_walk_note(run), *_noise_note(run)]
    lines += [f"- note: {n}" for n in run.notes]
    return "\n".join(lines)


def _verdict(target: Target) -> str:
    return "not measured" if target.met is None else "met" if target.met else "**missed**"


def targets_markdown(found: list[Target]) -> str:
    lines = [
        "### Targets (SQLite, one process)",
        "",
        "| target | limit | measured | verdict | detail |",
        "|---|---|--:|---|---|",
    ]
    for t in found:
        lines.append(f"| {t.name} | {t.limit} | {_num(t.value, '{:.2f}')} | {_verdict(t)} | {t.note} |")
    return "\n".join(lines)


def markdown(meta: dict[str, Any], runs: list[SizeRun], found: list[Target], skipped: list[str]) -> str:
    parts = [
        f"## scimhub benchmark, {meta['started']}",
        "",
        f"`{meta['command']}` · scimhub {meta['revision']} · {meta['machine']}"
        + (f" · load average {meta['loadavg_at_start']} at start" if "loadavg_at_start" in meta else "")
        + (f", {meta['loadavg_at_end']} at end" if "loadavg_at_end" in meta else ""),
        "",
        "Server CPU is the server processes' own CPU time (/proc, summed over `--processes`), divided by "
        "requests; `x floor` divides it by the floor server's for the same requests (bench/floor.py: canned "
        "bytes), `x built floor` by the previous floor's (bench/floor_built.py: answers built as dicts). "
        "On PostgreSQL, "
        "`postgres CPU` is the local PostgreSQL server's processes' CPU time (/proc) in the same interval, "
        "and `x floor incl. postgres` is (scimhub + postgres) / floor."
        + (
            f" The rows of scenarios a, b, d and f ran in {meta['rounds']} rounds, each server answering its "
            "share of the row in turn (a machine whose speed drifts slows them alike)."
            if meta.get("rounds", 1) > 1
            else ""
        ),
    ]
    parts += [f"\n{size_markdown(run)}" for run in runs]
    parts += ["", targets_markdown(found)]
    if skipped:
        parts += ["", *[f"- skipped: {s}" for s in skipped]]
    return "\n".join(parts) + "\n"
