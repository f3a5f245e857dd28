"""Encoders: texts and images -> unit vectors (CLIP through open_clip, its exact fast paths, ONNX
Runtime query towers, weights, the offline fallback). Only this layer imports torch.
"""
