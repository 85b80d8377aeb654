"""Articles in: sources, reading and cleaning, passages, the indexer."""
