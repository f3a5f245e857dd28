"""Ingest: image sources, fetching and decoding, the embedding pipeline (local and Ray engines) and
incremental builds.
"""
