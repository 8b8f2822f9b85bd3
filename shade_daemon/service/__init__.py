"""The daemon's service layer: what Shade does, with no HTTP in it.

The job store and its events, the shading worker, the watched folder, the libraries of
anchors and styles, the history and audits, previews, and the one door into the core
(``core``). Domain errors live in ``errors``; the HTTP layer (``shade_daemon.http``) maps
them to statuses.
"""
