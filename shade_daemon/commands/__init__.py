"""Sub-commands of ``shade``: one module each, with ``register(subparsers)``."""
