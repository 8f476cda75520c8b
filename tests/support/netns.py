"""Hosts for tests on one machine: Linux network namespaces on a bridge, each with its own
address, as separate machines on one network look to each other (needs root, as CI runs).

The test process stays on the host side, which holds the bridge's address; a command started
with a host's `prefix` runs inside that host and sees only its own interface and loopback."""

from __future__ import annotations

import contextlib
import ipaddress
import random
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Host:
    name: str
    address: str

    @property
    def prefix(self) -> list[str]:
        """Put before a command to run it on this host."""
        return ["ip", "netns", "exec", self.name]


class NamespacesRefused(RuntimeError):
    """This machine does not let the tests create network namespaces (not root, no CAP_NET_ADMIN,
    or a container without them)."""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=10)


def _unused_subnet() -> ipaddress.IPv4Network:
    taken = subprocess.run(
        ["ip", "-4", "-o", "addr"], check=True, capture_output=True, text=True
    ).stdout
    for _ in range(50):
        subnet = ipaddress.ip_network(
            f"10.{random.randint(160, 250)}.{random.randint(0, 255)}.0/24"
        )
        if not any(
            ipaddress.ip_interface(word).ip in subnet
            for line in taken.splitlines()
            for word in line.split()
            if "/" in word and word[0].isdigit()
        ):
            return subnet
    raise RuntimeError("no free 10.x.y.0/24 subnet for the test hosts")


@contextlib.contextmanager
def hosts(count: int) -> Iterator[tuple[str, list[Host]]]:
    """(the host side's address, `count` hosts); everything is removed afterwards, also when
    the test fails. Raises NamespacesRefused where namespaces cannot be made."""
    tag = uuid.uuid4().hex[:6]
    bridge = f"ocbr{tag}"
    subnet = _unused_subnet()
    gateway = str(subnet[1])
    made: list[Host] = []
    try:
        try:
            _ip("link", "add", bridge, "type", "bridge")
        except (subprocess.CalledProcessError, FileNotFoundError) as error:
            raise NamespacesRefused(f"creating a bridge was refused: {error}") from error
        _ip("addr", "add", f"{gateway}/{subnet.prefixlen}", "dev", bridge)
        _ip("link", "set", bridge, "up")
        for index in range(count):
            host = Host(f"oc-{tag}-{index}", str(subnet[index + 2]))
            try:
                _ip("netns", "add", host.name)
            except subprocess.CalledProcessError as error:
                raise NamespacesRefused(f"`ip netns add` was refused: {error.stderr}") from error
            made.append(host)
            outside, inside = f"oc{tag}{index}h", f"oc{tag}{index}n"
            _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
            _ip("link", "set", outside, "master", bridge)
            _ip("link", "set", outside, "up")
            _ip("link", "set", inside, "netns", host.name)
            run = ["-n", host.name]
            _ip(*run, "addr", "add", f"{host.address}/{subnet.prefixlen}", "dev", inside)
            _ip(*run, "link", "set", inside, "up")
            _ip(*run, "link", "set", "lo", "up")
        yield gateway, made
    finally:
        for host in made:  # its veth pair goes with it
            with contextlib.suppress(subprocess.CalledProcessError):
                _ip("netns", "del", host.name)
        with contextlib.suppress(subprocess.CalledProcessError, FileNotFoundError):
            _ip("link", "del", bridge)
