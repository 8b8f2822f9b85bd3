"""The local service behind ``shade daemon``: HTTP API, job queue, shading worker,
watched folder and tray. ``create_app`` (app.py) builds the aiohttp application;
``runtime.run`` serves it."""
