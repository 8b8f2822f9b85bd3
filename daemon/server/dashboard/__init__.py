"""The dashboard: a small local web app served on the daemon's loopback port (pages in
``shade_daemon/web``), opened through a one-time login link that sets an HttpOnly,
SameSite=Strict session cookie. One module per job: ``session`` (links, sessions, CSRF),
``pages`` (login and the static files), ``events`` (every job's SSE), ``history`` (the
record of what was shaded), ``previews``, ``audits``, ``library`` (anchors and styles),
``settings_view``, ``routes`` (wiring) and ``openapi`` (their documentation)."""
