"""The OpenAPI 3.1 description served at /v1/openapi.json (tests check it lists every route)."""

from __future__ import annotations

from typing import Any

from shading import FORMATS, INTENSITIES, MODES, QUALITIES

from .. import __version__
from ..config import DEFAULT_PORT
from ..service.store import FINAL_STATES, QUEUED, RUNNING
from .openapi_dashboard import SESSION_SCHEME, dashboard_paths

_ERR = {"$ref": "#/components/responses/Error"}


def _json(schema_ref: str, description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}}}


def openapi_document() -> dict[str, Any]:
    job_id = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Shade local daemon",
            "version": __version__,
            "description": "Loopback-only API of `shade daemon`. Every route except /v1/health needs "
                           "`Authorization: Bearer <token>`; requests with an Origin header must come from an "
                           "allowed (paired) extension origin; the Host must be 127.0.0.1, localhost or [::1] "
                           "with the daemon's port. Errors are JSON {error: {code, message}}.",
        },
        "servers": [{"url": f"http://127.0.0.1:{DEFAULT_PORT}"}],
        "security": [{"bearer": []}],
        "paths": {
            "/v1/health": {"get": {"summary": "Liveness, version and the shading worker's health (no token needed)",
                                   "security": [],
                                   "responses": {"200": _json("Health", "alive")}}},
            "/v1/status": {"get": {"summary": "Queue, current job, device, models, pause state, watched folders",
                                   "responses": {"200": _json("Status", "daemon status"), "401": _ERR}}},
            "/v1/jobs": {
                "post": {
                    "summary": "Upload an image to shade",
                    "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                        "type": "object", "required": ["image"],
                        "properties": {
                            "image": {"type": "string", "format": "binary",
                                      "description": "PNG, JPEG or WebP; the type is sniffed from the bytes"},
                            "anchor": {"type": "string", "format": "binary",
                                       "description": "optional image of the target concept (poison/both)"},
                            "style": {"type": "string",
                                      "description": "cloak/both: a style name from /v1/styles (a text field), "
                                                     "or a style image (a file part); default: the configured "
                                                     "style"},
                            "mode": {"type": "string", "enum": list(MODES)},
                            "target": {"type": "string", "description": "concept name with an anchor image"},
                            "intensity": {"type": "string", "enum": list(INTENSITIES)},
                            "quality": {"type": "string", "enum": list(QUALITIES)},
                        }}}}},
                    "responses": {"202": _json("Accepted", "queued; Location names the job"),
                                  "400": _ERR, "401": _ERR, "413": _ERR, "415": _ERR, "503": _ERR},
                },
                "get": {"summary": "The latest jobs (at most 100), newest first",
                        "responses": {"200": {"description": "jobs", "content": {"application/json": {"schema": {
                            "type": "object", "properties": {"jobs": {"type": "array", "items": {
                                "$ref": "#/components/schemas/Job"}}}}}}}}},
            },
            "/v1/jobs/{id}": {
                "parameters": job_id,
                "get": {"summary": "A job: status, progress, measurements, error",
                        "responses": {"200": _json("Job", "the job"), "404": _ERR}},
                "delete": {"summary": "Cancel a queued or running job (idempotent)",
                           "responses": {"200": _json("Job", "the job after cancelling"),
                                         "202": _json("Job", "still stopping"), "404": _ERR}},
            },
            "/v1/jobs/{id}/events": {
                "parameters": job_id,
                "get": {"summary": "Server-sent events: 'state' (a Job) first and on each state change, "
                                   "'progress' ({id, status, step, total, stage, progress}) while running; "
                                   "the stream ends after the final state",
                        "responses": {"200": {"description": "event stream",
                                              "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                                      "404": _ERR}},
            },
            "/v1/jobs/{id}/result": {
                "parameters": job_id,
                "get": {"summary": "The shaded image (same format as the upload), with a Content-Disposition "
                                   "file name",
                        "responses": {"200": {"description": "image", "content": {
                            content_type: {} for content_type, _ in FORMATS.values()}},
                            "404": _ERR, "409": _ERR, "410": _ERR}},
            },
            "/v1/jobs/{id}/stronger": {
                "parameters": job_id,
                "post": {"summary": "Shade again, stronger: queue a done job's original again at the next intensity "
                                    "(the verdict's next_intensity); 409 with words when it is already the strongest",
                         "responses": {"202": _json("Job", "the new job; from_intensity and intensity say the step"),
                                       "404": _ERR, "409": _ERR, "410": _ERR, "503": _ERR}},
            },
            "/v1/rejected": {"get": {
                "summary": "Files the watched folder set aside in rejected/ (not images, unreadable, failed), newest "
                           "first, with the reason for each: {rejected: [{name, reason, rejected_at}]}",
                "responses": {"200": {"description": "rejected files", "content": {"application/json": {}}}}}},
            "/v1/to-post/open": {"post": {
                "summary": "Open the to-post folder in this computer's file manager (the dashboard's Open folder)",
                "responses": {"200": {"description": "opened", "content": {"application/json": {}}}, "500": _ERR}}},
            "/v1/pause": {"post": {"summary": "Hold the running job at its next step and start no new ones",
                                   "responses": {"200": _json("Paused", "paused")}}},
            "/v1/resume": {"post": {"summary": "Continue after a pause",
                                    "responses": {"200": _json("Paused", "resumed")}}},
            "/v1/pair": {"post": {"summary": "Record the calling extension's Origin as allowed",
                                  "responses": {"200": _json("Paired", "paired"), "400": _ERR, "401": _ERR,
                                                "403": _ERR}}},
            "/v1/token/reload": {"post": {
                "summary": "Read the API token store again (`shade token --rotate` calls it, with the token it "
                           "replaces, where there is no SIGHUP): the old token is refused from then on, and the "
                           "dashboard's sessions end",
                "responses": {"200": {"description": "reloaded", "content": {"application/json": {}}},
                              "401": _ERR}}},
            "/v1/styles": {
                "get": {"summary": "The style library: the user's styles first, then the built-in reference "
                                   "styles, and the default style",
                        "responses": {"200": _json("Styles", "styles")}},
                "post": {"summary": "Add a style image to the user's style library (multipart: name, image); "
                                    "jobs then name it in their 'style' field",
                         "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                             "type": "object", "required": ["name", "image"],
                             "properties": {"name": {"type": "string"},
                                            "image": {"type": "string", "format": "binary"}}}}}},
                         "responses": {"201": _json("Styles", "added"), "400": _ERR, "409": _ERR, "413": _ERR,
                                       "415": _ERR}},
            },
            "/v1/styles/{name}": {
                "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
                "delete": {"summary": "Remove one of the user's styles (built-in ones stay)",
                           "responses": {"200": _json("Styles", "removed"), "404": _ERR}},
            },
            "/v1/openapi.json": {"get": {"summary": "This document",
                                         "responses": {"200": {"description": "OpenAPI 3.1 JSON"}}}},
            **dashboard_paths(),
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "43-character token: `shade token`"},
                                "session": SESSION_SCHEME},
            "responses": {"Error": _json("Error", "error")},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
                "Health": {"type": "object", "properties": {
                    "ok": {"type": "boolean", "description": "the shading worker can shade (false: dead or stuck; "
                                                             "the daemon restarts it)"},
                    "version": {"type": "string"}, "problem": {"type": ["string", "null"]},
                    "worker": {"type": "object", "properties": {"alive": {"type": "boolean"},
                                                                "restarts": {"type": "integer"}}}}},
                "Accepted": {"type": "object", "properties": {"id": {"type": "string"},
                                                              "status": {"type": "string"}}},
                "Paused": {"type": "object", "properties": {"paused": {"type": "boolean"},
                                                            "queue_length": {"type": "integer"}}},
                "Styles": {"type": "object", "properties": {
                    "styles": {"type": "array", "items": {"type": "object", "properties": {
                        "name": {"type": "string"}, "builtin": {"type": "boolean"}}}},
                    "default": {"type": "string"}}},
                "Paired": {"type": "object", "properties": {"ok": {"type": "boolean"}, "origin": {"type": "string"}}},
                "Status": {"type": "object", "properties": {
                    "version": {"type": "string"}, "paused": {"type": "boolean"},
                    "queue_length": {"type": "integer"}, "current_job": {"type": ["object", "null"]},
                    "device": {"type": ["string", "null"]}, "models": {"type": "object"},
                    "watched_folders": {"type": "array", "items": {"type": "string"}},
                    "targets": {"type": "array", "items": {"type": "string"},
                                "description": "concepts with an anchor image, the user's first"},
                    "styles": {"type": "array", "items": {"type": "string"},
                               "description": "reference styles for cloak/both, the user's first"},
                    "renders_missing_targets": {"type": "boolean",
                                                "description": "a text-to-image pipeline renders other concepts"},
                    "modes": {"type": "array", "items": {"type": "string"},
                              "description": "the modes that can work now (offer only these)"},
                    "defaults": {"type": "object"}, "limits": {"type": "object"},
                    "choices": {"type": "object", "description": "the values each job option may take",
                                "properties": {"mode": {"type": "array", "items": {"type": "string"}},
                                               "intensity": {"type": "array", "items": {"type": "string"}},
                                               "quality": {"type": "array", "items": {"type": "string"}}}},
                    "last_error": {"type": ["string", "null"]}}},
                "Job": {"type": "object", "properties": {
                    "id": {"type": "string"},
                    "status": {"type": "string", "enum": [QUEUED, RUNNING, *FINAL_STATES]},
                    "source": {"type": "string", "enum": ["api", "folder"]},
                    "filename": {"type": "string"}, "options": {"type": "object"},
                    "progress": {"type": "number"}, "step": {"type": "integer"}, "total": {"type": "integer"},
                    "stage": {"type": ["string", "null"]}, "queue_position": {"type": "integer"},
                    "measurements": {"type": ["object", "null"]},
                    "words": {"type": "string", "description": "where the job is, or its verdict, in words"},
                    "eta_seconds": {"type": ["number", "null"]}, "eta_words": {"type": ["string", "null"]},
                    "verdict": {"type": ["object", "null"], "description": "a done job's verdict: level (protected, "
                                "weak, not protected), words, advice, next_intensity, effect, reason"},
                    "error": {"type": ["object", "null"]}, "result_url": {"type": ["string", "null"]},
                    "result_filename": {"type": "string"}, "result_content_type": {"type": "string"}}},
            },
        },
    }
