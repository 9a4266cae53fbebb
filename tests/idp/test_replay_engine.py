"""The replay engine itself: a matcher that passes everything would hollow out every scenario."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.idp.replay import MISSING
from tests.idp.replay import ScenarioError
from tests.idp.replay import bare_client
from tests.idp.replay import load_scenario
from tests.idp.replay import match
from tests.idp.replay import resolve
from tests.idp.replay import run_scenario
from tests.idp.replay import substitute

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@pytest.mark.parametrize(
    ("expected", "actual"),
    [
        ({"a": 1}, {"a": 1, "b": 2}),
        ({"a": {"b": [1, 2]}}, {"a": {"b": [1, 2], "c": 3}}),
        ([{"id": "x"}, {"id": "y"}], [{"id": "x", "n": 1}, {"id": "y"}]),
        ({"m": {"$contains": [{"v": 2}]}}, {"m": [{"v": 1}, {"v": 2}]}),
        ({"m": {"$excludes": [{"v": 3}]}}, {"m": [{"v": 1}]}),
        ({"m": {"$excludes": [{"v": 3}]}}, {}),
        ({"m": {"$each": {"id": {"$nonempty": True}}}}, {"m": [{"id": "a"}, {"id": "b"}]}),
        ({"m": {"$len": 2}}, {"m": [1, 2]}),
        ({"n": {"$type": "integer"}}, {"n": 3}),
        ({"n": {"$type": "number"}}, {"n": 3}),
        ({"s": {"$empty": True}}, {}),
        ({"s": {"$empty": True}}, {"s": ""}),
        ({"s": {"$empty": True}}, {"s": None}),
        ({"s": {"$absent": True}}, {"t": 1}),
        ({"s": {"$ne": "v1.0"}}, {"s": 'W/"2"'}),
        ({"s": {"$ci": "ABC"}}, {"s": "abc"}),
        ({"members": [{"$ref": None, "value": "1"}]}, {"members": [{"$ref": None, "value": "1"}]}),
    ],
)
def test_matches(expected: Any, actual: Any) -> None:
    assert match(expected, actual) == []


@pytest.mark.parametrize(
    ("expected", "actual", "message"),
    [
        ({"a": 1}, {"a": True}, "body.a: expected 1, got true"),
        ({"status": "404"}, {"status": 404}, 'body.status: expected "404", got 404'),
        ({"a": 1}, {}, "body.a: missing"),
        ([{"id": "x"}], [{"id": "x"}, {"id": "y"}], "expected 1 element(s), got 2"),
        ([{"id": "x"}, {"id": "y"}], [{"id": "y"}, {"id": "x"}], 'body[0].id: expected "x", got "y"'),
        ({"m": {"$contains": [{"v": 3}]}}, {"m": [{"v": 1}]}, "no element matches"),
        ({"m": {"$excludes": [{"v": 1}]}}, {"m": [{"v": 1}]}, "body.m[0]: must not match"),
        ({"m": {"$each": {"id": {"$nonempty": True}}}}, {"m": [{"id": ""}]}, "body.m[0].id: must not be empty"),
        ({"n": {"$type": "integer"}}, {"n": "3"}, "expected a JSON integer"),
        ({"n": {"$type": "integer"}}, {"n": True}, "expected a JSON integer"),
        ({"s": {"$empty": True}}, {"s": "x"}, "must be empty"),
        ({"s": {"$absent": True}}, {"s": None}, "must be absent"),
        ({"s": {"$ne": "v1.0"}}, {"s": "v1.0"}, "must not be"),
        ({"m": {"$len": 1}}, {"m": []}, "expected length 1"),
    ],
)
def test_mismatches_are_reported(expected: Any, actual: Any, message: str) -> None:
    errors = match(expected, actual)
    assert errors
    assert message in "\n".join(errors)


def test_resolve_handles_indices_and_urn_keys() -> None:
    doc = {"Resources": [{"id": "a"}], ENTERPRISE: {"manager": {"value": "m"}}, "name": {"givenName": "g"}}
    assert resolve(doc, "Resources.0.id") == "a"
    assert resolve(doc, "Resources[0].id") == "a"
    assert resolve(doc, f"{ENTERPRISE}.manager.value") == "m"
    assert resolve(doc, "name.givenName") == "g"
    assert resolve({"name.givenName": "literal"}, "name.givenName") == "literal"
    assert resolve(doc, "$") is doc
    assert resolve(doc, "Resources.1.id") is MISSING
    assert resolve(doc, "name.familyName") is MISSING


def test_substitute_keeps_json_types_for_whole_placeholders() -> None:
    variables = {"u.id": "42", "u.emails": [{"value": "a@b"}]}
    assert substitute({"emails": "{{u.emails}}", "path": "/Users/{{u.id}}"}, variables) == {
        "emails": [{"value": "a@b"}],
        "path": "/Users/42",
    }
    with pytest.raises(ScenarioError, match="was not captured"):
        substitute("/Users/{{g.id}}", variables)


def _write(tmp_path: Path, steps: Any) -> Path:
    path = tmp_path / "testdata" / "x" / "scenario.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(steps), encoding="utf-8")
    return path


STEP: dict[str, Any] = {
    "name": "list",
    "source": "O-REF",
    "quirk": "q",
    "request": {"method": "GET", "path": "/Users"},
    "expect": {"status": 200},
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"expcet": {}}, "unknown key"),
        ({"expect": {"status": 200, "body_contain": {}}}, "unknown key"),
        ({"expect": {"body_contains": {}}}, "expect.status is required"),
        ({"expect": {"status": 200, "body_contains": {"a": {"$contain": [1]}}}}, "unknown operator"),
        ({"request": {"method": "GET", "path": "Users"}}, "starting with '/'"),
        ({"quirk": ""}, "'quirk' must be a non-empty string"),
    ],
)
def test_malformed_scenarios_fail_loudly(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    path = _write(tmp_path, [{**STEP, **change}])
    with pytest.raises(ScenarioError, match=message):
        load_scenario(path)


@pytest.mark.anyio
async def test_a_failing_step_names_the_step_and_the_quirk(client: httpx2.AsyncClient, app: object) -> None:
    steps = [{**STEP, "quirk": "the quirk text", "expect": {"status": 201}}]
    async with bare_client(app) as bare:
        with pytest.raises(pytest.fail.Exception) as failure:
            await run_scenario("x/scenario.json", steps, client, bare)
    text = str(failure.value)
    assert "step 1/1 'list' (O-REF)" in text
    assert "quirk: the quirk text" in text
    assert "status: expected 201, got 200" in text


@pytest.mark.anyio
async def test_xfail_is_strict(client: httpx2.AsyncClient, app: object) -> None:
    async with bare_client(app) as bare:
        with pytest.raises(pytest.xfail.Exception, match="known gap"):
            await run_scenario("x", [{**STEP, "expect": {"status": 201}, "xfail": "known gap"}], client, bare)
        with pytest.raises(pytest.fail.Exception, match=r"marked xfail .* but passed"):
            await run_scenario("x", [{**STEP, "xfail": "known gap"}], client, bare)


@pytest.mark.anyio
async def test_captures_feed_later_steps_and_auth_steps_use_no_token(client: httpx2.AsyncClient, app: object) -> None:
    create = {
        **STEP,
        "name": "create",
        "request": {"method": "POST", "path": "/Users", "body": {"userName": "cap@example.com"}},
        "expect": {"status": 201},
        "capture": {"u.id": "id"},
    }
    read = {
        **STEP,
        "name": "read",
        "request": {"method": "GET", "path": "/Users/{{u.id}}"},
        "expect": {"status": 200, "body_contains": {"id": "{{u.id}}", "userName": "cap@example.com"}},
    }
    no_token = {
        **STEP,
        "name": "no token",
        "request": {"method": "GET", "path": "/Users", "auth": False},
        "expect": {"status": 401},
    }
    own_header = {
        **STEP,
        "name": "own header",
        "request": {"method": "GET", "path": "/Users", "headers": {"Authorization": "non-token"}},
        "expect": {"status": 401},
    }
    async with bare_client(app) as bare:
        await run_scenario("x", [create, read, no_token, own_header], client, bare)
