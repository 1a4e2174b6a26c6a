"""Entry points: the command line, the wiring of real parts, the daemon's schedule, terminal views."""
