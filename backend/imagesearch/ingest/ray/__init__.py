"""The Ray engine: the same pipeline over a Ray cluster, with resumable shards."""
