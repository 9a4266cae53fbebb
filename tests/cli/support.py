"""Driving ``scimhub`` through click's CliRunner, against the test database."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from click.testing import CliRunner
from click.testing import Result

from scimhub.admin.cli import main


@dataclass
class Cli:
    """``scimhub`` with SCIMHUB_DATABASE_URL set (and every other SCIMHUB_* variable unset).

    Each command runs in a thread of its own: the commands call ``asyncio.run``, which cannot run
    inside the event loop of an async test (the loop simply waits while the command runs).
    """

    database_url: str

    def env(self, **extra: str) -> dict[str, str | None]:
        env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("SCIMHUB_")}
        env["SCIMHUB_DATABASE_URL"] = self.database_url
        env.update(extra)
        return env

    def __call__(self, *args: str, **env: str) -> Result:
        return self.answer(None, *args, **env)

    def answer(self, stdin: str | None, *args: str, **env: str) -> Result:
        """Run with ``stdin`` as the input (the answers to its prompts)."""
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(CliRunner().invoke, main, list(args), stdin, env=self.env(**env)).result()

    def ok(self, *args: str, **env: str) -> list[str]:
        """Run, expect exit code 0, return stdout's lines."""
        result = self(*args, **env)
        assert result.exit_code == 0, (result.output, result.exception)
        return result.stdout.splitlines()
