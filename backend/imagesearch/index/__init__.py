"""The index layer: choosing, building and tuning the FAISS index, storing it with its manifest
(atomic commit, checked load), and reading vectors back. Imports only the base.
"""
