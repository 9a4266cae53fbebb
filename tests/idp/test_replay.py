"""Replay every recorded Okta and Entra ID scenario (``testdata/<idp>/*.json``) against the app.

The step format, the matching rules and the ``xfail`` marker are described in ``replay.py``.
Each file runs in a fresh tenant ("acme") through the ``client`` fixture; authentication steps
use a bare client on the same app.
"""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest

from tests.idp.replay import TESTDATA
from tests.idp.replay import bare_client
from tests.idp.replay import load_scenario
from tests.idp.replay import run_scenario
from tests.idp.replay import scenario_files
from tests.idp.replay import scenario_id

SCENARIOS = scenario_files()


@pytest.mark.anyio
@pytest.mark.parametrize("path", SCENARIOS, ids=[scenario_id(p) for p in SCENARIOS])
async def test_replay(path: Path, client: httpx2.AsyncClient, app: object) -> None:
    steps = load_scenario(path)
    async with bare_client(app) as bare:
        await run_scenario(scenario_id(path), steps, client, bare)


@pytest.mark.parametrize("idp", ["okta", "entra"])
def test_every_idp_has_recorded_scenarios(idp: str) -> None:
    files = sorted((TESTDATA / idp).glob("*.json"))
    assert files, f"no scenario files in {TESTDATA / idp}"
