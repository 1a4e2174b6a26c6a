"""The local Salesforce org emulator: a stateful HTTPS org that simple-salesforce talks to unmodified.

Public entry points (import them from their modules; this package imports nothing eagerly so that
`import connector.emulator` stays cheap):
- `connector.emulator.testing.running_emulator()` — start/stop in-process (pytest fixture `emulator`).
- `connector.emulator.org.Emulator` — the org and the admin handle (seed, records, clock, faults, calls).
- `connector.emulator.standalone.serve()` — `msr-engage emulator serve`.
Modules: schema (from ObjectMapping), store, values, soql + query, app / rest / bulk / auth / describe
(HTTP surface), faults, admin (`/__admin__/`), server (TLS), seed (`demo`).
"""
