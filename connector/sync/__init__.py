"""One sync cycle: org windows → ledger → scores → diff → writes (see cycle.py)."""
