"""Evaluation: retrieval quality of a built index against ground truth."""
