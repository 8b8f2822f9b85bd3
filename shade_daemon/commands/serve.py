"""``shade serve --ray ADDRESS``: a platform's upload API on a Ray cluster (Ray Serve). The
personal daemon is ``shade daemon``; this is for servers, behind API keys."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .common import add_shading_arguments, options_from, settings_or_exit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve the upload API on a Ray cluster, for a platform (needs shade-art[cluster])",
                       description="Run Shade as a Ray Serve application: POST /v1/protect with an API key returns "
                                   "the shaded image. See docs/scale.md.")
    p.add_argument("--ray", metavar="ADDRESS", help="the cluster: auto, local, ray://HOST:10001 or HOST:PORT "
                   "(default SHADE_RAY_ADDRESS)")
    p.add_argument("--host", default="127.0.0.1", help="address the HTTP proxy listens on (default 127.0.0.1; "
                   "0.0.0.0 behind your own TLS proxy)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--keys-file", metavar="FILE", help="API keys, one a line (also SHADE_API_KEYS=K1,K2)")
    p.add_argument("--min-replicas", type=int, default=1)
    p.add_argument("--max-replicas", type=int, default=4)
    p.add_argument("--cpus-per-replica", type=float, default=1.0)
    p.add_argument("--gpus-per-replica", type=float, default=0.0)
    p.add_argument("--detach", action="store_true", help="leave the application running on the cluster and return")
    add_shading_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..cluster import ClusterError
    from ..cluster.connect import connect, resolve_address
    from ..cluster.keys import load_key_digests
    from ..cluster.serve import ServeConfig, deploy

    settings, _ = settings_or_exit()
    try:
        address = resolve_address(args.ray)
        if not address:
            raise ClusterError("give the cluster: --ray ADDRESS or SHADE_RAY_ADDRESS (local starts one here)")
        digests = load_key_digests(Path(args.keys_file) if args.keys_file else None)
        options = options_from(args, settings)
        config = ServeConfig(key_digests=digests, base_options=options,
                             max_upload_bytes=settings.max_upload_mb * 2 ** 20, min_replicas=args.min_replicas,
                             max_replicas=max(args.min_replicas, args.max_replicas),
                             cpus_per_replica=args.cpus_per_replica, gpus_per_replica=args.gpus_per_replica)
        connect(address)
        deploy(config, host=args.host, port=args.port)
    except ClusterError as exc:
        print(f"shade: {exc}", file=sys.stderr)
        return 2
    print(f"shade: serving POST http://{args.host}:{args.port}/v1/protect on the cluster at {address}",
          file=sys.stderr, flush=True)
    if args.detach:
        return 0
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        from ray import serve

        serve.delete("shade")
        print("shade: stopped serving", file=sys.stderr)
    return 0
