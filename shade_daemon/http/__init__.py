"""The daemon's HTTP layer: the aiohttp application (``app.create_app``), its security
middleware, the one multipart reader, the routes (``routes/``), the one table that maps
domain errors to statuses (``errors``) and the OpenAPI document. It calls the service
layer (``shade_daemon.service``), which never imports from here."""
