"""`python -m connector` runs the msr-engage CLI."""

from connector.entry.cli import main

main()
