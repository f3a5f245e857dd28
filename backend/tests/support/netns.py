"""Separate hosts on this machine: Linux network namespaces joined by veth pairs to one bridge.

Each host is a namespace with its own loopback and one interface (``eth0``) at its own address on
10.77.0.0/24; the bridge lives in a namespace of its own, so nothing is added to the machine's
own network and all traffic stays between the hosts. A default route through ``eth0`` lets
programs that guess their address from the route (Ray does) find the host's. Processes started
on a host (``Host.popen``) see the same files as the machine, but only the hosts' network.

Needs root and iproute2 (``ip``). ``Network.close`` kills every process of every host and
deletes the namespaces; it runs even when a test fails, and a new Network first removes what a
killed run left behind (namespaces whose names start with the same prefix).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

SUBNET = "10.77.0"
# Proxy settings of the machine would send the hosts' HTTP and gRPC traffic to a proxy they
# cannot reach: processes on a host run without them.
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "grpc_proxy", "no_proxy")


def ip(*args: str) -> str:
    return subprocess.run(["ip", *args], check=True, capture_output=True, text=True).stdout


def host_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key.lower() not in PROXY_VARIABLES}
    return env | (extra or {})


@dataclass
class Host:
    namespace: str
    address: str
    port: str  # its veth end on the bridge
    switch: str  # the bridge's namespace
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def command(self, args: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.namespace, *args]

    def popen(
        self, args: Sequence[str], log: Path, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start ``args`` on this host, its output in ``log``."""
        with log.open("ab") as out:
            process = subprocess.Popen(
                self.command(args), stdout=out, stderr=subprocess.STDOUT, env=host_env(env)
            )
        self.processes.append(process)
        return process

    def run(
        self, args: Sequence[str], env: dict[str, str] | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(args), env=host_env(env), capture_output=True, text=True, timeout=timeout
        )

    def pids(self) -> list[int]:
        return namespace_pids(self.namespace)

    def kill_all(self) -> None:
        """Every process of this host, at once (SIGKILL): the host is gone."""
        kill_namespace(self.namespace)
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)

    def cut(self) -> None:
        """Unplug this host's cable: its processes run on, unreachable."""
        ip("-n", self.switch, "link", "set", self.port, "down")

    def mend(self) -> None:
        ip("-n", self.switch, "link", "set", self.port, "up")

    def interface_bytes(self) -> tuple[int, int]:
        """Bytes (received, sent) on ``eth0`` so far."""
        counters = json.loads(ip("-n", self.namespace, "-s", "-j", "link", "show", "eth0"))[0]["stats64"]
        return int(counters["rx"]["bytes"]), int(counters["tx"]["bytes"])


class Network:
    """A bridge and the hosts plugged into it; a context manager that always cleans up."""

    def __init__(self, prefix: str = "isc") -> None:
        self.prefix = prefix
        self.switch = f"{prefix}-sw"
        self.hosts: dict[str, Host] = {}
        remove_namespaces(prefix)
        ip("netns", "add", self.switch)
        ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        ip("-n", self.switch, "link", "set", "br0", "up")

    def add(self, name: str, number: int) -> Host:
        """A host ``name`` at 10.77.0.``number``."""
        namespace, port = f"{self.prefix}-{name}", f"p-{name}"[:15]
        ip("netns", "add", namespace)
        ip(
            "link",
            "add",
            "eth0",
            "netns",
            namespace,
            "type",
            "veth",
            "peer",
            "name",
            port,
            "netns",
            self.switch,
        )
        ip("-n", self.switch, "link", "set", port, "master", "br0")
        ip("-n", self.switch, "link", "set", port, "up")
        address = f"{SUBNET}.{number}"
        ip("-n", namespace, "link", "set", "lo", "up")
        ip("-n", namespace, "addr", "add", f"{address}/24", "dev", "eth0")
        ip("-n", namespace, "link", "set", "eth0", "up")
        ip("-n", namespace, "route", "add", "default", "dev", "eth0")
        host = Host(namespace, address, port, self.switch)
        self.hosts[name] = host
        return host

    def close(self) -> None:
        for host in self.hosts.values():
            host.kill_all()
        remove_namespaces(self.prefix)

    def __enter__(self) -> Network:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def remove_namespaces(prefix: str) -> None:
    """Kill the processes of, and delete, every namespace named ``prefix-*`` (a killed run's too)."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for line in listed.splitlines():
        name = line.split()[0] if line.split() else ""
        if not name.startswith(f"{prefix}-"):
            continue
        kill_namespace(name)
        subprocess.run(["ip", "netns", "delete", name], capture_output=True)


def namespace_pids(namespace: str) -> list[int]:
    out = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def kill_namespace(namespace: str) -> None:
    """SIGKILL every process in ``namespace``."""
    for pid in namespace_pids(namespace):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
