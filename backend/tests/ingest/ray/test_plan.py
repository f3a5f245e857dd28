"""The Ray actor plan on its own: how many actors, and CPU shares that survive the loss of a node."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from imagesearch.config import Settings
from imagesearch.ingest.ray.plan import plan_actors


def settings(**values: object) -> Settings:
    return Settings(device="cpu", **values)  # type: ignore[arg-type]


def test_one_node_gives_its_cpus_to_one_encoder_and_the_decoders() -> None:
    plan = plan_actors(settings(), pending=1000, node_cpus=[2.0], gpus=0)
    assert (plan.encoders, plan.decoders, plan.cpu_share) == (1, 1, 1.0)


def test_three_one_cpu_hosts_keep_room_for_the_actors_of_a_lost_host() -> None:
    plan = plan_actors(settings(), pending=1000, node_cpus=[1.0, 1.0, 1.0], gpus=0)
    assert (plan.encoders, plan.decoders) == (1, 2)
    # Three actors asking half a CPU each: any two hosts hold all three (2/3 would not: one per host).
    assert plan.cpu_share == 0.5


def test_small_runs_start_no_idle_actors() -> None:
    plan = plan_actors(settings(batch_size=32, ray_batch_size=64), pending=10, node_cpus=[8.0, 8.0], gpus=0)
    assert (plan.encoders, plan.decoders, plan.blocks) == (1, 1, 1)


def test_gpus_take_one_encoder_each_unless_the_device_is_cpu() -> None:
    on_gpus = plan_actors(Settings(device="cuda"), pending=1000, node_cpus=[8.0, 8.0], gpus=2)
    assert (on_gpus.encoders, on_gpus.gpus) == (2, 2)
    assert plan_actors(settings(), pending=1000, node_cpus=[8.0, 8.0], gpus=2).gpus == 0


@given(
    st.lists(st.integers(min_value=1, max_value=16), min_size=2, max_size=8),
    st.integers(min_value=0, max_value=12),
    st.integers(min_value=0, max_value=12),
)
def test_whichever_node_is_lost_the_others_hold_every_actor(
    node_cpus: list[int], encoders: int, decoders: int
) -> None:
    # Ray places an actor on a node with its CPU ask free: after the largest node is gone (the
    # worst loss), the others must have a place for every actor, whatever counts were asked for.
    plan = plan_actors(
        settings(ray_encode_actors=encoders, ray_decode_actors=decoders),
        pending=100_000,
        node_cpus=[float(cpus) for cpus in node_cpus],
        gpus=0,
    )
    # Ray counts resources in fixed point (units of 1e-4), not floats.
    share = round(plan.cpu_share * 10_000)
    places = sum(cpus * 10_000 // share for cpus in sorted(node_cpus)[:-1])
    assert places >= plan.encoders + plan.decoders
    assert 0 < plan.cpu_share <= 1.0
