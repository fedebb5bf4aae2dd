"""The statistics-service emulator against the real service's contract and behaviour."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
from typing import Any
from unittest import mock

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request
from hypothesis import given, settings, strategies as st
import pytest

from simulator import stats_service
from simulator.stats_service import (
    VALID_INSTALLATION_ID,
    StatsServiceEmulator,
    valid_report,
    validate_report,
)

CONTRACT = Path(__file__).parent / "fixtures/contract"
SCHEMA = json.loads((CONTRACT / "aggregation-submit.schema.json").read_text())
KEY = {"X-API-Key": "test-key"}
T0 = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
JSON = {"Content-Type": "application/json"}
OK = {"status": "success", "message": "Statistics submitted successfully"}

pytestmark = pytest.mark.usefixtures("socket_enabled")

type Client = TestClient[Any, Any]


class Clock:
    """A settable clock for the rate-limit window."""

    def __init__(self) -> None:
        self.value = T0

    def __call__(self) -> datetime:
        return self.value


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(clock: Clock) -> StatsServiceEmulator:
    return StatsServiceEmulator(now=clock)


@pytest.fixture
async def client(service: StatsServiceEmulator) -> AsyncIterator[Client]:
    async with TestClient(TestServer(service.app, host="127.0.0.1")) as test_client:
        yield test_client


async def submit(
    client: Client, body: Any, **headers: str
) -> tuple[int, Any, aiohttp.ClientResponse]:
    response = await client.post("/submit", json=body, headers={**KEY, **headers})
    return response.status, await response.json(), response


def _required_paths() -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = [(name,) for name in SCHEMA["required"]]
    for name, sub in SCHEMA["properties"].items():
        if "$ref" in sub:
            model = SCHEMA["$defs"][sub["$ref"].rsplit("/", 1)[1]]
            paths += [(name, field) for field in model.get("required", ())]
    return paths


async def test_bare_date_first_seen_refused(
    client: Client, service: StatsServiceEmulator
) -> None:
    body = valid_report(installation={"first_seen": "2026-11-20"})
    status, answer, _ = await submit(client, body)
    assert status == 422
    [error] = answer["detail"]
    assert error["type"] == "datetime_parsing"
    assert error["loc"] == ["body", "installation", "first_seen"]
    assert error["input"] == "2026-11-20"
    assert error["msg"] == (
        "Input should be a valid datetime, invalid datetime separator,"
        " expected `T`, `t`, `_` or space"
    )
    assert service.submissions == []
    body["installation"]["first_seen"] = "2026-11-20T00:00:00+00:00"
    status, answer, _ = await submit(client, body)
    assert status == 200
    assert answer == {**OK, "submission_id": 1}
    assert service.accepted == [body]


async def test_auth(client: Client, service: StatsServiceEmulator) -> None:
    for headers, status, detail in (
        ({}, 403, "Not authenticated"),
        ({"X-API-Key": ""}, 403, "Not authenticated"),
        ({"X-API-Key": "wrong"}, 401, "Invalid API key"),
    ):
        response = await client.post("/submit", json=valid_report(), headers=headers)
        assert (response.status, await response.json()) == (status, {"detail": detail})
        response = await client.delete(
            f"/installation/{VALID_INSTALLATION_ID}", headers=headers
        )
        assert (response.status, await response.json()) == (status, {"detail": detail})
    assert service.submissions == []
    assert service.deleted_ids == []
    # FastAPI parses the body before it checks the key.
    response = await client.post("/submit", data="{", headers=JSON)
    [error] = (await response.json())["detail"]
    assert (response.status, error["type"], error["loc"]) == (
        422,
        "json_invalid",
        ["body", 1],
    )


async def test_rate_limit_fixed_window(
    client: Client, service: StatsServiceEmulator, clock: Clock
) -> None:
    assert (await submit(client, valid_report()))[0] == 200
    clock.value = T0 + timedelta(minutes=59)
    status, answer, response = await submit(client, valid_report())
    assert status == 429
    assert answer == {"detail": "Rate limit exceeded. Maximum 1 submissions per hour."}
    assert "Retry-After" not in response.headers
    other = valid_report(installation={"installation_id": "someone-else"})
    assert (await submit(client, other))[0] == 200
    clock.value = T0 + timedelta(hours=1)  # the window closes strictly after one hour
    assert (await submit(client, valid_report()))[0] == 429
    clock.value = T0 + timedelta(hours=1, seconds=1)
    status, answer, _ = await submit(client, valid_report())
    assert (status, answer["submission_id"]) == (200, 3)
    assert [entry[2] for entry in service.log] == [200, 429, 200, 429, 200]
    assert len(service.submissions_for(VALID_INSTALLATION_ID)) == 2


async def test_resent_report_is_stored_twice(
    client: Client, service: StatsServiceEmulator
) -> None:
    service.rate_limit_per_hour = 2
    body = valid_report()
    first = await submit(client, body, **{"Idempotency-Key": "same"})
    second = await submit(client, body, **{"Idempotency-Key": "same"})
    assert first[0] == second[0] == 200
    assert first[1]["submission_id"] != second[1]["submission_id"]
    assert [s.idempotency_key for s in service.submissions] == ["same", "same"]
    assert service.accepted == [body, body]


async def test_unknown_fields_ignored(
    client: Client, service: StatsServiceEmulator
) -> None:
    body = valid_report(
        hostname="x", installation={"serial": 1}, usage_stats={"new": []}
    )
    assert (await submit(client, body))[0] == 200
    assert service.accepted == [body]


async def test_delete(client: Client, service: StatsServiceEmulator) -> None:
    response = await client.delete("/installation/nobody", headers=KEY)
    assert response.status == 200
    assert await response.json() == {
        "status": "success",
        "deleted_count": 0,
        "message": "Deleted 0 submissions for installation nobody",
    }
    assert (await submit(client, valid_report()))[0] == 200
    response = await client.delete(
        f"/installation/{VALID_INSTALLATION_ID}", headers=KEY
    )
    assert (await response.json())["deleted_count"] == 1
    assert service.submissions == []
    # The window is gone too; SQLite hands out the freed id again.
    assert (await submit(client, valid_report()))[:2] == (
        200,
        {**OK, "submission_id": 1},
    )
    assert service.deleted_ids == ["nobody", VALID_INSTALLATION_ID]


async def test_injected_failures(client: Client, service: StatsServiceEmulator) -> None:
    service.fail_next(500)
    service.fail_next(503, retry_after="120")
    service.fail_next(500, endpoint="delete")
    status, answer, response = await submit(client, valid_report())
    assert (status, answer) == (500, {"detail": "Failed to process submission"})
    assert "Retry-After" not in response.headers
    status, answer, response = await submit(client, valid_report())
    assert (status, response.headers["Retry-After"]) == (503, "120")
    response = await client.delete("/installation/x", headers=KEY)
    assert (response.status, await response.json()) == (
        500,
        {"detail": "Failed to delete data"},
    )
    service.reset_next = 1
    with pytest.raises(aiohttp.ClientError):
        await submit(client, valid_report())
    service.down = True
    assert (await submit(client, valid_report()))[0] == 503
    service.down = False
    assert service.submissions == []
    assert (await submit(client, valid_report()))[0] == 200
    assert [entry[2] for entry in service.log] == [500, 503, 500, 0, 503, 200]
    assert service.log[0][1] == VALID_INSTALLATION_ID


@pytest.mark.parametrize("path", _required_paths(), ids=".".join)
async def test_required_field_missing(client: Client, path: tuple[str, ...]) -> None:
    body = valid_report()
    parent = body if len(path) == 1 else body[path[0]]
    del parent[path[-1]]
    status, answer, _ = await submit(client, body)
    assert status == 422
    missing = {"type": "missing", "loc": ["body", *path], "msg": "Field required"}
    assert answer["detail"] == [{**missing, "input": parent}]


def test_error_shapes_follow_pydantic() -> None:
    body = valid_report(
        installation={"python_version": 3},
        printer_fleet={"printer_count": -1, "printer_types": "x"},
        usage_stats={"job_count": 1.5, "feature_usage": {"a": "yes"}},
        error_summary=[],
        period=5,
    )
    errors = validate_report(body)
    assert [(e["type"], e["loc"][1:]) for e in errors] == [
        ("model_attributes_type", ["period"]),
        ("string_type", ["installation", "python_version"]),
        ("greater_than_equal", ["printer_fleet", "printer_count"]),
        ("list_type", ["printer_fleet", "printer_types"]),
        ("int_from_float", ["usage_stats", "job_count"]),
        ("bool_type", ["usage_stats", "feature_usage", "a"]),
        ("dict_type", ["error_summary"]),
    ]
    assert errors[2]["ctx"] == {"ge": 0}
    assert validate_report([])[0]["type"] == "model_attributes_type"


@settings(max_examples=50, deadline=None)
@given(st.datetimes(timezones=st.just(UTC)))
def test_date_times_need_time_and_offset(moment: datetime) -> None:
    assert validate_report(valid_report(submission_timestamp=moment.isoformat())) == []
    naive = validate_report(
        valid_report(submission_timestamp=moment.replace(tzinfo=None).isoformat())
    )
    assert [e["type"] for e in naive] == ["datetime_parsing"]
    bare = validate_report(valid_report(submission_timestamp=moment.date().isoformat()))
    assert [e["type"] for e in bare] == ["datetime_parsing"]


async def test_root_and_health(client: Client) -> None:
    response = await client.get("/")
    assert await response.json() == {
        "service": "Printernizer Usage Statistics Aggregation",
        "status": "healthy",
        "version": "1.0.0",
    }
    response = await client.get("/health")
    assert await response.json() == {
        "status": "healthy",
        "timestamp": "2026-11-20T09:30:00",
        "database": "connected",
    }
    response = await client.get("/nowhere")
    assert (response.status, await response.json()) == (404, {"detail": "Not Found"})


@pytest.fixture
async def controlled(
    clock: Clock,
) -> AsyncIterator[tuple[StatsServiceEmulator, Client]]:
    service = StatsServiceEmulator(now=clock, control=True)
    async with TestClient(TestServer(service.app, host="127.0.0.1")) as test_client:
        yield service, test_client


async def order(client: Client, **body: Any) -> tuple[int, Any]:
    response = await client.post("/_control", json=body)
    return response.status, await response.json()


async def test_control_route_only_when_asked(client: Client) -> None:
    """The real service has no /_control: neither has the emulator in tests."""
    for method in ("GET", "POST"):
        response = await client.request(method, "/_control")
        assert (response.status, await response.json()) == (
            404,
            {"detail": "Not Found"},
        )


async def test_control_modes(
    controlled: tuple[StatsServiceEmulator, Client],
) -> None:
    """refuse-key, rate-limit and fail answer as the real service would, until normal."""
    service, client = controlled
    delete = f"/installation/{VALID_INSTALLATION_ID}"
    assert (await order(client, mode="refuse-key"))[1]["mode"] == "refuse-key"
    assert (await submit(client, valid_report()))[:2] == (
        401,
        {"detail": "Invalid API key"},
    )
    response = await client.delete(delete, headers=KEY)
    assert (response.status, await response.json()) == (
        401,
        {"detail": "Invalid API key"},
    )
    response = await client.post("/submit", json=valid_report())
    assert response.status == 403  # no key at all is still FastAPI's 403
    await order(client, mode="rate-limit")
    status, answer, response = await submit(client, valid_report())
    assert (status, answer) == (
        429,
        {"detail": "Rate limit exceeded. Maximum 1 submissions per hour."},
    )
    assert "Retry-After" not in response.headers
    assert (await client.delete(delete, headers=KEY)).status == 200  # no limit there
    await order(client, mode="fail", status=503)
    assert (await submit(client, valid_report()))[:2] == (
        503,
        {"detail": "Failed to process submission"},
    )
    response = await client.delete(delete, headers=KEY)
    assert (response.status, await response.json()) == (
        503,
        {"detail": "Failed to delete data"},
    )
    assert service.submissions == []
    status, answer = await order(client, mode="normal")
    assert (status, answer["mode"], answer["fail_status"]) == (200, "normal", None)
    assert (await submit(client, valid_report()))[0] == 200
    response = await client.get("/_control")
    state = await response.json()
    assert state["stored_reports"] == 1
    assert state["last_report"] == valid_report()
    assert state["deleted_ids"] == [VALID_INSTALLATION_ID]
    assert [(r["method"], r["path"], r["status"]) for r in state["received"]] == [
        ("POST", "/submit", 401),
        ("DELETE", delete, 401),
        ("POST", "/submit", 403),
        ("POST", "/submit", 429),
        ("DELETE", delete, 200),
        ("POST", "/submit", 503),
        ("DELETE", delete, 503),
        ("POST", "/submit", 200),
    ]
    assert state["received"][0]["installation_id"] == VALID_INSTALLATION_ID
    assert [entry[2] for entry in service.log] == [
        r["status"] for r in state["received"]
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "sleep"},
        {"mode": "fail"},
        {"mode": "fail", "status": 404},
        {"mode": "fail", "status": "503"},
        {},
    ],
)
async def test_control_refuses_bad_orders(
    controlled: tuple[StatsServiceEmulator, Client], body: dict[str, Any]
) -> None:
    service, client = controlled
    status, answer = await order(client, **body)
    assert status == 400
    assert answer["detail"]
    assert service.mode == "normal"
    response = await client.post("/_control", data="{")
    assert response.status == 400


async def test_control_only_from_loopback() -> None:
    """A client from another address can neither read nor change the mode."""
    service = StatsServiceEmulator(control=True)
    transport = mock.Mock()
    transport.get_extra_info.return_value = ("192.0.2.7", 40000)
    for handler in (service._control_get, service._control_post):
        request = make_mocked_request("POST", "/_control", transport=transport)
        response = await handler(request)
        assert response.status == 403
    assert service.mode == "normal"


def test_command_line_serves_the_controls(monkeypatch: pytest.MonkeyPatch) -> None:
    """python -m simulator.stats_service has /_control; loopback addresses only."""
    served: list[web.Application] = []
    monkeypatch.setattr(web, "run_app", lambda app, **kwargs: served.append(app))
    stats_service.main(["--port", "0", "--api-key", "dev-key"])
    [app] = served
    assert any(r.resource.canonical == "/_control" for r in app.router.routes())
    with pytest.raises(SystemExit):
        stats_service.main(["--host", "192.0.2.7"])
