from factdesk.cli import run

run()
