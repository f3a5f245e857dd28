"""imagesearch: CLIP embeddings + FAISS index + search service for image collections."""

__version__ = "0.1.0"
