"""Webhook delivery through real server processes to a receiver on localhost that verifies every
signature with the Standard Webhooks library: retries on schedule, a server killed mid-delivery,
two servers sharing one outbox, and private addresses refused."""

from __future__ import annotations

import functools
import itertools
import socket
import time
from collections.abc import Callable

import pytest

from tests.support.http import api, error_of, wait_for
from tests.support.server import Server
from tests.support.webhook_receiver import Receiver
from tests.webhooks.conftest import register

pytestmark = pytest.mark.integration


@pytest.fixture
def make_server(make_server: Callable[..., Server]) -> Callable[..., Server]:
    """No calls here: API processes without a media worker start in half the time."""
    return functools.partial(make_server, media_workers=0)


def test_a_test_event_arrives_signed_and_is_logged(
    make_server: Callable[..., Server], receiver: Receiver
) -> None:
    server = make_server()
    with api(server) as http:
        endpoint = register(http, receiver, description="ops", eventTypes=["session.ready"])
        assert str(endpoint["secret"]).startswith("whsec_")
        listed = http.get("/v1/webhooks").json()["data"]
        assert [e["id"] for e in listed] == [endpoint["id"]] and "secret" not in listed[0]
        assert http.get(f"/v1/webhooks/{endpoint['id']}/secret").json() == {
            "secret": endpoint["secret"]
        }
        sent = http.post(f"/v1/webhooks/{endpoint['id']}/test")
        assert sent.status_code == 200, sent.text
        event_id = sent.json()["eventId"]
        receiver.wait_for(lambda r: len(r.delivered()) == 1, 15)
        got = receiver.delivered()[0]
        assert got.id == event_id and got.type == "webhook.test"
        assert got.payload["data"]["endpointId"] == endpoint["id"]
        assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60
        assert receiver.rejected == []
        log = wait_for(
            lambda: http.get(f"/v1/webhooks/{endpoint['id']}/deliveries").json()["data"],
            lambda data: data and data[0]["status"] == "SUCCEEDED",
        )
        assert log[0]["eventId"] == event_id and log[0]["attempts"] == 1
        attempt = log[0]["log"][0]
        assert attempt["statusCode"] == 200 and attempt["error"] is None
        assert isinstance(attempt["responseMs"], int) and attempt["responseMs"] >= 0


def test_a_failing_receiver_gets_retries_with_exponential_back_off(
    make_server: Callable[..., Server], receiver: Receiver
) -> None:
    server = make_server(OPENCHARACTERS_WEBHOOK_RETRY_BASE_S="1")
    receiver.answer = lambda n: 500 if n < 3 else 204
    with api(server) as http:
        endpoint = register(http, receiver)
        http.post(f"/v1/webhooks/{endpoint['id']}/test").raise_for_status()
        receiver.wait_for(lambda r: len(r.delivered()) == 1, 30)
        tries = receiver.requests
        assert [r.answered for r in tries] == [500, 500, 500, 204]
        assert len({r.id for r in tries}) == 1, "a retry is the same message"
        gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(tries)]
        # 1 s, 2 s, 4 s after each failure; the loop polls every 0.2 s, this machine is busy.
        for gap, expected in zip(gaps, [1.0, 2.0, 4.0], strict=True):
            assert expected - 0.05 <= gap <= expected + 1.5, gaps
        log = wait_for(
            lambda: http.get(f"/v1/webhooks/{endpoint['id']}/deliveries").json()["data"][0],
            lambda d: d["status"] == "SUCCEEDED",
        )
        assert log["attempts"] == 4
        assert [a["statusCode"] for a in log["log"]] == [500, 500, 500, 204]
        assert log["log"][0]["error"] == "HTTP 500"


def test_attempts_run_out_and_the_delivery_fails(
    make_server: Callable[..., Server], receiver: Receiver
) -> None:
    server = make_server(
        OPENCHARACTERS_WEBHOOK_MAX_ATTEMPTS="2", OPENCHARACTERS_WEBHOOK_RETRY_BASE_S="0.3"
    )
    receiver.answer = lambda _: 503
    with api(server) as http:
        endpoint = register(http, receiver)
        http.post(f"/v1/webhooks/{endpoint['id']}/test").raise_for_status()
        failed = wait_for(
            lambda: http.get(
                f"/v1/webhooks/{endpoint['id']}/deliveries", params={"status": "FAILED"}
            ).json()["data"],
            bool,
        )
        assert failed[0]["attempts"] == 2 and failed[0]["lastStatusCode"] == 503
        assert failed[0]["nextAttemptAt"] is None
    assert len(receiver.requests) == 2


def test_a_server_killed_during_delivery_delivers_after_restart(
    make_server: Callable[..., Server], receiver: Receiver
) -> None:
    server = make_server()
    receiver.stall_s = lambda n: 20.0 if n == 0 else 0.0  # the first request hangs
    with api(server) as http:
        endpoint = register(http, receiver)
        event_id = http.post(f"/v1/webhooks/{endpoint['id']}/test").json()["eventId"]
    assert receiver.arrived.wait(15), "the first attempt never started"
    server.kill()  # mid-request: the attempt is neither logged nor settled
    server.start()
    # The dead process's lease (request timeout + 5 s) runs out, then it is sent again.
    receiver.wait_for(lambda r: len(r.requests) >= 2, 40)
    assert [r.id for r in receiver.requests[:2]] == [event_id, event_id]
    with api(server) as http:
        log = wait_for(
            lambda: http.get(f"/v1/webhooks/{endpoint['id']}/deliveries").json()["data"][0],
            lambda d: d["status"] == "SUCCEEDED",
        )
    assert log["eventId"] == event_id and log["log"][-1]["statusCode"] == 200


def test_two_servers_share_the_outbox_and_keep_order(
    make_server: Callable[..., Server], receiver: Receiver
) -> None:
    first = make_server()
    second = make_server()
    with api(first) as http:
        endpoint = register(http, receiver)
    ids: list[str] = []
    for n in range(12):  # alternate the servers that queue them; both deliver
        with api(first if n % 2 else second) as http:
            ids.append(http.post(f"/v1/webhooks/{endpoint['id']}/test").json()["eventId"])
    receiver.wait_for(lambda r: len(r.delivered()) >= len(ids), 60)
    time.sleep(1.0)  # a duplicate would arrive within this
    assert [r.id for r in receiver.requests] == ids, "each once, in the order queued"
    assert receiver.rejected == []


def test_private_addresses_are_refused_unless_allowed(
    make_server: Callable[..., Server], receiver: Receiver
) -> None:
    server = make_server(OPENCHARACTERS_WEBHOOK_ALLOW_PRIVATE="false")
    with api(server) as http:
        for url in (receiver.url, "http://10.0.0.7/hook", "http://[::1]:9/x", "http://localhost/"):
            refused = http.post("/v1/webhooks", json={"url": url})
            assert refused.status_code == 400, url
            message = error_of(refused)
            assert message.startswith("url:") and "OPENCHARACTERS_WEBHOOK_ALLOW_PRIVATE" in message
        # A name is checked where it is resolved, on every connection: this machine's own
        # name resolves to a private or loopback address, so the attempt is refused.
        own_name = socket.gethostname()
        port = receiver.url.split(":")[2].split("/")[0]
        created = http.post("/v1/webhooks", json={"url": f"http://{own_name}:{port}/hooks"})
        assert created.status_code == 200, created.text
        endpoint = created.json()
        receiver.secret = endpoint["secret"]
        http.post(f"/v1/webhooks/{endpoint['id']}/test").raise_for_status()
        attempt = wait_for(
            lambda: http.get(f"/v1/webhooks/{endpoint['id']}/deliveries").json()["data"][0],
            lambda d: d["attempts"] >= 1,
        )
        assert attempt["lastError"].startswith("refused:"), attempt
        assert attempt["lastStatusCode"] is None
    assert receiver.requests == []


BAD_REGISTRATIONS = [
    ({"url": "ftp://example.org/x"}, "url: must start with https:// or http://"),
    ({"url": "http://["}, "url: is not a valid URL"),
    ({"url": "https://exa mple.org/"}, "url: is not a valid URL"),
    ({"url": "https://example.org", "eventTypes": ["session.bogus"]}, "eventTypes[0]"),
    ({"url": "https://example.org", "secret": "nope"}, "secret: must be whsec_"),
    ({"url": "https://example.org", "colour": "red"}, "colour"),
]


def test_bad_registrations_name_the_field(make_server: Callable[..., Server]) -> None:
    server = make_server()
    with api(server) as http:
        for body, mentions in BAD_REGISTRATIONS:
            response = http.post("/v1/webhooks", json=body)
            assert response.status_code == 400, (body, response.text)
            assert mentions in error_of(response), body


def test_endpoints_can_be_changed_disabled_and_deleted(
    make_server: Callable[..., Server], receiver: Receiver
) -> None:
    server = make_server()
    with api(server) as http:
        endpoint = register(http, receiver)
        path = f"/v1/webhooks/{endpoint['id']}"
        changed = http.patch(path, json={"enabled": False, "eventTypes": ["task.failed"]})
        assert changed.status_code == 200, changed.text
        assert changed.json()["enabled"] is False
        assert changed.json()["eventTypes"] == ["task.failed"]
        http.post(f"{path}/test").raise_for_status()
        time.sleep(1.5)
        assert receiver.requests == [], "a disabled endpoint gets nothing"
        http.patch(path, json={"enabled": True}).raise_for_status()
        receiver.wait_for(lambda r: len(r.delivered()) == 1, 15)
        types = http.get("/v1/webhooks/event_types").json()["data"]
        assert {"session.completed", "conversation.ready", "task.succeeded"} <= {
            t["type"] for t in types
        }
        assert http.delete(path).status_code == 204
        assert http.get(path).status_code == 404
        assert http.get("/v1/webhooks").json()["data"] == []
