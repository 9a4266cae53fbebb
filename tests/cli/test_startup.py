"""What a command costs before it runs, `scimhub --version` and shell completion.

Every command used to import the whole server (Starlette, uvicorn's app, the webhook worker and
httpx2, Alembic with Mako and Pygments, the `limits` library): ~1 s before `tenant list` did
anything. These tests pin the imports, not a time: a fresh interpreter runs the command and
reports which packages it loaded.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from scimhub.admin.cli import main
from scimhub.settings import Settings
from scimhub.store import fast_reads
from tests.cli.support import Cli

# Needed only by `serve`, `db upgrade`, the webhook commands or the server itself.
SERVER_ONLY = ("uvicorn", "starlette", "alembic", "mako", "pygments", "httpx2", "limits", "scimhub.app", "scimhub.http")

_REPORT = """
import sys
{run}
print(__import__("orjson").dumps(sorted(sys.modules)).decode())
"""


def _modules_after(run: str, database_url: str = "sqlite://") -> set[str]:
    """The modules a fresh interpreter has loaded after ``run``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCIMHUB_")}
    env["SCIMHUB_DATABASE_URL"] = database_url
    code = _REPORT.format(run=run)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    loaded: list[str] = orjson.loads(done.stdout.splitlines()[-1])
    return set(loaded)


def _server_only(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(f"{p}.") for p in SERVER_ONLY))


def test_importing_the_cli_loads_neither_the_server_nor_the_database_layer() -> None:
    loaded = _modules_after("import scimhub.admin.cli")

    assert _server_only(loaded) == []
    assert "sqlalchemy" not in loaded  # `scimhub --help`, `--version` and completion need no database


def test_tenant_list_loads_nothing_only_the_server_needs(settings: Settings) -> None:
    run = "from scimhub.admin.cli import main; main(['tenant', 'list'], standalone_mode=False)"

    loaded = _modules_after(run, settings.database_url)

    assert "scimhub.store.sql" in loaded  # it did run against the database
    assert _server_only(loaded) == []


def test_importing_the_package_does_not_build_the_app() -> None:
    loaded = _modules_after("import scimhub; assert scimhub.__version__")

    assert "scimhub.app" not in loaded
    assert _modules_after("import scimhub; scimhub.create_app") >= {"scimhub.app", "starlette"}


def test_version() -> None:
    result = Cli("sqlite://")("--version")

    assert result.exit_code == 0
    assert result.output == f"scimhub, version {version('scimhub')}\n"


def test_bash_completion_script_and_completions() -> None:
    runner = CliRunner()
    script = runner.invoke(main, [], prog_name="scimhub", env={"_SCIMHUB_COMPLETE": "bash_source"})
    words = runner.invoke(
        main,
        [],
        prog_name="scimhub",
        env={"_SCIMHUB_COMPLETE": "bash_complete", "COMP_WORDS": "scimhub tenant ren", "COMP_CWORD": "2"},
    )

    assert script.exit_code == 0
    assert "complete -o nosort -F _scimhub_completion scimhub" in script.output
    assert words.output.split() == ["plain,rename"]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_installed_command_prints_its_completion_script(shell: str) -> None:
    command = Path(sys.executable).with_name("scimhub")
    env = {**os.environ, "_SCIMHUB_COMPLETE": f"{shell}_source"}

    done = subprocess.run([str(command)], capture_output=True, text=True, env=env, check=True)

    assert "_SCIMHUB_COMPLETE" in done.stdout


_SLOTS_LEFT_EMPTY = """
from scimhub.store import fast_reads, fast_writes
from scimhub.store.prepared import Prepared
import scimhub.store.factory  # the whole store, as a command loads it

statements = [v for m in (fast_reads, fast_writes) for v in vars(m).values() if isinstance(v, Prepared)]
empty = 0
for statement in statements:
    for slot in (Prepared.sql, Prepared.pg_sql):  # the slots' descriptors read them and never compile
        try:
            slot.__get__(statement)
        except AttributeError:
            empty += 1
print(len(statements), empty)
"""


def test_the_store_compiles_its_hot_statements_on_first_use_only() -> None:
    # Compiling the ~30 of them for both databases at import was a fifth of every command's start-up.
    done = subprocess.run([sys.executable, "-c", _SLOTS_LEFT_EMPTY], capture_output=True, text=True, check=True)
    statements, empty = map(int, done.stdout.split())

    assert statements > 20
    assert empty == 2 * statements
    assert "FROM tokens" in fast_reads.TOKEN.sql  # compiled when read
    assert fast_reads.TOKEN.names == ("digest",)
    assert "WHERE tokens.digest = $1" in fast_reads.TOKEN.pg_sql
