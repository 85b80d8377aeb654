"""factdesk: answers questions about news articles with cited passages."""

__version__ = "0.1.0"
