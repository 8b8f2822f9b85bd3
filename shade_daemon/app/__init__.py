"""The running daemon: ``runtime.run`` (one instance per data dir, signals, daemon.json)
and the tray. It composes the service and HTTP layers; neither imports from here."""
