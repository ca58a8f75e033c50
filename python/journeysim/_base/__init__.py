"""The bottom layer: errors, checks, conventions, the resolved journey's typed
form, piecewise helpers, system facts, Ctrl-C handling and the executor.

Nothing here imports another layer of journeysim (docs/architecture.md)."""
