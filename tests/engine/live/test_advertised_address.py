"""The advertised address in WHIP answers: only its candidates, or host candidates under it."""

from __future__ import annotations

import pytest

from opencharacters.engine.live.advertised_address import advertise

pytestmark = pytest.mark.unit

ANSWER = "\r\n".join(
    [
        "v=0",
        "m=audio 40001 UDP/TLS/RTP/SAVPF 111",
        "c=IN IP4 10.0.0.5",
        "a=candidate:1 1 udp 2130706431 10.0.0.5 40001 typ host",
        "a=candidate:2 1 udp 2130706431 172.17.0.1 40002 typ host",
        "a=candidate:3 1 udp 2130706431 fd00::5 40003 typ host",
        "a=candidate:4 1 udp 1694498815 203.0.113.9 40001 typ srflx raddr 10.0.0.5 rport 40001",
        "a=end-of-candidates",
        "",
    ]
)


def candidates(sdp: str) -> list[str]:
    return [line for line in sdp.split("\r\n") if line.startswith("a=candidate:")]


def test_an_address_of_the_machine_keeps_only_its_candidates_and_the_reflexive_ones() -> None:
    answer = advertise(ANSWER, "10.0.0.5")
    assert candidates(answer) == [
        "a=candidate:1 1 udp 2130706431 10.0.0.5 40001 typ host",
        "a=candidate:4 1 udp 1694498815 203.0.113.9 40001 typ srflx raddr 10.0.0.5 rport 40001",
    ]
    assert "c=IN IP4 10.0.0.5" in answer and answer.endswith("a=end-of-candidates\r\n")


def test_an_address_behind_a_one_to_one_nat_replaces_the_host_candidates_of_its_family() -> None:
    answer = advertise(ANSWER, "198.51.100.7")
    assert candidates(answer) == [
        "a=candidate:1 1 udp 2130706431 198.51.100.7 40001 typ host",
        "a=candidate:2 1 udp 2130706431 198.51.100.7 40002 typ host",
        "a=candidate:3 1 udp 2130706431 fd00::5 40003 typ host",
        "a=candidate:4 1 udp 1694498815 203.0.113.9 40001 typ srflx raddr 10.0.0.5 rport 40001",
    ]
    assert "c=IN IP4 198.51.100.7" in answer


def test_the_setting_takes_only_an_ip_address() -> None:
    from pydantic import ValidationError

    from opencharacters.settings import Settings

    assert Settings(media_advertise_address="::ffff:10.0.0.5").media_advertise_address
    with pytest.raises(ValidationError, match="must be an IP address"):
        Settings(media_advertise_address="media.example.org")
