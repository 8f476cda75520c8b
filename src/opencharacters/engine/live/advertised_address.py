"""The address a worker's WHIP answers offer callers' media (`--advertise-address`).

aiortc gathers a host candidate on every interface of the machine; a worker on a host with
several networks (a private one to the database, a public one to callers, container bridges)
would offer all of them and callers would try addresses they cannot reach. With an advertised
address the answer keeps only the candidates on it; when none is on it (the host sits behind a
1:1 NAT, e.g. a cloud VM's public address), the host candidates are offered under that address
instead, on the ports the worker listens on, the way media servers' `nat_1_1` settings do.
Server-reflexive and relay candidates (from configured STUN/TURN servers) stay as they are."""

from __future__ import annotations

import ipaddress


def advertise(sdp: str, address: str) -> str:
    lines = sdp.split("\r\n")
    candidates = [fields for line in lines if (fields := _candidate(line)) is not None]
    if not any(fields[4] == address for fields in candidates):
        return "\r\n".join(_rewritten(line, address) for line in lines)
    kept = [line for line in lines if _keeps(line, address)]
    return "\r\n".join(_connection_line(line, address) for line in kept)


def _candidate(line: str) -> list[str] | None:
    if not line.startswith("a=candidate:"):
        return None
    fields = line[len("a=") :].split()
    return fields if len(fields) >= 8 and fields[6] == "typ" else None


def _keeps(line: str, address: str) -> bool:
    fields = _candidate(line)
    return fields is None or fields[4] == address or fields[7] != "host"


def _rewritten(line: str, address: str) -> str:
    fields = _candidate(line)
    if fields is None:
        return _connection_line(line, address)
    if fields[7] != "host" or _family(fields[4]) != _family(address):
        return line
    fields[4] = address
    return "a=" + " ".join(fields)


def _connection_line(line: str, address: str) -> str:
    """`c=` names the default candidate's address; it is the advertised one now."""
    if line.startswith("c=IN IP"):
        return f"c=IN IP{_family(address)} {address}"
    return line


def _family(address: str) -> int:
    try:
        return ipaddress.ip_address(address).version
    except ValueError:
        return 0
