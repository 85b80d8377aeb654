"""Questions out: conversations, the reader, answers, the optional LLM and its check."""
