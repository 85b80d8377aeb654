"""What both roads share: the embedder, the store, keyword search, retrieval."""
