"""The command-line side of batch shading on a cluster: what ``shade protect --ray`` prints
and its exit code (0 when every image is shaded or was already, 1 when any failed)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from . import ClusterError
from .batch import Plan, run_batch
from .manifest import DONE

ENV_SHARED_FS = "SHADE_RAY_SHARED_FS"


def plan_from_env(address: str) -> Plan:
    """``local`` is this machine, so its workers see these paths; elsewhere only when told."""
    shared = os.environ.get(ENV_SHARED_FS, "").strip().lower()
    shared_fs = shared in ("1", "true", "yes") if shared else address == "local"
    cpus = float(os.environ.get("SHADE_RAY_CPUS_PER_WORKER", "1") or 1)
    retries = int(os.environ.get("SHADE_RAY_RETRIES", "3") or 3)
    return Plan(cpus_per_worker=cpus, retries=retries, shared_fs=shared_fs)


def run_protect(args: argparse.Namespace, options: Any, address: str) -> int:
    if getattr(args, "preview", None):
        print("shade: --preview is not available with --ray (run it locally on the images you want to see)",
              file=sys.stderr)
        return 2

    def show(row: dict[str, Any]) -> None:
        if row["status"] != DONE:
            print(f"shade: {row['error']['message']}", file=sys.stderr, flush=True)
        elif args.json:
            print(json.dumps({"input": row["input"], "output": row["output"], **row["measurements"]}), flush=True)
        else:
            m = row["measurements"]
            print(f"{row['input']} -> {row['output']}  ratio {m.get('latent_ratio', float('nan')):.3f} "
                  f"(JPEG85 {m.get('latent_ratio_jpeg85', float('nan')):.3f})  "
                  f"SSIMULACRA2 {m.get('ssimulacra2', float('nan')):.1f}  {m.get('seconds', 0):.1f}s  "
                  f"on {row['worker']}", flush=True)

    try:
        report = run_batch([Path(p) for p in args.images], Path(args.out), options, address=address,
                           plan=plan_from_env(address), on_row=show)
    except ClusterError as exc:
        print(f"shade: {exc}", file=sys.stderr)
        return 2
    print(f"shade: {report.done} shaded, {report.skipped} already done, {report.failed} failed; manifest in "
          f"{Path(args.out) / 'shade-manifest.jsonl'}", file=sys.stderr)
    return 1 if report.failed else 0
