"""Stand-ins for the services factdesk talks to, run for real on loopback: Slack's Web API and
Socket Mode (slack.py), and requests signed as Slack sends them (slack_payloads.py). The tests
and the load benchmarks (benchmarks/load.py) share them."""
