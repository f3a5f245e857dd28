"""The Ray engine on a real multi-node cluster: separate hosts (network namespaces) for the head,
three workers and an image server, started with ``backend/tools/ray-node.sh`` as the docs say.

Every run is compared with the local engine's run over the same CSV of URLs (same URLs in the
same order, same failures, vectors within float noise). The faults are real: every process of
a worker host killed while it encodes, and the driver killed mid-run, then run again.
Needs root and iproute2 (``make test`` installs iproute2); ``make test-cluster`` runs this alone.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from support.images import write_images
from support.netns import Network
from support.ray_cluster import RayCluster, run_driver, serve_images
from support.tiny import settings_env, tiny_settings

from imagesearch.config import Settings
from imagesearch.index.store import load_bundle

pytest.importorskip("ray")
if os.geteuid() != 0 or shutil.which("ip") is None:
    pytest.skip("network namespaces need root and iproute2 (ip)", allow_module_level=True)

IMAGES = 44
# Small batches, so that a run streams back many shards; one fetch thread per decode actor and a
# slow image host (each answer 0.15 s late), so that a run lasts long enough to be hit mid-way.
SMALL = {"batch_size": 4, "ray_batch_size": 4, "chunk_size": 4, "fetch_workers": 1}
DELAY_S = 0.15
WORKERS = ("w1", "w2", "w3")


@dataclass
class Setup:
    cluster: RayCluster
    csv: Path
    reference: Settings  # the local engine's run over the same CSV
    checkpoint: Path
    image_log: Path
    tmp: Path

    def settings(self, name: str) -> Settings:
        return tiny_settings(self.checkpoint, self.tmp / name, **SMALL)


def env(settings: Settings) -> dict[str, str]:
    """The environment that gives the driver ``settings``, SMALL's batch sizes included."""
    return settings_env(settings) | {f"IMAGESEARCH_{key.upper()}": str(value) for key, value in SMALL.items()}


@pytest.fixture(scope="module")
def setup(
    image_dir: Path, tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("cluster")
    logs = tmp / "logs"
    logs.mkdir()
    # The weights on "shared storage" (the same path on every host), and an empty Hugging Face
    # cache: the workers (HF_HUB_OFFLINE=1, ray-node.sh) could not download anything.
    shared = tmp / "shared"
    shared.mkdir()
    checkpoint = Path(shutil.copy(tiny_checkpoint, shared / "weights.pt"))
    served = tmp / "served"
    names = [path.relative_to(served).as_posix() for path in write_images(served, IMAGES)]
    (served / "truncated.jpg").write_bytes((served / names[0]).read_bytes()[:300])
    with Network() as network:
        cluster = RayCluster(network, logs, env={"HF_HOME": str(shared / "hf")})
        try:
            image_host = network.add("img", 100)
            image_log = logs / "images.log"
            base = serve_images(image_host, served, image_log, DELAY_S)
            urls = [f"{base}/files/{name}" for name in names]
            urls[5:5] = [f"{base}/missing.jpg"]
            urls[20:20] = [f"{base}/files/truncated.jpg"]
            csv = tmp / "photos_url.csv"
            csv.write_text("url\n" + "\n".join(urls) + "\n")
            for name in WORKERS:
                cluster.start_worker(name)
            cluster.wait_for_workers(len(WORKERS))
            done = Setup(
                cluster, csv, tiny_settings(checkpoint, tmp / "local", **SMALL), checkpoint, image_log, tmp
            )
            local = run_driver(cluster, env(done.reference), csv, "--engine", "local")
            assert local.wait(timeout=300) == 0, cluster.log_tail()
            yield done
        finally:
            cluster.close()


def assert_same_index(setup: Setup, settings: Settings) -> None:
    """The run's index is the local engine's: URLs in order, failures, vectors within float noise."""
    a, b = load_bundle(setup.reference), load_bundle(settings)
    assert b.urls == a.urls and len(a.urls) == IMAGES
    assert settings.failures_path.read_text() == setup.reference.failures_path.read_text()
    failures = setup.reference.failures_path.read_text()
    assert "missing.jpg" in failures and "truncated.jpg" in failures
    np.testing.assert_allclose(b.index.reconstruct_n(0, IMAGES), a.index.reconstruct_n(0, IMAGES), atol=1e-5)
    assert b.manifest.encoder_id == a.manifest.encoder_id
    assert not settings.work_dir.exists()  # the shards are gone once the index is written


def wait_for_shards(settings: Settings, count: int, timeout_s: float = 120) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        shards = len(list(settings.work_dir.glob("ray-*/shard-*.npz")))
        if shards >= count:
            return shards
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} shards after {timeout_s} s")


def test_the_cluster_builds_the_same_index_as_the_local_engine(setup: Setup) -> None:
    settings = setup.settings("cluster")
    before = setup.image_log.read_text()
    driver = run_driver(setup.cluster, env(settings), setup.csv)
    assert driver.wait(timeout=300) == 0, setup.cluster.log_tail()
    assert_same_index(setup, settings)
    # The workers fetched the images over the network, not the driver's host.
    fetched = {line.split()[0] for line in setup.image_log.read_text()[len(before) :].splitlines()}
    workers = {host.address for host in setup.cluster.workers.values()}
    assert fetched and fetched <= workers, fetched


@pytest.mark.parametrize("fault", ["kill", "cut"])
def test_losing_a_worker_host_while_it_encodes_loses_nothing(setup: Setup, fault: str) -> None:
    settings = setup.settings(f"node-{fault}")
    driver = run_driver(setup.cluster, env(settings), setup.csv)
    wait_for_shards(settings, 1)
    lost = setup.cluster.host_running("MapBatches(_Encode)")
    if fault == "kill":
        lost.kill_all()  # raylet, object store, actors: the whole host at once
    else:
        lost.cut()  # the host runs on, unreachable: Ray declares it dead after its health checks
    saved = saved_rows(settings)
    try:
        assert driver.poll() is None and len(saved) < IMAGES + 2  # hit in the middle of the run
        # The run goes on: Ray restarts the encoder, and redoes the lost work, on the other hosts.
        assert driver.wait(timeout=300) == 0, setup.cluster.log_tail()
        assert_same_index(setup, settings)
    finally:
        lost.kill_all()
        lost.mend()
        name = next(name for name, host in setup.cluster.workers.items() if host is lost)
        setup.cluster.start_worker(name)
        setup.cluster.wait_for_workers(len(WORKERS))


def saved_rows(settings: Settings) -> np.ndarray:
    """The positions in the run's shards so far."""
    shards = sorted(settings.work_dir.glob("ray-*/shard-*.npz"))
    return np.concatenate([np.load(shard)["position"] for shard in shards]) if shards else np.array([], int)


def test_a_driver_killed_mid_run_resumes_from_its_shards(setup: Setup) -> None:
    settings = setup.settings("driver-lost")
    driver = run_driver(setup.cluster, env(settings), setup.csv)
    wait_for_shards(settings, 2)
    driver.send_signal(signal.SIGKILL)
    driver.wait(timeout=60)
    saved = saved_rows(settings)
    assert len(saved) == len(set(saved.tolist())) < IMAGES + 2  # a part of the run, each row once
    log = setup.cluster.logs / "driver.log"
    before = log.read_text()
    rerun = run_driver(setup.cluster, env(settings), setup.csv)
    assert rerun.wait(timeout=300) == 0, setup.cluster.log_tail()
    # The rerun embeds only the rows the killed driver had not saved, and keeps the shards it had.
    assert f"resuming: {len(saved)} of {IMAGES + 2} images" in log.read_text()[len(before) :]
    assert_same_index(setup, settings)
