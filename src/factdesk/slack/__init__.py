"""The factdesk Slack bot: the same cited answers as `factdesk ask`, in threads, DMs and
`/factdesk`.

`run` is what `factdesk slack` calls; `create_app` builds the Bolt app for tests and embedding.
"""

from factdesk.slack.app import create_app, run

__all__ = ["create_app", "run"]
