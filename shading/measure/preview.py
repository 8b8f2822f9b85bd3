"""The preview of one shaded image: original | shaded | difference x8, and what the model
sees (the decoder's reconstruction of the shaded image's latent next to the original's),
with the measured strength and visibility said in words. The daemon's dashboard shows
the parts; ``shade protect --preview`` writes them as one PNG sheet."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import numpy as np
import torch
from PIL import Image, ImageDraw

from ..options import ProgressCallback
from ..pixels.views import to_tensor, to_uint8, view_shape
from ..verdict import verdict as judge

DIFF_GAIN = 8           # the difference image: 128 + 8 x (shaded - original), per channel
MODEL_DIFF_GAIN = 8     # the reconstructions' difference: 128 + 8 x (seen shaded - seen original)
# SSIMULACRA2 (0-100) -> how visible the change is, in words (the first bound it reaches).
VISIBILITY_WORDS = ((90.0, "invisible at 1:1"), (80.0, "hard to see, even at 1:1"),
                    (70.0, "visible on a close look at 1:1"), (0.0, "visible"))


def difference(original: np.ndarray, shaded: np.ndarray, gain: int = DIFF_GAIN) -> np.ndarray:
    """The change, amplified ``gain`` times around mid-grey (H x W x 3 uint8)."""
    return np.clip(128 + gain * (shaded.astype(np.int32) - original.astype(np.int32)), 0, 255).astype(np.uint8)


def model_input(rgb: np.ndarray, view_size: int) -> torch.Tensor:
    """The whole image as a trainer feeds it to the encoder: PIL bicubic resize to the short
    side ``view_size`` (both sides multiples of 8), 1 x 3 x H x W in [0, 1]."""
    h, w = rgb.shape[:2]
    vh, vw = view_shape(h, w, view_size)
    return to_tensor(np.asarray(Image.fromarray(rgb).resize((vw, vh), Image.Resampling.BICUBIC)))


def model_sees(rgb: np.ndarray, encoder: Any, decoder: Any, view_size: int, device: str = "cpu") -> np.ndarray:
    """The decoder's reconstruction of the encoder's latent of ``rgb`` at the trainer's view."""
    x = model_input(rgb, view_size).to(device)
    if device == "cpu":
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        z = encoder(x)
        return to_uint8(decoder(z).float())


def visibility_words(ssimulacra2: Optional[float]) -> str:
    if ssimulacra2 is None:
        return "visibility not measured"
    for bound, words in VISIBILITY_WORDS:
        if ssimulacra2 >= bound:
            return words
    return VISIBILITY_WORDS[-1][1]


def verdict(measurements: Mapping[str, Any]) -> dict[str, Any]:
    """Strength and visibility of a shaded image in words, from its measurements: the strength
    is the one verdict (``shading.verdict``) every other surface shows."""
    r85 = measurements.get("latent_ratio_jpeg85")
    weak = bool(measurements.get("weak")) if measurements.get("weak") is not None else None
    try:
        judged: Optional[dict[str, Any]] = judge(measurements).as_dict()
    except ValueError:
        judged = None
    s2 = measurements.get("ssimulacra2")
    seen = visibility_words(float(s2) if s2 is not None else None)
    return {
        "strength": judged["words"] if judged else "protection not measured",
        "verdict": judged,
        "weak": weak,
        "latent_ratio": measurements.get("latent_ratio"),
        "latent_ratio_jpeg85": r85,
        "latent_ratios": measurements.get("latent_ratios") or {},
        "ssimulacra2": s2,
        "visibility": f"change: {seen}" + (f" (SSIMULACRA2 {float(s2):.1f})" if s2 is not None else ""),
        "labels": tagger_view(measurements),       # what a tagger sees: original -> shaded after JPEG 85
    }


def tagger_view(measurements: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What each label model (classifier, tagger) names in the original and in the written
    file after a JPEG-85 round trip, from the labels channel's report; empty without it.
    ``changed``: the top label moved beyond what re-saving the original alone does."""
    report = measurements.get("labels") or {}
    out = []
    for held_out, rows in ((False, report.get("white_box") or []), (True, report.get("held_out") or [])):
        for row in rows:
            if not row.get("original_top1"):          # a CLIP tower names no labels
                continue
            original = row.get("original_top") or [(row["original_top1"], row.get("original_prob", 0.0))]
            written = row["written"]
            shaded = written.get("top") or [(written["top1"], written.get("top1_prob", 0.0))]
            out.append({"model": row["model"], "held_out": held_out, "changed": bool(row.get("changed_above_floor")),
                        "original": [[str(n), float(p)] for n, p in original],
                        "shaded": [[str(n), float(p)] for n, p in shaded]})
    return out


def tagger_lines(view: list[dict[str, Any]]) -> list[str]:
    """``tagger_view``'s result as lines of text: model: original labels -> the shaded file's."""
    def names(pairs: list) -> str:
        return ", ".join(f"{n} {100 * p:.0f}%" for n, p in pairs)

    return [f"{v['model']}{' (held out)' if v['held_out'] else ''}: {names(v['original'])} -> {names(v['shaded'])}"
            f"{'' if v['changed'] else '  (top label unchanged)'}" for v in view]


@dataclass
class Preview:
    original: np.ndarray
    shaded: np.ndarray
    difference: np.ndarray
    seen_original: np.ndarray       # what the model sees of the original
    seen_shaded: np.ndarray         # ... and of the shaded image
    decoder: str                    # the encoder whose decoder drew them
    words: dict[str, Any] = field(default_factory=dict)
    target: Optional[np.ndarray] = None       # the anchor or style image the shading pulls towards
    seen_target: Optional[np.ndarray] = None  # what the model sees of it

    @property
    def seen_difference(self) -> np.ndarray:
        """The two reconstructions' difference, amplified (MODEL_DIFF_GAIN x around mid-grey): on
        a small view the drift is easy to miss side by side."""
        return difference(self.seen_original, self.seen_shaded, MODEL_DIFF_GAIN)

    def images(self) -> dict[str, np.ndarray]:
        out = {"original": self.original, "shaded": self.shaded, "difference": self.difference,
               "model-original": self.seen_original, "model-shaded": self.seen_shaded,
               "model-difference": self.seen_difference}
        if self.target is not None:
            out["target"] = self.target
        if self.seen_target is not None:
            out["model-target"] = self.seen_target
        return out


def make_preview(original: np.ndarray, shaded: np.ndarray, measurements: Mapping[str, Any],
                 encoder: Any, decoder: Any, decoder_name: str, view_size: int, device: str = "cpu",
                 target: Optional[np.ndarray] = None, progress: Optional[ProgressCallback] = None) -> Preview:
    """The preview of ``shaded`` (H x W x 3 uint8, the file as written) against ``original``,
    what the model sees through ``encoder`` and ``decoder`` (named ``decoder_name``), and, given
    the ``target`` image (anchor or style), what the model sees of it. ``progress(step, total,
    stage)`` is told before each reconstruction (stages "original", "shaded", "target")."""
    if original.shape != shaded.shape:
        raise ValueError(f"the shaded image ({shaded.shape[1]}x{shaded.shape[0]}) is not the original's size "
                         f"({original.shape[1]}x{original.shape[0]})")
    images = {"original": original, "shaded": shaded, **({"target": target} if target is not None else {})}
    seen = {}
    for step, (stage, rgb) in enumerate(images.items()):
        if progress is not None:
            progress(step, len(images), stage)
        seen[stage] = model_sees(rgb, encoder, decoder, view_size, device)
    return Preview(original, shaded, difference(original, shaded), seen["original"], seen["shaded"], decoder_name,
                   verdict(measurements), target, seen.get("target"))


def _fit(rgb: np.ndarray, height: int) -> Image.Image:
    img = Image.fromarray(rgb)
    if img.height == height:
        return img
    return img.resize((max(1, round(img.width * height / img.height)), height), Image.Resampling.LANCZOS)


def sheet(preview: Preview, title: str = "", row_height: int = 320) -> Image.Image:
    """One PNG sheet: original | shaded | difference x8 above what the model sees of the
    original | of the shaded image, with the verdict in words underneath."""
    rows = [
        ("original | shaded | difference x8", [preview.original, preview.shaded, preview.difference]),
        (f"what the model sees ({preview.decoder} decoder): original | shaded | their difference "
         f"x{MODEL_DIFF_GAIN}" + (" | the target" if preview.seen_target is not None else ""),
         [preview.seen_original, preview.seen_shaded, preview.seen_difference]
         + ([preview.seen_target] if preview.seen_target is not None else [])),
    ]
    height = min(row_height, preview.original.shape[0])
    gap, label_h = 8, 18
    tiles = [(label, [_fit(a, height) for a in images]) for label, images in rows]
    width = max(sum(t.width for t in images) + gap * (len(images) - 1) for _, images in tiles)
    words = [preview.words.get("strength", ""), preview.words.get("visibility", "")]
    ratio = preview.words.get("latent_ratio_jpeg85")
    if ratio is not None:
        words.append(f"latent ratio after JPEG 85: {float(ratio):.3f} (1 = unchanged, 0 = the target)")
    tagged = [f"  {line}" for line in tagger_lines(preview.words.get("labels") or [])]
    if tagged:
        words += ["what a tagger sees (original -> the shaded file after JPEG 85):", *tagged]
    text_h = label_h * (len(words) + (1 if title else 0))
    total_h = sum(label_h + height + gap for _ in tiles) + text_h + gap
    out = Image.new("RGB", (max(width, 480), total_h), "white")
    draw = ImageDraw.Draw(out)
    y = 0
    if title:
        draw.text((4, y + 3), title, fill="black")
        y += label_h
    for label, images in tiles:
        draw.text((4, y + 3), label, fill="black")
        y += label_h
        x = 0
        for img in images:
            out.paste(img, (x, y))
            x += img.width + gap
        y += height + gap
    for line in words:
        draw.text((4, y + 3), line, fill=(150, 20, 20) if "weak" in line else "black")
        y += label_h
    return out
