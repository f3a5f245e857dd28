"""Search: the service that ranks the index for text, image, combined and batch queries, its
caches, and caption (lexical) matching. Never imports torch.
"""
