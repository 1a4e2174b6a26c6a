"""`python -m connector` runs the msr-engage CLI."""

from connector.cli import main

main()
