"""How many fetch/decode and encoder actors a Ray run starts, and the CPUs each asks for.

Pure arithmetic over the cluster's resources (``node_cpus``: the CPUs of each live node), so it is
tested without a cluster. One rule beyond "use what is there":

- **Survive the loss of a node.** Ray Data restarts an actor whose node died (``max_restarts``
  -1) on a node with room for it; an actor that asks for a whole CPU on a cluster whose CPUs are
  all taken has nowhere to go, and the run would wait for ever. So on a cluster of several nodes
  each actor asks for a share 1/k of a CPU, k the smallest whole number for which the nodes that
  remain without the largest one hold every actor (a node of c CPUs holds floor(c k) of them):
  after any one node is gone, every actor it held fits on the others. Ray's CPUs are a
  scheduling quantity, not a limit, so a fractional share costs nothing while all nodes are up
  (Ray Data spreads its actors over the nodes: its default scheduling strategy is ``SPREAD``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

from imagesearch.config import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ActorPlan:
    decoders: int
    encoders: int
    gpus: int
    cpu_share: float  # CPUs asked per actor
    blocks: int


def plan_actors(settings: Settings, pending: int, node_cpus: Sequence[float], gpus: int) -> ActorPlan:
    """The actors for ``pending`` sources on a cluster whose live nodes have ``node_cpus`` CPUs and
    ``gpus`` GPUs in all (ignored when ``settings.device`` is cpu)."""
    gpus = 0 if settings.device == "cpu" else gpus
    cpus = max(1, int(sum(node_cpus)))
    blocks = -(-pending // settings.ray_batch_size)
    encoders = settings.ray_encode_actors or (gpus or max(1, cpus // 2))
    if gpus and encoders > gpus:
        logger.warning("%d encoder actors asked for, the cluster has %d GPUs: using %d", encoders, gpus, gpus)
        encoders = gpus
    encoders = min(encoders, -(-pending // settings.batch_size))  # no idle actors for small runs
    decoders = min(settings.ray_decode_actors or max(1, cpus - encoders), blocks)
    cpu_share = _share(node_cpus or [float(cpus)], encoders + decoders)
    logger.info(
        "Ray: %d fetch/decode actors, %d encoder actors (%d GPUs), %.2f CPU each, on %d nodes",
        decoders,
        encoders,
        gpus,
        cpu_share,
        len(node_cpus),
    )
    return ActorPlan(decoders, encoders, gpus, cpu_share, blocks)


def _share(node_cpus: Sequence[float], actors: int) -> float:
    """The CPU share 1/k per actor with which the nodes but the largest hold ``actors`` (one node:
    that node holds them). Rounded down to Ray's resource precision (1e-4)."""
    kept = sorted(node_cpus)[:-1] if len(node_cpus) > 1 else list(node_cpus)
    k = 1
    while sum(math.floor(cpus * k + 1e-9) for cpus in kept) < actors:
        k += 1
    return math.floor(10_000 / k) / 10_000
