"""Replay engine for recorded identity-provider traffic (``tests/idp/testdata/<idp>/*.json``).

The idea is elimity-com/scim's: what Okta and Microsoft Entra ID really send, and what they need
back, is kept as plain JSON data, one scenario per file, and replayed against the real ASGI app.
Every step names the line of ``IDP_QUIRKS.md`` it replays (``test_coverage.py`` checks that each
SENDS/REQ line has one).

A scenario file is a JSON list of steps, run in order against one fresh tenant::

    {
      "name": "create the user",                    unique in the file
      "source": "O-REF",                             a source tag of IDP_QUIRKS.md
      "quirk": "The create request is `POST …",     the IDP_QUIRKS line, abbreviated with "…"
      "request": {
        "method": "POST",
        "path": "/Users/{{user.id}}",                relative to /scim/v2, sent as written
        "headers": {"Content-Type": "application/json"},
        "body": {...},                               or "raw_body": "text sent as is"
        "auth": false                                optional: send no tenant token
      },
      "expect": {
        "status": 201,                               or a list of accepted statuses
        "headers": {"content-type": "application/scim+json"},
        "body_contains": {...},                      partial match of the whole body
        "paths": {"Resources.0.id": {"$nonempty": true}},
        "absent": ["password"],                      dotted paths that must be missing
        "no_nulls": true,                            no JSON null anywhere in the body
        "body_empty": true,                          no body at all
        "text_contains": ["User Account"],           substrings of the raw body
        "max_ms": 600                                response time bound
      },
      "capture": {"user.id": "id", "user.created": "$"},
      "xfail": "reason"                              a known server gap: the step must fail
    }

Requests: a body gets ``Content-Type: application/scim+json`` unless the step names one. A step
whose headers carry ``Authorization`` (Okta's literal ``Authorization: non-token``) or that says
``"auth": false`` goes through a bare client that holds no tenant token.

Placeholders: ``{{name}}`` in any string of ``request`` or ``expect`` is a value captured by an
earlier step. A string that is exactly one placeholder becomes the captured JSON value itself
(object, list, number...); inside a longer string it is inserted as text.

Expected headers: the response value must start with the given text (case-insensitive); ``null``
means the header must be absent.

Partial match (``body_contains`` and ``paths``):

- object: every given key is present and matches; the response may hold more keys;
- list: the same number of elements, matched element by element in order;
- scalar: equal, with JSON types (``true`` is not ``1``, ``"404"`` is not ``404``);
- an object with exactly one of these keys is an operator:
  ``$contains`` [...] each given item matches some element, in any order;
  ``$excludes`` [...] no element matches any given item (a missing attribute passes);
  ``$each`` {...} every element matches; ``$len`` n; ``$type`` one of string, integer,
  number, boolean, array, object, null; ``$nonempty`` true: present and not null, "", [] or {};
  ``$empty`` true: missing, null, "", [] or {}; ``$absent`` true: the key is missing;
  ``$ne`` value: anything but that value; ``$ci`` "text": a string equal ignoring case.

Dotted paths (``capture``, ``paths``, ``absent``): ``Resources.0.id`` or ``Resources[0].id``;
``$`` is the whole body. An object key that contains dots (the enterprise extension URN) is
matched whole: ``urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.manager.value``.

``xfail``: the runner calls ``pytest.xfail`` when the step fails, and fails the test when it
passes (strict), so a fixed server bug cannot hide behind a stale marker.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

TESTDATA = Path(__file__).parent / "testdata"
SCIM = "http://testserver/scim/v2"

STEP_KEYS = frozenset({"name", "source", "quirk", "request", "expect", "capture", "xfail"})
REQUEST_KEYS = frozenset({"method", "path", "headers", "body", "raw_body", "auth"})
EXPECT_KEYS = frozenset(
    {"status", "headers", "body_contains", "paths", "absent", "no_nulls", "body_empty", "text_contains", "max_ms"}
)
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
OPERATORS = frozenset(
    {"$contains", "$excludes", "$each", "$len", "$type", "$nonempty", "$empty", "$absent", "$ne", "$ci"}
)
# Operators that also hold when the attribute is missing altogether.
_MISSING_OK = frozenset({"$empty", "$absent", "$excludes"})
_PLACEHOLDER = re.compile(r"\{\{([^{}]+)\}\}")
_RESPONSE_EXCERPT = 1500


class ScenarioError(Exception):
    """The scenario file itself is wrong (not the server)."""


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


# -- loading ------------------------------------------------------------------------------


def scenario_files() -> list[Path]:
    return sorted(TESTDATA.glob("*/*.json"))


def scenario_id(path: Path) -> str:
    """``<idp>/<file>.json``, the test id of a scenario."""
    return f"{path.parent.name}/{path.name}"


def load_scenario(path: Path) -> list[dict[str, Any]]:
    """The steps of one file, checked for shape so that a typo fails loudly, not silently."""
    try:
        steps = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{scenario_id(path)} is not valid JSON: {exc}") from None
    if not isinstance(steps, list) or not steps:
        raise ScenarioError(f"{scenario_id(path)} must be a non-empty JSON list of steps")
    names: set[str] = set()
    for index, step in enumerate(steps, 1):
        _check_step(f"{scenario_id(path)} step {index}", step)
        if step["name"] in names:
            raise ScenarioError(f"{scenario_id(path)} step {index}: duplicate name {step['name']!r}")
        names.add(step["name"])
    return steps


def _check_step(where: str, step: Any) -> None:
    if not isinstance(step, dict):
        raise ScenarioError(f"{where}: a step must be an object")
    _check_keys(where, step, STEP_KEYS)
    for key in ("name", "source", "quirk"):
        if not isinstance(step.get(key), str) or not step[key].strip():
            raise ScenarioError(f"{where}: {key!r} must be a non-empty string")
    request, expect = step.get("request"), step.get("expect")
    if not isinstance(request, dict) or not isinstance(expect, dict):
        raise ScenarioError(f"{where}: 'request' and 'expect' must be objects")
    _check_keys(f"{where} request", request, REQUEST_KEYS)
    _check_keys(f"{where} expect", expect, EXPECT_KEYS)
    if request.get("method") not in METHODS:
        raise ScenarioError(f"{where}: request.method must be one of {sorted(METHODS)}")
    if not isinstance(request.get("path"), str) or not request["path"].startswith("/"):
        raise ScenarioError(f"{where}: request.path must be a string starting with '/'")
    if "body" in request and "raw_body" in request:
        raise ScenarioError(f"{where}: give 'body' or 'raw_body', not both")
    if "status" not in expect:
        raise ScenarioError(f"{where}: expect.status is required")
    capture = step.get("capture", {})
    if not isinstance(capture, dict) or not all(isinstance(v, str) for v in capture.values()):
        raise ScenarioError(f"{where}: 'capture' must map names to dotted paths")
    if "xfail" in step and (not isinstance(step["xfail"], str) or not step["xfail"].strip()):
        raise ScenarioError(f"{where}: 'xfail' must give the reason")
    _check_operators(where, expect.get("body_contains"))
    for value in expect.get("paths", {}).values():
        _check_operators(where, value)


def _check_keys(where: str, obj: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = set(obj) - allowed
    if unknown:
        raise ScenarioError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")


def _check_operators(where: str, expected: Any) -> None:
    """An object whose only key looks like an operator must be a known one ($ref is data)."""
    if isinstance(expected, dict):
        if len(expected) == 1:
            (key,) = expected
            if key.startswith("$") and key != "$ref" and key not in OPERATORS:
                raise ScenarioError(f"{where}: unknown operator {key!r}; known: {sorted(OPERATORS)}")
        for value in expected.values():
            _check_operators(where, value)
    elif isinstance(expected, list):
        for value in expected:
            _check_operators(where, value)


# -- placeholders and paths -----------------------------------------------------------------


def substitute(value: Any, variables: dict[str, Any]) -> Any:
    """Replace ``{{name}}`` placeholders by captured values (see the module docstring)."""
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value)
        if whole:
            return _lookup(whole.group(1), variables)
        return _PLACEHOLDER.sub(lambda m: _as_text(_lookup(m.group(1), variables)), value)
    if isinstance(value, dict):
        return {k: substitute(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, variables) for v in value]
    return value


def _lookup(name: str, variables: dict[str, Any]) -> Any:
    name = name.strip()
    if name not in variables:
        known = ", ".join(sorted(variables)) or "none yet"
        raise ScenarioError(f"placeholder {{{{{name}}}}} was not captured by an earlier step (captured: {known})")
    return variables[name]


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def resolve(doc: Any, path: str) -> Any:
    """The value at a dotted path, or MISSING. Keys containing dots (URNs) match whole."""
    if path == "$":
        return doc
    rest = path.replace("[", ".").replace("]", "")
    current = doc
    while rest:
        if isinstance(current, list):
            head, _, rest = rest.partition(".")
            if not head.isdigit() or int(head) >= len(current):
                return MISSING
            current = current[int(head)]
        elif isinstance(current, dict):
            keys = [k for k in current if rest == k or rest.startswith(f"{k}.")]
            if not keys:
                return MISSING
            key = max(keys, key=len)
            current = current[key]
            rest = rest[len(key) + 1 :]
        else:
            return MISSING
    return current


# -- matching ---------------------------------------------------------------------------------


def match(expected: Any, actual: Any, where: str = "body") -> list[str]:
    """Differences between a partial expectation and a JSON value, one message per difference."""
    operator = _operator(expected)
    if operator is not None:
        return _match_operator(operator, expected[operator], actual, where)
    if actual is MISSING:
        return [f"{where}: missing (expected {_short(expected)})"]
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object, got {_short(actual)}"]
        errors: list[str] = []
        for key, sub in expected.items():
            errors += match(sub, actual.get(key, MISSING), f"{where}.{key}")
        return errors
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{where}: expected a list, got {_short(actual)}"]
        if len(expected) != len(actual):
            return [f"{where}: expected {len(expected)} element(s), got {len(actual)}: {_short(actual)}"]
        errors = []
        for i, (exp, act) in enumerate(zip(expected, actual, strict=True)):
            errors += match(exp, act, f"{where}[{i}]")
        return errors
    if json_type(expected) != json_type(actual) or expected != actual:
        return [f"{where}: expected {_short(expected)}, got {_short(actual)}"]
    return []


def _operator(expected: Any) -> str | None:
    if isinstance(expected, dict) and len(expected) == 1:
        (key,) = expected
        if key in OPERATORS:
            return str(key)
    return None


def _match_operator(op: str, arg: Any, actual: Any, where: str) -> list[str]:
    if actual is MISSING and op not in _MISSING_OK and op != "$ne":
        return [f"{where}: missing (expected {op} {_short(arg)})"]
    if op == "$absent":
        return [] if actual is MISSING else [f"{where}: must be absent, got {_short(actual)}"]
    if op == "$empty":
        empty = actual is MISSING or actual in (None, "", [], {})
        return [] if empty else [f"{where}: must be empty, got {_short(actual)}"]
    if op == "$nonempty":
        return [f"{where}: must not be empty, got {_short(actual)}"] if actual in (None, "", [], {}) else []
    if op == "$ne":
        return [f"{where}: must not be {_short(arg)}"] if actual is not MISSING and not match(arg, actual) else []
    if op == "$type":
        got = json_type(actual, integers=True)
        ok = got == arg or (arg == "number" and got in ("integer", "number"))
        return [] if ok else [f"{where}: expected a JSON {arg}, got {_short(actual)}"]
    if op == "$ci":
        ok = isinstance(actual, str) and actual.casefold() == str(arg).casefold()
        return [] if ok else [f"{where}: expected {_short(arg)} ignoring case, got {_short(actual)}"]
    if op == "$len":
        size = len(actual) if isinstance(actual, list | dict | str) else None
        return [] if size == arg else [f"{where}: expected length {arg}, got {size}: {_short(actual)}"]
    if op == "$excludes" and actual is MISSING:
        return []
    if not isinstance(actual, list):
        return [f"{where}: {op} needs a list, got {_short(actual)}"]
    if op == "$each":
        errors: list[str] = []
        for i, item in enumerate(actual):
            errors += match(arg, item, f"{where}[{i}]")
        return errors
    if op == "$contains":
        return [
            f"{where}: no element matches {_short(item)}; elements: {_short(actual)}"
            for item in arg
            if not any(not match(item, element) for element in actual)
        ]
    if op == "$excludes":
        return [
            f"{where}[{i}]: must not match {_short(item)}, got {_short(element)}"
            for item in arg
            for i, element in enumerate(actual)
            if not match(item, element)
        ]
    raise ScenarioError(f"unknown operator {op}")


def json_type(value: Any, *, integers: bool = False) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer" if integers else "number"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "missing" if value is MISSING else type(value).__name__


def null_paths(value: Any, where: str = "body") -> Iterator[str]:
    if value is None:
        yield where
    elif isinstance(value, dict):
        for key, sub in value.items():
            yield from null_paths(sub, f"{where}.{key}")
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from null_paths(sub, f"{where}[{i}]")


def _short(value: Any, limit: int = 300) -> str:
    text = repr(value) if value is MISSING else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else f"{text[:limit]}…"


# -- running ------------------------------------------------------------------------------------


def bare_client(app: object) -> httpx2.AsyncClient:
    """A client on the app that holds no tenant token (for authentication steps)."""
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=SCIM)  # type: ignore[arg-type]


def check_response(expect: dict[str, Any], response: httpx2.Response, elapsed_ms: float) -> list[str]:
    statuses = expect["status"] if isinstance(expect["status"], list) else [expect["status"]]
    if response.status_code not in statuses:
        wanted = " or ".join(str(s) for s in statuses)
        return [f"status: expected {wanted}, got {response.status_code}"]
    errors: list[str] = []
    for name, wanted in expect.get("headers", {}).items():
        got = response.headers.get(name)
        if wanted is None:
            if got is not None:
                errors.append(f"header {name}: must be absent, got {got!r}")
        elif got is None or not got.casefold().startswith(str(wanted).casefold()):
            errors.append(f"header {name}: expected {wanted!r}, got {got!r}")
    if "max_ms" in expect and elapsed_ms > expect["max_ms"]:
        errors.append(f"time: expected under {expect['max_ms']} ms, took {elapsed_ms:.0f} ms")
    if expect.get("body_empty"):
        if response.content:
            errors.append(f"body: must be empty, got {response.text[:200]!r}")
        return errors
    for text in expect.get("text_contains", []):
        if text not in response.text:
            errors.append(f"body text: does not contain {text!r}")
    wants_json = any(k in expect for k in ("body_contains", "paths", "absent", "no_nulls"))
    if not wants_json:
        return errors
    body = parse_body(response)
    if body is MISSING:
        return [*errors, "body: expected JSON, got none or non-JSON text"]
    if "body_contains" in expect:
        errors += match(expect["body_contains"], body)
    for path, wanted in expect.get("paths", {}).items():
        errors += match(wanted, resolve(body, path), f"body.{path}")
    for path in expect.get("absent", []):
        found = resolve(body, path)
        if found is not MISSING:
            errors.append(f"body.{path}: must be absent, got {_short(found)}")
    if expect.get("no_nulls"):
        errors += [f"{where}: null values are not allowed here" for where in null_paths(body)]
    return errors


def parse_body(response: httpx2.Response) -> Any:
    if not response.content:
        return MISSING
    try:
        return json.loads(response.content)
    except ValueError:
        return MISSING


async def run_scenario(
    label: str, steps: list[dict[str, Any]], client: httpx2.AsyncClient, bare: httpx2.AsyncClient
) -> None:
    """Run the steps in order; the first failing step fails the test with a full report."""
    variables: dict[str, Any] = {}
    for index, step in enumerate(steps, 1):
        title = f"[{label}] step {index}/{len(steps)} {step['name']!r} ({step['source']})"
        try:
            request = substitute(step["request"], variables)
            expect = substitute(step["expect"], variables)
        except ScenarioError as exc:
            pytest.fail(f"{title}: {exc}", pytrace=False)
        response, elapsed_ms = await _send(request, client, bare)
        errors = check_response(expect, response, elapsed_ms)
        if not errors:
            errors = _capture(step.get("capture", {}), response, variables)
        if "xfail" in step:
            if errors:
                pytest.xfail(f"{title}: {step['xfail']}")
            pytest.fail(f"{title} is marked xfail ({step['xfail']}) but passed: remove the marker", pytrace=False)
        if errors:
            pytest.fail(_report(title, step, request, response, errors), pytrace=False)


async def _send(
    request: dict[str, Any], client: httpx2.AsyncClient, bare: httpx2.AsyncClient
) -> tuple[httpx2.Response, float]:
    headers = dict(request.get("headers", {}))
    content: bytes | None = None
    if "body" in request:
        content = json.dumps(request["body"]).encode()
    elif "raw_body" in request:
        content = str(request["raw_body"]).encode()
    if content is not None and not any(k.casefold() == "content-type" for k in headers):
        headers["Content-Type"] = "application/scim+json"
    own_auth = any(k.casefold() == "authorization" for k in headers)
    target = bare if own_auth or request.get("auth") is False else client
    started = time.perf_counter()
    response = await target.request(request["method"], request["path"], content=content, headers=headers)
    return response, (time.perf_counter() - started) * 1000


def _capture(capture: dict[str, str], response: httpx2.Response, variables: dict[str, Any]) -> list[str]:
    body = parse_body(response)
    errors = []
    for name, path in capture.items():
        value = resolve(body, path)
        if value is MISSING:
            errors.append(f"capture {name!r}: nothing at {path!r} in the response")
        else:
            variables[name] = value
    return errors


def _report(
    title: str, step: dict[str, Any], request: dict[str, Any], response: httpx2.Response, errors: list[str]
) -> str:
    text = response.text
    if len(text) > _RESPONSE_EXCERPT:
        text = f"{text[:_RESPONSE_EXCERPT]}…"
    lines = [
        f"{title} failed",
        f"  quirk: {step['quirk']}",
        f"  request: {request['method']} {request['path']}",
        *(f"  - {e}" for e in errors),
        f"  response {response.status_code} {response.headers.get('content-type', '')}: {text}",
    ]
    return "\n".join(lines)
