"""Images/s of ``run_pipeline.py --engine ray`` on a cluster of 1, 2 and 3 worker hosts (issue 20).

    .venv/bin/python bench/bench_cluster.py [--images 240] [--workers 1 2 3] [--model ViT-B-32]

Needs root and iproute2. The hosts are network namespaces on this machine, joined by veth pairs
(backend/tests/support/netns.py), started as the docs say (backend/tools/ray-node.sh, the head
with no CPUs, the driver on the head host); an image host serves the pictures over HTTP, so
every image crosses the network to a worker, and every vector crosses it back to the driver.
Each worker host offers Ray 2 CPUs (one encoder and one fetch/decode actor) and its processes are
pinned with taskset to one core: w1 and w3 to core 0, w2 to core 1. This machine has two cores,
so a third host shares a core with the first: the row for 3 hosts shows what a host adds when
there is no core left for it, not what a third machine would add.

Reported for each cluster size: wall time of the run (Ray start-up of the actors included),
images/s over it, the steady rate (rows saved between the first and the last shard the driver
wrote, timed by polling its work folder: no actor start-up), the encoder actors' busy seconds
per image (the per-node encode rate is its inverse),
and network bytes per image on the workers' interfaces (received + sent: the image in, the
decoded pixels between the actors of different hosts, the vector out) and on the head's (the
rows coming back to the driver). The local engine over the same CSV, on the head host with both
cores, is the reference row.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "backend"))
sys.path.insert(0, str(ROOT / "backend" / "tests"))

from support.images import write_images  # noqa: E402
from support.netns import Host, Network  # noqa: E402
from support.ray_cluster import RayCluster, run_driver, serve_images  # noqa: E402
from support.tiny import settings_env  # noqa: E402
from support.weights import save_random_checkpoint  # noqa: E402

from imagesearch.config import Settings  # noqa: E402

CORES = ("0", "1", "0")  # the core of each worker host, in order
SUMMARY = re.compile(r"(\d+) images indexed.*?; ([\d.]+) s total.*?encode ([\d.]+) s")


@dataclass
class Run:
    hosts: int  # 0: the local engine
    seconds: float
    images: int
    encode_s: float
    worker_bytes: int
    head_bytes: int
    steady_per_s: float


def watch_shards(work_dir: Path, driver: subprocess.Popen[bytes]) -> float:
    """Rows per second between the first and the last shard (or checkpoint) the run saved."""
    seen: dict[Path, tuple[float, int]] = {}
    while driver.poll() is None:
        for shard in [*work_dir.glob("ray-*/shard-*.npz"), *work_dir.glob("**/chunk-*.npz")]:
            if shard not in seen:
                try:
                    with np.load(shard) as saved:
                        seen[shard] = (time.perf_counter(), len(saved[saved.files[0]]))
                except (OSError, ValueError, KeyError):
                    continue  # gone (the run ended) or not whole yet: the next pass
        time.sleep(0.1)
    if len(seen) < 2:
        return float("nan")
    times = sorted(seen.values())
    return sum(rows for _, rows in times[1:]) / (times[-1][0] - times[0][0])


def run_once(args: argparse.Namespace, work: Path, served: Path, checkpoint: Path, hosts: int) -> Run:
    """One cluster of ``hosts`` worker hosts (0: the local engine on the head host), one run."""
    logs = work / f"logs-{hosts}"
    logs.mkdir()
    with Network("isb") as network:
        cluster = RayCluster(network, logs, worker_cpus=2)
        try:
            base = serve_images(network.add("img", 100), served, logs / "images.log")
            csv = work / f"photos-{hosts}.csv"
            names = sorted(path.relative_to(served).as_posix() for path in served.rglob("*.*"))
            csv.write_text("url\n" + "".join(f"{base}/files/{name}\n" for name in names))
            for number in range(hosts):
                cluster.start_worker(f"w{number + 1}", cpus=CORES[number % len(CORES)])
            if hosts:
                cluster.wait_for_workers(hosts)
            settings = Settings(
                model=args.model, pretrained=str(checkpoint), data_dir=work / f"data-{hosts}", batch_size=16
            )
            batches = {"IMAGESEARCH_RAY_BATCH_SIZE": "16", "IMAGESEARCH_CHUNK_SIZE": "64"}
            env = settings_env(settings) | batches
            counted: list[Host] = [cluster.head, *cluster.workers.values()]
            before = [sum(host.interface_bytes()) for host in counted]
            started = time.perf_counter()
            driver = run_driver(cluster, env, csv, *([] if hosts else ["--engine", "local"]))
            steady = watch_shards(settings.work_dir, driver)
            if driver.wait(timeout=3600) != 0:
                raise SystemExit(f"the run on {hosts} hosts failed:{cluster.log_tail()}")
            seconds = time.perf_counter() - started
            moved = [sum(host.interface_bytes()) - was for host, was in zip(counted, before, strict=True)]
            found = SUMMARY.findall((logs / "driver.log").read_text())
            if not found:
                raise SystemExit(f"no summary in the driver's log:{cluster.log_tail()}")
            images, _, encode_s = found[-1]
            return Run(hosts, seconds, int(images), float(encode_s), sum(moved[1:]), moved[0], steady)
        finally:
            cluster.close()  # the hosts and the nodes' temp dirs


def table(runs: list[Run]) -> str:
    lines = [
        "| worker hosts | images | wall s | images/s | vs 1 host | steady images/s | "
        "encode actor-s per image | network bytes/image (workers) | network bytes/image (head) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    one = next((run for run in runs if run.hosts == 1), None)
    for run in runs:
        rate = run.images / run.seconds
        ratio = f"{rate / (one.images / one.seconds):.2f}x" if one and run.hosts else "-"
        lines.append(
            f"| {run.hosts or 'local engine'} | {run.images} | {run.seconds:.1f} | {rate:.2f} | {ratio} | "
            f"{run.steady_per_s:.2f} | "
            f"{run.encode_s / run.images:.3f} | {run.worker_bytes / run.images:,.0f} | "
            f"{run.head_bytes / run.images:,.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=240)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--model", default="ViT-B-32")
    parser.add_argument("--no-local", action="store_true", help="skip the local engine's reference row")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as folder:
        work = Path(folder)
        served = work / "served"
        write_images(served, args.images)
        checkpoint = save_random_checkpoint(Settings(model=args.model), work / "weights.pt")
        runs = [] if args.no_local else [run_once(args, work, served, checkpoint, 0)]
        for hosts in args.workers:
            runs.append(run_once(args, work, served, checkpoint, hosts))
            print(table(runs), flush=True)
    print(f"\n{args.images} images, {args.model} (random weights), one run each")


if __name__ == "__main__":
    main()
