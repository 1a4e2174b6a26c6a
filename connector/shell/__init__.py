"""The imperative shell: one module per use case. Each gathers inputs, calls the pure core, applies
the outputs in atomic steps. Nothing here reads the clock: `now` comes from the entry point."""
