"""factdesk's doors for the tools a newsroom already uses, in one server process
(`factdesk serve`): a JSON API under /v1, an MCP server at /mcp (Streamable HTTP; `factdesk
mcp` serves the same tools over stdio) and an OpenAI-compatible /v1/chat/completions.

Every door asks the same `Gateway` (gateway.py), which asks the desks' pipelines: no door answers
a question itself. Modules: `access.py` bearer tokens and where the server may listen,
`gateway.py` desks, bounds and threads, `limits.py` request bodies, `models.py` the JSON shapes,
`text.py` answers as text, `routes.py` the JSON API, `chat.py` the OpenAI-compatible endpoint,
`mcp_server.py` the MCP tools and resources, `app.py` the ASGI app, `server.py` running it (and
MCP over stdio).
"""
