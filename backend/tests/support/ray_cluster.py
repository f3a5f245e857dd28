"""A Ray cluster of separate hosts on this machine (tests/support/netns.py), started the way the
docs tell users to: ``backend/tools/ray-node.sh head`` on one host, ``ray-node.sh worker HEAD``
on the others, and an image host serving the pictures over HTTP.

The head asks for no CPUs (``--num-cpus=0``), so every fetch, decode and encode runs on a worker
host; the driver (``run_pipeline.py --engine ray --ray-address HEAD``) runs on the head host.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from support.netns import Host, Network
from support.paths import BACKEND_DIR, SUPPORT_DIR

NODE_SCRIPT = BACKEND_DIR / "tools" / "ray-node.sh"
RAY_PORT = 6379
# Ray notices a dead node after this many missed health checks of this period (defaults: 5 x 3 s
# with a 10 s timeout); shorter here so the fault tests wait seconds, not half a minute.
HEAD_ENV = {
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_timeout_ms": "2000",
    "RAY_health_check_failure_threshold": "5",
}
OBJECT_STORE_BYTES = str(150 * 1024 * 1024)


@dataclass
class RayCluster:
    network: Network
    logs: Path
    worker_cpus: float = 1.0
    env: dict[str, str] = field(default_factory=dict)  # every node's environment (weights cache ...)
    workers: dict[str, Host] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Token authentication, as ray-node.sh asks: one token for the nodes and the drivers.
        self.env = self.env | {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
        self.head = self.network.add("head", 1)
        self._node(self.head, ["head", f"--node-ip-address={self.head.address}", "--num-cpus=0"], HEAD_ENV)

    @property
    def address(self) -> str:
        return f"{self.head.address}:{RAY_PORT}"

    def _node(self, host: Host, args: list[str], env: dict[str, str] | None = None, cpus: str = "") -> None:
        """``ray-node.sh ARGS`` on ``host``; ``cpus``: the cores it may run on (taskset), all when empty."""
        # A fresh temp dir: a session left there by an earlier head is not this cluster's.
        shutil.rmtree(temp_dir(host), ignore_errors=True)
        pinned = ["taskset", "-c", cpus] if cpus else []
        options = [f"--object-store-memory={OBJECT_STORE_BYTES}", f"--temp-dir={temp_dir(host)}"]
        command = [*pinned, "bash", str(NODE_SCRIPT), *args, *options]
        host.popen(command, self.logs / f"{host.namespace}.log", self.env | (env or {}))

    def close(self) -> None:
        """Stop every host (Network.close) and remove the nodes' temp dirs."""
        self.network.close()
        for host in self.network.hosts.values():
            shutil.rmtree(temp_dir(host), ignore_errors=True)

    def start_worker(self, name: str, cpus: str = "") -> Host:
        """Start a worker node on host ``name`` (created the first time, at the next address)."""
        host = self.workers.get(name) or self.network.add(name, 10 + len(self.workers))
        self.workers[name] = host
        args = [
            "worker",
            self.address,
            f"--node-ip-address={host.address}",
            f"--num-cpus={self.worker_cpus:g}",
        ]
        self._node(host, args, cpus=cpus)
        return host

    def wait_for_workers(self, count: int, timeout_s: float = 120) -> None:
        """Until exactly ``count`` worker nodes are alive (as the head sees them)."""
        probe = (
            "import sys, time, ray\n"
            "ray.init(address=sys.argv[1], logging_level='ERROR')\n"
            "deadline = time.monotonic() + float(sys.argv[3])\n"
            "alive = -1\n"
            "while time.monotonic() < deadline:\n"
            "    alive = sum(1 for n in ray.nodes() if n['Alive'] and n['Resources'].get('CPU', 0) > 0)\n"
            "    if alive == int(sys.argv[2]):\n"
            "        sys.exit(0)\n"
            "    time.sleep(0.5)\n"
            "sys.exit(f'{alive} worker nodes alive, expected ' + sys.argv[2])\n"
        )
        done = self.head.run(
            [sys.executable, "-c", probe, self.address, str(count), str(timeout_s)],
            env=self.env,
            timeout=timeout_s + 60,
        )
        assert done.returncode == 0, done.stderr[-3000:] + self.log_tail()

    def log_tail(self) -> str:
        return "".join(
            f"\n--- {log.name}\n{log.read_text()[-2000:]}" for log in sorted(self.logs.glob("*.log"))
        )

    def host_running(self, process_title: str) -> Host:
        """The worker host one of whose processes is titled ``process_title`` (a Ray actor)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for host in self.workers.values():
                for pid in host.pids():
                    try:
                        title = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
                    except OSError:
                        continue
                    if process_title in title:
                        return host
            time.sleep(0.2)
        raise AssertionError(f"no worker host runs {process_title}")


def temp_dir(host: Host) -> Path:
    """The Ray temp dir of a node on ``host`` (short: Ray's socket paths must fit 107 bytes)."""
    return Path("/tmp") / host.namespace


def serve_images(host: Host, root: Path, log: Path, delay_s: float = 0.0, port: int = 8000) -> str:
    """Serve ``root`` from ``host`` (each answer ``delay_s`` late); returns the base URL. The log
    lists the client address of every request."""
    host.popen(
        [
            sys.executable,
            str(SUPPORT_DIR / "imageserver.py"),
            str(root),
            host.address,
            str(port),
            str(delay_s),
        ],
        log,
    )
    url = f"http://{host.address}:{port}"
    deadline = time.monotonic() + 30
    while "serving" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, log.read_text() if log.exists() else "no log"
        time.sleep(0.1)
    return url


def run_driver(cluster: RayCluster, env: dict[str, str], source: Path, *args: str) -> subprocess.Popen[bytes]:
    """``run_pipeline.py SOURCE ARGS`` on the head host (``--engine ray --ray-address`` added
    unless ``--engine`` is in ``args``); its output in logs/driver.log."""
    engine = [] if "--engine" in args else ["--engine", "ray", "--ray-address", cluster.address]
    command = [sys.executable, str(BACKEND_DIR / "run_pipeline.py"), str(source), "--quiet", *engine, *args]
    return cluster.head.popen(command, cluster.logs / "driver.log", cluster.env | env)
