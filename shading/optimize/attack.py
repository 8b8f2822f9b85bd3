"""The optimizers: Shade's own, and the published reference it is measured against.

Shade's works under a visibility budget, not an energy one. The perturbation is

    delta = a * M * B(u) / rms(M * B(u))

- ``M``, the masking map (``shading.pixels.mask``): ~0 on skies, gradients, skin, flat colour
  and line art, up to 1 in dense contrasted texture, so energy goes where texture hides it;
- ``B``, a band limit: the pattern's low frequencies (below a Gaussian of ``low_cut``
  image pixels) are removed from luminance and colour alike, so nothing the eye reads as
  a shape or a layout (the anchor's outlines, a style's large swirls) can form, and
  colour is blurred to half the Nyquist frequency, where JPEG's 4:2:0 would delete it;
- ``a``, the RMS of delta, refitted every few steps so that SSIMULACRA2 of the shaded
  image against the original stays at the intensity's target.

Each step moves ``u`` along the normalized gradient of the encoders' latent distance to the
target (steepest descent at fixed visibility), weighed by band (``shading.measure.bands``):
each channel's statistics and the coarse layout first, every cell last, each band relative
to the unshaded image's own distance in it, seen directly and, with
weight ``eot``, through a freshly sampled post-upload transformation (JPEG, rescale,
noise, blur) applied to the uploaded image at its own size. Steps take the trainer views
in turn; at the default quality every other one is a 512 tile of the 1024 view. ``u``
starts from a random draw, so no two images (or seeds) share a pattern.

The reference (Nightshade's released algorithm): L-inf PGD with sign steps whose size
decays linearly from eps to eps/100, on the plain encoder loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import torch
from torch.utils.checkpoint import checkpoint

from ..measure.bands import band_terms
from ..measure.perceptual import Reference, fit_scale
from ..pixels.mask import blur, luma
from ..pixels.transforms import PostingSimulator, jpeg
from ..pixels.views import resize
from .precision import autocast

StepCallback = Callable[[int], None]
PLAIN_DISTANCE = (0.0, 0.0, 1.0)    # band weights of the published recipe: every cell alike


@dataclass(frozen=True)
class AttackSettings:
    visibility: float          # SSIMULACRA2 the shaded working image keeps against the original
    cap: float = 16 / 255      # per-pixel cap on |delta|, [0, 1] units
    px: float = 1.0            # one full-size pixel in working pixels (<= 1 when working smaller)
    low_cut: float = 3.0       # full-size pixels: the pattern keeps no structure coarser than this
    chroma_cut: float = 1.0    # working pixels: colour blurred to half the Nyquist frequency
    lr: float = 0.6            # the first step, relative to the pattern's RMS
    lr_floor: float = 0.1      # the cosine schedule ends at lr * lr_floor
    start_rms: float = 2 / 255
    grain_cap: float = 1 / 255  # the grain on smooth regions: +-1 code value at most, like dithering
    envelope: float = 6.0      # working pixels: the pattern's local RMS is evened out at this scale,
                               # so where the change is strong is the mask's choice, never the target's
    written_jpeg: Optional[tuple[int, bool]] = None   # (quality, 4:2:0) of the file as it will be written
    grain_cut: float = 1.0     # working pixels: the grain is what is finer than this blur
    recalibrate_every: int = 8
    # How far each step also leans away from the direction in which SSIMULACRA2 sees more
    # (the metric's gradient, refreshed every ``visibility_every`` steps): at 0.5 the same
    # visibility held ~0.015 more latent movement on Woman with a Hat than without it.
    visibility_weight: float = 0.5
    visibility_every: int = 3
    # Stop at the plateau: every ``plateau_every`` steps (from ``plateau_after`` on) the clean
    # latent distance at the first view is measured (one forward pass); when it fell by less
    # than ``plateau_gain`` of itself since the last look, more steps would buy nothing
    # measurable and the run ends there. 0 turns it off.
    plateau_every: int = 0
    plateau_after: int = 8
    plateau_gain: float = 0.01
    # With an EOT weight between 0 and 1, each step may take one encoder pass, clean or
    # through a simulated posting, in turn (each view sees both kinds over two rounds),
    # instead of both: half the passes a step. Off by default: on three bench images it
    # took 0.6-0.85x the time per image of both passes, but gave back up to 0.01 of the
    # ratio after JPEG 85 and 0.03 at the 1024 view (README, "Speed").
    alternate_eot: bool = False
    # The self-check's extra steps continue from the end of the cosine schedule (this
    # share of ``lr``) instead of restarting it: restarted at ``lr``, they undid work and
    # left the ratio after JPEG 85 worse than before the check on the bench images.
    check_lr: float = 0.1
    # The loss's weight on each latent band (``bands.BANDS``: channel statistics, coarse
    # layout, every cell), each relative to the unshaded image's distance in that band.
    # ``PLAIN_DISTANCE`` (0, 0, 1) is the plain latent distance of the published recipe.
    band_weights: tuple[float, float, float] = (1.0, 1.0, 0.25)


@dataclass
class TrainerView:
    """One way a trainer sees the image: resized to ``shape``, then the square crop at
    (``top``, ``left``) of side ``size``; ``targets`` holds the target latent per encoder."""

    shape: tuple[int, int]
    top: int
    left: int
    size: int
    targets: list = field(default_factory=list)

    def look(self, x: torch.Tensor) -> torch.Tensor:
        return resize(x, self.shape)[..., self.top:self.top + self.size, self.left:self.left + self.size]


def trainer_views(shape: tuple[int, int]) -> list[TrainerView]:
    """The centre crop (twice, it is what most trainers take) and both ends of a non-square view."""
    h, w = shape
    size = min(h, w)
    if h == w:
        return [TrainerView(shape, 0, 0, size)]
    if w > h:
        offsets = [(0, (w - size) // 2), (0, 0), (0, (w - size) // 2), (0, w - size)]
    else:
        offsets = [((h - size) // 2, 0), (0, 0), ((h - size) // 2, 0), (h - size, 0)]
    return [TrainerView(shape, top, left, size) for top, left in offsets]


def tiled_views(shape: tuple[int, int], tile: int) -> list[TrainerView]:
    """A view larger than the encoder's usual input (the 1024 view of FLUX- and SDXL-era
    trainers), seen through ``tile`` x ``tile`` crops on a grid over its centre square: each
    crop costs one pass at the usual size instead of four, and the encoder is convolutional,
    so what moves a tile's latent moves that part of the whole view's latent."""
    h, w = shape
    side = min(h, w)
    top0, left0 = (h - side) // 2, (w - side) // 2
    n = -(-side // tile)
    offsets = [0] if n == 1 else [round(i * (side - tile) / (n - 1) / 8) * 8 for i in range(n)]
    return [TrainerView(shape, top0 + dy, left0 + dx, tile) for dy in offsets for dx in offsets]


def interleave(*groups: Sequence[TrainerView]) -> list[TrainerView]:
    """One view from each non-empty group in turn, so every kind is seen every few steps."""
    groups = tuple(g for g in groups if g)
    longest = max((len(g) for g in groups), default=0)
    return [g[i % len(g)] for i in range(longest) for g in groups]


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last)


def _rms(x: torch.Tensor) -> torch.Tensor:
    return (x.pow(2).mean() + 1e-24).sqrt()     # finite gradient where x is all zero (a flat image)


def band_limit(u: torch.Tensor, low_cut: float, chroma_cut: float) -> torch.Tensor:
    """``u`` without its frequencies below a Gaussian of ``low_cut`` pixels, its colour
    (what is left after the Rec. 601 luminance) also blurred at ``chroma_cut`` pixels."""
    y = luma(u)
    chroma = u - y
    y_band = y - blur(y, low_cut)
    c_band = blur(chroma, chroma_cut) - blur(chroma, low_cut)
    return y_band + c_band


def grain(u: torch.Tensor, cut: float) -> torch.Tensor:
    """The finest luminance detail of ``u`` (what differs from its blur at ``cut`` pixels):
    on smooth regions Shade adds only this, at the amplitude of 8-bit dithering, where no
    shape, streak or outline can build up at a scale the eye reads."""
    y = luma(u)
    return (y - blur(y, cut)).expand(-1, 3, -1, -1)


def perturbation(mid: torch.Tensor, fine: torch.Tensor, mask: torch.Tensor, scale: float, mid_norm,
                 fine_norm, cap: float, grain_cap: float) -> torch.Tensor:
    """delta = scale * mask * mid / mid_norm, plus on what the mask leaves (smooth regions) a
    dither-level grain bounded by ``grain_cap`` (and by scale / 2), all within +-``cap``."""
    delta = scale * mask * mid / mid_norm
    if grain_cap > 0:
        amp = min(grain_cap, 0.5 * scale)
        delta = delta + amp * (1 - mask) * torch.tanh(fine / fine_norm)
    return delta.clamp(-cap, cap)


class Shader:
    """Optimizes one image's perturbation at the working view under a visibility budget;
    can be resumed."""

    def __init__(self, x: torch.Tensor, mask: torch.Tensor, encoders: Sequence[torch.nn.Module],
                 views: Sequence["TrainerView"], settings: AttackSettings,
                 generator: torch.Generator, eot: float = 0.5,
                 dtype: Optional[torch.dtype] = None,
                 labels: Optional[Callable[[torch.Tensor, torch.Generator], torch.Tensor]] = None,
                 label_weight: float = 1.0, latent: bool = True) -> None:
        """``x`` and ``mask`` at the working resolution; ``views``: the trainer views looked
        through (with their per-encoder targets), used in turn, step by step; ``eot``: the
        weight of the transformed pass in the loss (0: none); ``dtype``: the autocast dtype
        of the encoder passes (None: float32); ``labels``: the label channel's loss on the
        uploaded image (``shading.labels.LabelObjective``: it goes through each model's own
        resize and crop), added with ``label_weight`` under the same perturbation."""
        self.x, self.mask, self.encoders = x, mask, list(encoders)
        self.labels, self.label_weight = labels, label_weight
        self.latent = latent        # False: the labels channel alone (the encoders only measure)
        self.dtype = dtype
        self.views = list(views)
        self.settings = settings
        self.eot = eot
        self.generator = generator
        self.simulator = PostingSimulator(generator)
        self.u = torch.randn(x.shape, generator=generator).to(x.device)
        self.passes = 0         # encoder passes followed back (forward and backward)
        self.scales = self._starting_distances()
        self.reference = Reference(x)      # the original's side of SSIMULACRA2, computed once
        self.plateaued = False
        self._last_distance: Optional[float] = None
        self._origin: Optional[list[float]] = None
        self.steps_done = 0
        self.scale = settings.start_rms
        self.visibility = float("nan")
        self._away: Optional[torch.Tensor] = None
        self.recalibrate(max_evals=5)

    @torch.no_grad()
    def _starting_distances(self) -> list[list[list[float]]]:
        """Per view and encoder: the unshaded image's latent distance to the target in each
        band, so that all views and bands weigh alike; in the passes' own precision, once per
        distinct view."""
        seen: dict[tuple, list[float]] = {}
        out = []
        for view in self.views:
            key = (view.shape, view.top, view.left, view.size)
            if key not in seen:
                crop = _channels_last(view.look(self.x))
                row = []
                for enc, z in zip(self.encoders, view.targets):
                    with autocast(str(crop.device), self.dtype):
                        latent = enc(crop)
                    row.append([float(v) for v in band_terms(latent.float(), z).clamp_min(1e-8)])
                seen[key] = row
            out.append(list(seen[key]))
        return out

    def shaped(self, u: torch.Tensor) -> torch.Tensor:
        """The band-limited pattern before the mask, with its local RMS evened out: the
        optimizer chooses the pattern's texture, the mask alone where it is strong (else
        the energy piles up along the target's outlines, a ghost of it)."""
        s = self.settings
        p = band_limit(u, s.low_cut * s.px, s.chroma_cut)
        local = (blur(p.pow(2).mean(1, keepdim=True), s.envelope) + 1e-24).sqrt()
        return p / (local + 0.1 * _rms(p).detach())

    def unit(self) -> tuple[torch.Tensor, torch.Tensor, float, float]:
        """What ``perturbation`` needs besides the mask and the scale, to render the same
        delta at another size: the band-limited pattern, the grain, and their norms."""
        with torch.no_grad():
            mid, fine = self.shaped(self.u), grain(self.u, self.settings.grain_cut)
            return mid, fine, float(_rms(self.mask * mid).clamp_min(1e-12)), float(_rms(fine).clamp_min(1e-12))

    def _delta(self, u: torch.Tensor, scale: float) -> torch.Tensor:
        s = self.settings
        mid = self.shaped(u)
        fine = grain(u, s.grain_cut) if s.grain_cap > 0 else mid
        return perturbation(mid, fine, self.mask, scale, _rms(self.mask * mid).clamp_min(1e-12),
                            _rms(fine).clamp_min(1e-12), s.cap, s.grain_cap)

    def _written(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` as the output file will hold it (through its own JPEG encoding, if any)."""
        if self.settings.written_jpeg is None:
            return x
        quality, subsampled = self.settings.written_jpeg
        return jpeg(x, quality, subsampled)

    @torch.no_grad()
    def recalibrate(self, max_evals: int = 3) -> None:
        """Refit the scale so the shaded working image keeps the visibility target."""
        target = self.settings.visibility

        def score_at(a: float) -> float:
            shaded = self._written((self.x + self._delta(self.u, a)).clamp(0, 1))
            return self.reference.score(shaded)
        self.scale, self.visibility = fit_scale(score_at, target, self.scale, tolerance=0.5, max_evals=max_evals)

    def _visibility_grad(self) -> torch.Tensor:
        """The RMS-normalized gradient of the SSIMULACRA2 deficit at the current scale: the
        direction in which the same energy would show more."""
        u = self.u.detach().requires_grad_(True)
        shaded = checkpoint(self._uploaded, u, use_reentrant=False)     # its graph is made again below
        # The metric's own graph at the working size would take ~1.4 GB: it is followed
        # back window by window (``perceptual.Reference``), then on through the pattern.
        _, toward = self.reference.score_and_gradient(shaded.detach())
        (g,) = torch.autograd.grad(shaded, u, grad_outputs=-toward)
        return g / _rms(g).clamp_min(1e-12)

    def _pass(self, view: TrainerView, scales: list[list[float]], shaded: torch.Tensor, transform) -> torch.Tensor:
        loss = 0.0
        weights = torch.tensor(self.settings.band_weights)
        weights = weights / weights.sum()
        for enc, z, scale in zip(self.encoders, view.targets, scales):
            xt, zt = transform(shaded, z)
            with autocast(str(xt.device), self.dtype):
                latent = enc(_channels_last(xt))
            loss = loss + (weights.to(latent.device) * band_terms(latent.float(), zt) / torch.tensor(
                scale, device=latent.device)).sum()
        self.passes += len(self.encoders)
        return loss / len(self.encoders)

    def _uploaded(self, u: torch.Tensor) -> torch.Tensor:
        return self._written((self.x + self._delta(u, self.scale)).clamp(0, 1))

    def _gradient(self, u: torch.Tensor) -> torch.Tensor:
        """The loss's gradient with respect to ``u`` at this step's view. The clean and the
        transformed pass are each followed back on their own as far as the uploaded image,
        so only one encoder graph is alive at a time; then once through the pattern."""
        v = self.steps_done % len(self.views)
        view, scales = self.views[v], self.scales[v]
        # The pattern's own graph (blurs at the working size, ~250 MB at 1.5 MP) is not kept
        # through the encoder passes: it is made again when followed back.
        uploaded = checkpoint(self._uploaded, u, use_reentrant=False)
        seen = uploaded.detach().requires_grad_(True)
        clean, transformed = 1 - self.eot, self.eot
        if self.settings.alternate_eot and 0 < self.eot < 1:
            # One pass a step, in turn; the turn also shifts by one each round of the views,
            # so a view seen clean in one round is seen transformed in the next.
            k = self.steps_done
            if (k + k // len(self.views)) % 2:
                clean, transformed = 0.0, 1.0
            else:
                clean, transformed = 1.0, 0.0
        if not self.latent:
            clean = transformed = 0.0
        if clean > 0:
            (clean * self._pass(view, scales, view.look(seen), lambda x, z: (x, z))).backward()
        if transformed > 0:
            posting = self.simulator.sample()
            (transformed * self._pass(view, scales, view.look(posting.op(seen)), posting.shift)).backward()
        toward = seen.grad
        if self.labels is not None and self.label_weight > 0:
            # Each channel's gradient at the uploaded image, RMS-normalized before they are
            # added: the two losses have unrelated scales (band distances over calibrated
            # per-view weights against a cross-entropy), so a raw sum lets whichever happens
            # to be larger take the step, and ``label_weight`` would not be the share it says.
            seen.grad = None
            self.labels(seen, self.generator).backward()
            labels = seen.grad / _rms(seen.grad).clamp_min(1e-12)
            toward = labels * self.label_weight if toward is None else (
                toward / _rms(toward).clamp_min(1e-12) + self.label_weight * labels)
        (grad,) = torch.autograd.grad(uploaded, u, grad_outputs=toward)
        return grad

    def state_dict(self) -> dict:
        """Everything the rest of a run depends on, on the CPU: the pattern, the scale and
        visibility, the step count, the per-view loss weights, the random stream of the
        simulated postings, and the visibility direction when the next step reuses it."""
        s = self.settings
        keep_away = self._away is not None and self.steps_done % s.visibility_every != 0
        return {
            "u": self.u.detach().float().cpu().clone(),
            "scale": float(self.scale), "visibility": float(self.visibility), "steps_done": int(self.steps_done),
            "scales": [[[float(b) for b in bands] for bands in row] for row in self.scales],
            "generator": self.generator.get_state().clone(),
            "away": self._away.detach().float().cpu().clone() if keep_away else None,
            "last_distance": self._last_distance, "plateaued": self.plateaued, "passes": int(self.passes),
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from ``state_dict()``'s state; raises ValueError when it does not fit
        this image and these views (nothing is changed then)."""
        u, away, gen = state["u"], state["away"], state["generator"]
        if not isinstance(u, torch.Tensor) or tuple(u.shape) != tuple(self.x.shape) or not u.is_floating_point():
            raise ValueError(f"the pattern is {getattr(u, 'shape', type(u).__name__)}, this image needs "
                             f"{tuple(self.x.shape)}")
        if away is not None and (not isinstance(away, torch.Tensor) or tuple(away.shape) != tuple(self.x.shape)):
            raise ValueError("the visibility direction does not fit this image")
        try:
            scales = [[[float(b) for b in bands] for bands in row] for row in state["scales"]]
        except TypeError:
            raise ValueError("the per-view weights are not per band (a state from an older Shade)") from None
        if [[len(b) for b in row] for row in scales] != [[len(b) for b in row] for row in self.scales]:
            raise ValueError("the per-view weights do not fit these views and encoders")
        steps_done, scale, seen = int(state["steps_done"]), float(state["scale"]), float(state["visibility"])
        if steps_done < 0 or not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"not a state a run reaches (step {steps_done}, scale {scale})")
        if not isinstance(gen, torch.Tensor) or gen.dtype != torch.uint8:
            raise ValueError("the random stream's state is not a byte tensor")
        self.generator.set_state(gen.clone())
        self.u = u.to(self.x.device, torch.float32).clone()
        self._away = away.to(self.x.device, torch.float32).clone() if away is not None else None
        self.scales, self.steps_done, self.scale, self.visibility = scales, steps_done, scale, seen
        last = state.get("last_distance")
        self._last_distance = float(last) if isinstance(last, (int, float)) else None
        self.plateaued = bool(state.get("plateaued", False))
        self.passes = int(state.get("passes", 0))

    def run(self, steps: int, on_step: Optional[StepCallback] = None, first: int = 0,
            lr: Optional[float] = None) -> None:
        """``steps`` steps on a cosine schedule from ``lr`` (default: the settings' ``lr``)
        down to its floor; ``first``: how many of them a run resumed from ``state_dict()``
        already did (the schedule continues where it was)."""
        s = self.settings
        top = s.lr if lr is None else lr
        if first == 0:              # a fresh schedule (the self-check's too) looks for its own plateau
            self.plateaued, self._last_distance = False, None
        elif self.plateaued:        # resumed after the run had already stopped at its plateau
            return
        for i in range(first, steps):
            step_lr = top * (s.lr_floor + (1 - s.lr_floor) * 0.5 * (1 + math.cos(math.pi * i / max(1, steps))))
            u = self.u.requires_grad_(True)
            grad = self._gradient(u)
            if s.visibility_weight > 0:
                if self._away is None or self.steps_done % s.visibility_every == 0:
                    self._away = self._visibility_grad()
                grad = grad / _rms(grad).clamp_min(1e-12) + s.visibility_weight * self._away
            with torch.no_grad():
                self.u = u.detach() - step_lr * _rms(u.detach()) * grad / _rms(grad).clamp_min(1e-12)
            self.steps_done += 1
            stop = i < steps - 1 and self._at_plateau()
            if self.steps_done % s.recalibrate_every == 0 or i == steps - 1 or stop:
                self.recalibrate()
            if on_step:
                on_step(self.steps_done)
            if stop:
                self.plateaued = True
                break

    @torch.no_grad()
    def _first_view_distances(self, shaded: torch.Tensor) -> list[float]:
        view = self.views[0]
        seen = view.look(self._written(shaded))
        out = []
        for enc, z in zip(self.encoders, view.targets):
            with autocast(str(seen.device), self.dtype):
                latent = enc(_channels_last(seen))
            out.append(float((latent.float() - z).pow(2).mean()))
        return out

    def distance(self) -> float:
        """The clean latent distance at the first view (the trainer's centre crop), relative
        to the unshaded image's, in the passes' own precision: 1 at the start, falling as
        the encoder comes to see the target."""
        now = self._first_view_distances((self.x + self._delta(self.u, self.scale)).clamp(0, 1))
        if self._origin is None:
            self._origin = self._first_view_distances(self.x)
        return sum(n / max(o, 1e-12) for n, o in zip(now, self._origin)) / len(now)

    def _at_plateau(self) -> bool:
        s = self.settings
        if not s.plateau_every or self.steps_done < s.plateau_after or self.steps_done % s.plateau_every:
            return False
        now, before = self.distance(), self._last_distance
        self._last_distance = now
        return before is not None and before - now < s.plateau_gain * before


def reference_attack(x: torch.Tensor, encoder: torch.nn.Module, target: torch.Tensor, eps: float = 0.04,
                     steps: int = 500, on_step: Optional[StepCallback] = None,
                     dtype: Optional[torch.dtype] = None) -> torch.Tensor:
    """Nightshade's released optimizer; returns delta at the view (|delta| <= eps).
    ``dtype``: the encoder passes' autocast dtype (None: float32), as for Shade's own."""
    delta = torch.zeros_like(x)
    for i in range(steps):
        step = eps - (eps - eps / 100) * i / max(1, steps - 1)
        delta.requires_grad_(True)
        with autocast(str(x.device), dtype):
            latent = encoder(_channels_last((x + delta).clamp(0, 1)))
        loss = (latent.float() - target).pow(2).mean()
        (grad,) = torch.autograd.grad(loss, delta)
        with torch.no_grad():
            delta = (delta - step * grad.sign()).clamp(-eps, eps)
            delta = (x + delta).clamp(0, 1) - x
        if on_step:
            on_step(i + 1)
    return delta.detach()
