#!/usr/bin/env bash
# One node of a Ray cluster for `run_pipeline.py --engine ray`, in the foreground (stop it with
# Ctrl-C or SIGTERM). docs/pipeline.md's cluster instructions are these commands, and
# backend/tests/ingest/ray/test_cluster.py starts its cluster with this script.
#
#   on the head:        backend/tools/ray-node.sh head   [ray start options]
#   on every worker:    backend/tools/ray-node.sh worker HEAD_ADDRESS:6379 [ray start options]
#
# Useful options: --node-ip-address=IP (the address the other nodes reach this one at; Ray
# guesses it from the default route otherwise), --num-cpus=N, --object-store-memory=BYTES,
# --temp-dir=DIR (one per node when several nodes share a machine).
#
# Authentication: nodes start with Ray's token authentication (RAY_AUTH_MODE=token): give every
# node and the driver the same token, RAY_AUTH_TOKEN=<64 hex digits> (make one with
# `python3 -c 'import secrets; print(secrets.token_hex(32))'`) or the file ~/.ray/auth_token, and
# run the driver with RAY_AUTH_MODE=token too. Without it anyone who reaches the head's port can
# run code on the cluster; RAY_AUTH_MODE=disabled turns it off on a network you trust.
#
# Weights: a worker never downloads them. It reads the checkpoint the driver names
# (IMAGESEARCH_PRETRAINED: a file on shared storage, the same path on every node) or, for an
# open_clip tag such as `openai`, the Hugging Face cache in HF_HOME: give every node, and the
# driver, the same HF_HOME on shared storage; the driver loads the model first and fills it once.
# Workers then start with HF_HUB_OFFLINE=1, so a node without the weights fails with a message
# instead of downloading its own copy.
set -euo pipefail

role=${1:-}
shift || true
repo=$(cd "$(dirname "$0")/../.." && pwd)
ray=${RAY_BIN:-$repo/.venv/bin/ray}
export RAY_USAGE_STATS_ENABLED=0
export RAY_AUTH_MODE=${RAY_AUTH_MODE:-token}
if [ "$RAY_AUTH_MODE" = token ] && [ -z "${RAY_AUTH_TOKEN:-}" ] && [ ! -s "$HOME/.ray/auth_token" ]; then
    echo "ray-node.sh: no Ray auth token: set RAY_AUTH_TOKEN (the same on every node and the driver)" \
        "or write it to ~/.ray/auth_token; RAY_AUTH_MODE=disabled runs without one" >&2
    exit 2
fi

case "$role" in
head)
    exec "$ray" start --head --port="${RAY_PORT:-6379}" --include-dashboard=false \
        --disable-usage-stats --block "$@"
    ;;
worker)
    address=${1:?usage: ray-node.sh worker HEAD_ADDRESS:PORT [ray start options]}
    shift
    export HF_HUB_OFFLINE=1
    exec "$ray" start --address="$address" --disable-usage-stats --block "$@"
    ;;
*)
    echo "usage: ray-node.sh head [ray start options] | worker HEAD_ADDRESS:PORT [ray start options]" >&2
    exit 2
    ;;
esac
