"""``shade protect IMAGE... --out DIR``: shade images on the command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from tqdm import tqdm

from .common import add_shading_arguments, options_from, settings_or_exit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("protect", help="shade images and write the results to a folder",
                       description="Shade each IMAGE; results keep the name, size and format, in --out.")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the shaded images (created if missing)")
    p.add_argument("--json", action="store_true", help="print one JSON object per image on stdout")
    p.add_argument("--preview", metavar="PNG", help="also write a preview sheet: original | shaded | difference "
                   "x8, what the model sees (the decoder's reconstruction of each latent) and the verdict in words; "
                   "with several images, NAME-<image>.png")
    p.add_argument("--stronger", action="store_true",
                   help="shade from the original again, one intensity stronger than --intensity (or the configured "
                        "one): what to do when a result is weakly protected")
    p.add_argument("--ray", metavar="ADDRESS", help="shade on a Ray cluster: auto, local, ray://HOST:10001 or "
                   "HOST:PORT (default SHADE_RAY_ADDRESS); resumable, with a manifest in --out (needs shade-art[cluster])")
    add_shading_arguments(p)
    p.set_defaults(func=run)


def free_path(folder: Path, name: str) -> Path:
    """``folder/name``, or ``name-1``, ``name-2``... when taken (the daemon's one naming
    policy, ``service/naming.py``): nothing is ever overwritten."""
    from ..service.naming import candidates

    return next(c for c in candidates(folder, name) if not os.path.lexists(c))


def file_sizes(src: Path, written: Path) -> dict:
    """The result's bytes against the original's (JPEG results keep the original's quality
    and chroma subsampling, so this stays near 1)."""
    original, result = src.stat().st_size, written.stat().st_size
    return {"bytes": result, "original_bytes": original, "size_ratio": round(result / max(original, 1), 4)}


def preview_path(preview: str, src: Path, many: bool) -> Path:
    """Where the preview sheet of ``src`` goes: PREVIEW itself, or PREVIEW-<image>.png for several."""
    target = Path(preview)
    if many:
        target = target.with_name(f"{target.stem}-{src.stem}.png")
    target.parent.mkdir(parents=True, exist_ok=True)
    return free_path(target.parent, target.name)


def write_preview(src: Path, result, options, path: Path) -> Path:
    from shading import Protector, load_image, sheet

    original = load_image(src, options.max_pixels).rgb
    protector = Protector.from_pretrained(result.measurements.get("encoders") or options.encoders,
                                          result.measurements.get("device") or "cpu", options.model_dirs)
    preview = protector.preview(original, result.data or result.to_bytes(), result.measurements, options.view_size)
    sheet(preview, src.name).save(path, "PNG")
    return path


def verdict_line(src: Path, written: Path, judged, sheet) -> str:
    """The line a person reads: where the result went and the verdict in words, with the next
    step as a command that exists (``--stronger``) or the word that there is none."""
    line = f"{src} -> {written}: {judged.words}"
    if judged.effect:
        line += f"; {judged.effect}"
    if not judged.protected:
        line += (f". To shade it again, stronger ({judged.next_intensity}): run the same command with --stronger"
                 if judged.next_intensity else f". {judged.advice}")
    return line + (f"  (preview {sheet})" if sheet else "")


def labels_line(report: dict) -> str:
    """What each label model sees in the original and in the written file after JPEG 85; a
    change counts only beyond the original's own JPEG-85 copy."""
    parts = []
    for group, rows in (("", report.get("white_box", [])), ("held out ", report.get("held_out", []))):
        for row in rows:
            if not row.get("original_top1"):          # a CLIP tower: an embedding, no label
                continue
            seen = "changed" if row["changed_above_floor"] else "unchanged"
            parts.append(f"{group}{row['model']} {row['original_top1']} -> {row['written']['top1']} ({seen})")
    return "; ".join(parts) or "(no label model names labels)"


def _ray_address(args: argparse.Namespace):
    from ..cluster import ClusterError
    from ..cluster.connect import resolve_address

    try:
        return resolve_address(getattr(args, "ray", None))
    except ClusterError as exc:
        print(f"shade: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def run(args: argparse.Namespace) -> int:
    from shading import ShadeError, inspect_image, next_intensity, output_name, protect, verdict

    settings, _ = settings_or_exit()
    options = options_from(args, settings)
    if getattr(args, "stronger", False):
        stronger = next_intensity(options.intensity)
        if stronger is None:
            print(f"shade: {options.intensity} is already the strongest intensity, so there is no stronger "
                  "shading to do; another target may work better", file=sys.stderr)
            return 2
        print(f"shade: shading from the original at the {stronger} intensity (one stronger than "
              f"{options.intensity})", file=sys.stderr)
        options.intensity = stronger
    address = _ray_address(args)
    if address:
        from ..cluster.cli import run_protect

        return run_protect(args, options, address)
    out_dir = Path(args.out)
    failures = 0
    for image in args.images:
        src = Path(image)
        bar = tqdm(total=1, desc=src.name, unit="step", leave=False, file=sys.stderr,
                   disable=not sys.stderr.isatty())

        def on_progress(step: int, total: int, stage: str) -> None:
            bar.total = total
            bar.set_postfix_str(stage)
            bar.n = step
            bar.refresh()
        try:
            # The daemon's check (shading.FORMATS, the size limit), so both accept the same images.
            inspect_image(src, options.max_pixels, what=str(src))
            result = protect(src, options, progress=on_progress)
            out_dir.mkdir(parents=True, exist_ok=True)
            written = result.save(free_path(out_dir, output_name(src.name, result.format)))
        except ShadeError as exc:
            failures += 1
            print(f"shade: {exc}", file=sys.stderr)
            continue
        finally:
            bar.close()
        m = result.measurements
        sheet = None
        if getattr(args, "preview", None):
            try:
                sheet = write_preview(src, result, options, preview_path(args.preview, src, len(args.images) > 1))
            except ShadeError as exc:
                print(f"shade: no preview for {src}: {exc}", file=sys.stderr)
        judged = verdict(m)
        if args.json:
            record = {"input": str(src), "output": str(written), **m, "verdict": judged.as_dict(),
                      **file_sizes(src, Path(written)), **({"preview": str(sheet)} if sheet else {})}
            print(json.dumps(record), flush=True)
        else:
            print(verdict_line(src, Path(written), judged, sheet), flush=True)
            print(f"  details: ratio {m['latent_ratio']:.3f} (JPEG85 {m['latent_ratio_jpeg85']:.3f})  "
                  f"SSIMULACRA2 {m['ssimulacra2']:.1f}  PSNR {m['psnr']:.1f} dB  {m['seconds']:.1f}s", flush=True)
            if m.get("labels"):
                print(f"  labels after JPEG 85: {labels_line(m['labels'])}", flush=True)
    return 1 if failures else 0
