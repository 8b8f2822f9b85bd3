"""``run_poison_experiment``: does a generative model trained on shaded images learn the target?

The design, in short:
- concepts (default: one per painting) give base crops; some are for the generator's
  training set, others, held apart, train the judge (a linear probe on clean latents);
- concept A's training crops are shaded toward concept B (Shade through ``protect``, or
  the reference attack), a share p of them per condition, optionally purified after;
- every condition trains the same small class-conditional flow model from scratch on the
  taef2 latents (with the same seeds, so conditions are paired) until its loss plateaus,
  samples latents for A, and two judges of different kinds say what share of them looks
  like B: a linear probe on pooled latents, and a small conv net on the decoded pixels;
  a condition counts as shown only when both see it above the clean control's noise;
- the clean control (p = 0) and the label-swap upper bound (B's crops labelled A) frame it;
- Shade runs with the layout-sharing concept target and with the old whole-anchor one,
  and the reference attack at its published eps and scaled to Shade's visibility.
"""

from __future__ import annotations

import platform
import statistics
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch

from ...labels.registry import load_label_model
from ...measure.perceptual import score_arrays
from ...models.encoders import load_encoder, resolve_device
from ...optimize.attack import reference_attack
from ...optimize.precision import optimizer_dtype
from ...options import INTENSITIES, ProtectOptions
from ...protector import Protector
from .agreement import agreement, judge_margin
from .data import (
    PURIFIERS,
    Concept,
    Normalizer,
    base_crops,
    encode_bases,
    painting_concepts,
    sample_subset,
    to_tensor,
    to_uint8,
    windows,
)
from .decoder import load_decoder
from .flow import FlowNet, FlowSettings, parameter_count, sample_flow, train_flow
from .pixels_judge import JudgeSettings, pixel_accuracy, pixel_shares, train_pixel_judge
from .probe import Probe, confusion, mean_probabilities, shares, train_probe
from .recaption import Recaptioned, recaption

Log = Callable[[str], None]
ENCODER = "taef2"


@dataclass
class PoisonConfig:
    """Everything the experiment does; the defaults are the full experiment (about 18
    minutes on two CPU cores), ``fast_config`` a small one for tests."""

    concepts: Sequence[Concept] = ()           # empty: one concept per image in images_dir
    images_dir: Optional[Path] = None
    poisoned: Optional[str] = None             # concept A (default: the last concept)
    target: Optional[str] = None               # concept B (default: the second concept)
    crop: int = 192                            # base images: crops of this side (the trainer's view)
    window: int = 128                          # training samples: latent windows of this many pixels
    window_stride: int = 2                     # in latent cells
    source_short: int = 448                    # sources are resized to this short side before cropping
    train_images: int = 8                      # base crops per concept in the generator's training set
    probe_images: int = 4                      # held-apart base crops per concept that train the probe
    probe_test_images: int = 2                 # ... and that test it
    doses: tuple[int, ...] = (0, 25, 50, 100)  # percent of A's training images poisoned
    intensities: tuple[str, ...] = ("default", "high")
    objectives: tuple[str, ...] = ("concept", "anchor")   # Shade's targets: the first is the default's
    quality: str = "default"
    reference: bool = True                     # also the reference attack (Nightshade's optimizer)
    reference_matched: bool = True             # ... and its pattern scaled to Shade's visibility
    reference_eps: float = 0.04
    reference_steps: int = 100
    purifiers: tuple[str, ...] = ("jpeg75", "noise0.05+bilateral")
    seeds: tuple[int, ...] = (0, 1, 2)
    flow: FlowSettings = field(default_factory=FlowSettings)
    judge: JudgeSettings = field(default_factory=JudgeSettings)
    samples: int = 96                          # generated latents judged per condition and seed
    grid_samples: int = 8
    model_dirs: tuple[Path, ...] = ()
    device: str = "auto"
    precision: str = "auto"                    # the generator's passes: bfloat16 where native
    data_seed: int = 0
    # The recaptioning rows: the generator's labels for A's training images come from a
    # captioner outside Shade's ensemble (a held-out classifier's top label, as a concept),
    # and Shade also runs with its labels channel (alone and with the latent channel).
    recaption: bool = False
    captioner: str = "efficientnet-lite2"


def fast_config(**overrides: Any) -> PoisonConfig:
    """A small variant (2 concepts, few images, short training, one seed, Shade at one
    intensity with quality fast, a short reference run, no purification): about a minute
    on two CPU cores."""
    base = PoisonConfig(crop=160, source_short=320, train_images=4, probe_images=2, probe_test_images=1,
                        doses=(0, 100), intensities=("default",), quality="fast", reference=True,
                        reference_steps=10, purifiers=(), seeds=(0,),
                        flow=FlowSettings(width=32, steps=300, batch=48, plateau_every=50), samples=48,
                        grid_samples=4, judge=JudgeSettings(steps=150))
    return replace(base, **overrides)


@dataclass(frozen=True)
class Condition:
    name: str
    kind: str                      # clean, shade, reference, label_swap, purified (A's clean images, cleaned)
    dose: int                      # percent of A's training images changed
    intensity: Optional[str] = None
    purifier: Optional[str] = None
    variant: Optional[str] = None  # shade: its objective; reference: "published" or "matched"
    channels: tuple[str, ...] = ("latent",)   # shade: what the shading acts on
    recaptioned: bool = False      # A's training labels written by the held-out captioner

    @property
    def source(self) -> tuple[str, Optional[str], Optional[str], tuple[str, ...]]:
        """Which poisoned image set it draws from (kind, intensity, variant, channels)."""
        return self.kind, self.intensity, self.variant, self.channels if self.kind == "shade" else ("latent",)


def conditions_for(config: PoisonConfig) -> list[Condition]:
    out = [Condition("clean", "clean", 0)]
    poisoned = [d for d in config.doses if d > 0]
    first = config.objectives[0] if config.objectives else "concept"
    for objective in config.objectives:
        tag = "" if objective == first else f"-{objective}"
        for intensity in (config.intensities if objective == first else config.intensities[:1]):
            out += [Condition(f"shade-{intensity}{tag}-p{d}", "shade", d, intensity, None, objective)
                    for d in poisoned]
    if config.reference:
        out += [Condition(f"reference-p{d}", "reference", d, None, None, "published") for d in poisoned]
        if config.reference_matched and config.intensities:
            out.append(Condition("reference-matched-p100", "reference", 100, None, None, "matched"))
    out.append(Condition("label-swap", "label_swap", 100))
    if config.recaption and config.intensities and config.objectives:
        first_intensity = config.intensities[0]
        out.append(Condition("recaptioned-clean", "clean", 0, recaptioned=True))
        for tag, channels in (("latent", ("latent",)), ("labels", ("labels",)), ("both", ("latent", "labels"))):
            out.append(Condition(f"recaptioned-shade-{first_intensity}-{tag}-p100", "shade", 100, first_intensity,
                                 None, first, channels, True))
    for purifier in config.purifiers:
        # The purifier alone, on A's clean images: what the rows below owe to the cleaning
        # itself (a model trained on blurred or recompressed A drifts, shaded or not).
        out.append(Condition(f"purified-p100+{purifier}", "purified", 100, None, purifier))
        if config.intensities and config.objectives:
            out.append(Condition(f"shade-{config.intensities[0]}-p100+{purifier}", "shade", 100,
                                 config.intensities[0], purifier, first))
        if config.reference:
            out.append(Condition(f"reference-p100+{purifier}", "reference", 100, None, purifier, "published"))
    return out


class _Clock:
    """Wall and process CPU seconds per stage."""

    def __init__(self) -> None:
        self.stages: dict[str, dict[str, float]] = {}
        self.start_wall, self.start_cpu = time.perf_counter(), time.process_time()

    def add(self, stage: str, wall: float, cpu: float) -> None:
        entry = self.stages.setdefault(stage, {"wall_s": 0.0, "cpu_s": 0.0})
        entry["wall_s"] += wall
        entry["cpu_s"] += cpu

    def total(self) -> dict[str, float]:
        return {"wall_s": round(time.perf_counter() - self.start_wall, 1),
                "cpu_s": round(time.process_time() - self.start_cpu, 1)}


class _Stage:
    def __init__(self, clock: _Clock, name: str) -> None:
        self.clock, self.name = clock, name

    def __enter__(self) -> "_Stage":
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.clock.add(self.name, time.perf_counter() - self.wall, time.process_time() - self.cpu)


@dataclass
class PoisonResult:
    """The JSON-ready report, the decoded sample grid per condition (first seed) and the
    real crops shown beside them."""

    report: dict[str, Any]
    grids: dict[str, np.ndarray]            # condition -> N x H x W x 3 uint8 decoded samples
    references: dict[str, np.ndarray]       # "A (clean)", "B" -> real crops, N x H x W x 3


def _pick(names: list[str], wanted: Optional[str], default: str, role: str) -> int:
    name = wanted or default
    if name not in names:
        raise ValueError(f"{role} concept {name!r} is not among the concepts: {', '.join(names)}")
    return names.index(name)


def cpu_description() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "native_bf16": optimizer_dtype("cpu", "auto") is not None,
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__}


def _stats(values: Sequence[float]) -> dict[str, float]:
    vals = [float(v) for v in values]
    return {"mean": round(statistics.fmean(vals), 4),
            "std": round(statistics.pstdev(vals), 4) if len(vals) > 1 else 0.0,
            "min": round(min(vals), 4), "max": round(max(vals), 4)}


def run_poison_experiment(config: Optional[PoisonConfig] = None, log: Log = print) -> PoisonResult:
    """Run the experiment ``config`` describes; every number in the report comes from this run."""
    config = config or PoisonConfig()
    clock = _Clock()
    device = resolve_device(config.device)
    dirs = tuple(config.model_dirs)
    concepts = list(config.concepts) or (painting_concepts(config.images_dir) if config.images_dir else [])
    if len(concepts) < 2:
        raise ValueError("the experiment needs at least two concepts (give images_dir or concepts)")
    names = [c.name for c in concepts]
    a = _pick(names, config.poisoned, names[-1], "poisoned")
    b = _pick(names, config.target, names[1] if a != 1 else names[0], "target")
    if a == b:
        raise ValueError("the poisoned and the target concept must differ")
    classes = len(concepts)
    gen_dtype = optimizer_dtype(device, config.precision) if device == "cpu" else None
    latent_cells = config.window // 8

    with _Stage(clock, "load"):
        encoder = load_encoder(ENCODER, device, dirs)
        decode = load_decoder(ENCODER, dirs, "cpu")
    rng = np.random.default_rng(config.data_seed)
    n_train, n_fit, n_test = config.train_images, config.probe_images, config.probe_test_images
    crops = {c.name: base_crops(c, n_train + n_fit + n_test + 1, config.crop, config.source_short, rng)
             for c in concepts}
    anchor = crops[names[b]][-1]               # one anchor image of B, as Nightshade uses one per target

    def pick_windows(z: torch.Tensor, idx: Sequence[int], count: int) -> torch.Tensor:
        """Windows of the base latents ``idx`` (and their mirrors, stored after all ``count``)."""
        rows = [*idx, *(i + count for i in idx)]
        return windows(z[rows], latent_cells, config.window_stride)

    with _Stage(clock, "encode"):
        base_latents = {n: encode_bases(encoder, crops[n], device) for n in names}
    count = n_train + n_fit + n_test + 1
    train_idx = list(range(n_train))
    clean_train = {n: pick_windows(base_latents[n], train_idx, count) for n in names}
    norm = Normalizer.fit(torch.cat(list(clean_train.values())))

    with _Stage(clock, "probe"):
        fit_idx = list(range(n_train, n_train + n_fit))
        test_idx = list(range(n_train + n_fit, n_train + n_fit + n_test))
        fit = [norm(pick_windows(base_latents[n], fit_idx, count)) for n in names]
        test = [norm(pick_windows(base_latents[n], test_idx, count)) for n in names]
        fit_y = torch.cat([torch.full((len(f),), k) for k, f in enumerate(fit)])
        test_y = torch.cat([torch.full((len(t),), k) for k, t in enumerate(test)])
        probe = train_probe(torch.cat(fit), fit_y, classes)
        probe_report = {"train_accuracy": round(probe.accuracy(torch.cat(fit), fit_y), 4),
                        "test_accuracy": round(probe.accuracy(torch.cat(test), test_y), 4),
                        "chance": round(1 / classes, 4),
                        "test_confusion": confusion(probe, torch.cat(test), test_y, classes),
                        "train_windows": int(len(fit_y)), "test_windows": int(len(test_y))}
    log(f"probe: held-apart accuracy {probe_report['test_accuracy']:.3f} (chance {1 / classes:.3f})")

    def decoded(latents: torch.Tensor) -> torch.Tensor:
        """Normalized latents -> RGB in [0, 1] through the taef2 decoder, in batches."""
        with torch.no_grad():
            return torch.cat([decode(norm.invert(latents[i:i + 64])).float().clamp(0, 1)
                              for i in range(0, latents.shape[0], 64)])

    with _Stage(clock, "pixel judge"):
        fit_rgb, test_rgb = decoded(torch.cat(fit)), decoded(torch.cat(test))
        judge = train_pixel_judge(fit_rgb, fit_y, classes, torch.Generator().manual_seed(config.data_seed + 5),
                                  config.judge)
        probe_report["pixel_judge"] = {"kind": "conv net on decoded pixels", "steps": config.judge.steps,
                                       "train_accuracy": round(pixel_accuracy(judge, fit_rgb, fit_y), 4),
                                       "test_accuracy": round(pixel_accuracy(judge, test_rgb, test_y), 4)}
    log(f"pixel judge: held-apart accuracy {probe_report['pixel_judge']['test_accuracy']:.3f}")

    conditions = conditions_for(config)
    # Shade or attack each of A's training images once per (method, intensity).
    poisoned_images: dict[tuple[str, Optional[str]], list[np.ndarray]] = {}
    shading_report: dict[str, Any] = {}
    with torch.no_grad():
        z_anchor = encoder(to_tensor(anchor).to(device).contiguous(memory_format=torch.channels_last)).float().cpu()
    z_clean_a = base_latents[names[a]][:n_train]

    def ratio_to_anchor(z: torch.Tensor) -> float:
        """Mean latent ratio |E(s) - E(anchor)| / |E(o) - E(anchor)| over A's training images."""
        num = (z[:n_train] - z_anchor).flatten(1).norm(dim=1)
        den = (z_clean_a - z_anchor).flatten(1).norm(dim=1)
        return round(float((num / den).mean()), 4)

    protector = Protector({ENCODER: encoder}, device, dirs)
    deltas: list[torch.Tensor] = []                 # the reference's patterns at its published eps
    matched_visibility = INTENSITIES[config.intensities[0]].visibility if config.intensities else 78.0
    for source in dict.fromkeys(c.source for c in conditions if c.kind in ("shade", "reference")):
        kind, intensity, variant, channels = source
        label = (f"shade-{intensity}" + ("" if variant == config.objectives[0] else f"-{variant}")
                 + ("" if channels == ("latent",) else "-" + "+".join(channels))
                 if kind == "shade" else f"reference-{variant}")
        with _Stage(clock, f"shading:{label}") as stage:
            images, measured = [], []
            for k, i in enumerate(train_idx):
                original = crops[names[a]][i]
                if kind == "shade":
                    result = protector.protect(original, ProtectOptions(
                        mode="poison", anchor=anchor, encoders=(ENCODER,), intensity=intensity,
                        quality=config.quality, seed=10_000 * (config.data_seed + 1) + i, model_dirs=dirs,
                        device=device, view_size=config.crop, objective=variant, channels=channels))
                    images.append(np.asarray(result.image.convert("RGB")))
                    measured.append(result.measurements)
                elif variant == "published":
                    x = to_tensor(original).to(device)
                    delta = reference_attack(x, encoder, z_anchor.to(device), config.reference_eps,
                                             config.reference_steps)
                    deltas.append(delta.cpu())
                    images.append(to_uint8(x + delta))
                else:
                    images.append(_scaled_to_visibility(original, deltas[k], matched_visibility))
            poisoned_images[source] = images
        seconds = time.perf_counter() - stage.wall
        psnrs = [_psnr(crops[names[a]][i], img) for i, img in zip(train_idx, images)]
        seen = [score_arrays(crops[names[a]][i], img, torch.float32) for i, img in zip(train_idx, images)]
        z = encode_bases(encoder, images, device)
        entry = {"images": len(images), "seconds_per_image": round(seconds / max(1, len(images)), 2),
                 "psnr_mean": round(statistics.fmean(psnrs), 2),
                 "ssimulacra2_median": round(statistics.median(seen), 2),
                 "linf_255_max": int(max(np.abs(img.astype(int) - crops[names[a]][i].astype(int)).max()
                                         for i, img in zip(train_idx, images))),
                 "latent_ratio": ratio_to_anchor(z)}
        if kind == "shade":
            entry["protect_latent_ratio_mean"] = round(statistics.fmean(m["latent_ratio"] for m in measured), 4)
            entry["weak"] = sum(bool(m.get("weak")) for m in measured)
            entry["steps"] = measured[0].get("steps")
            entry["objective"] = variant
            entry["concept_ratio_mean"] = round(statistics.fmean(m["concept_ratio"] for m in measured), 4)
        else:
            entry.update(eps=config.reference_eps, steps=config.reference_steps, variant=variant)
        for purifier in config.purifiers:
            cleaned = [PURIFIERS[purifier](img, 7 + i) for i, img in enumerate(images)]
            entry[f"latent_ratio+{purifier}"] = ratio_to_anchor(encode_bases(encoder, cleaned, device))
        shading_report[label] = entry
        log(f"{label}: {len(images)} images, {entry['seconds_per_image']}s each, PSNR {entry['psnr_mean']}, "
            f"latent ratio to the anchor {entry['latent_ratio']}")

    poisoned_images[("purified", None, None, ("latent",))] = [crops[names[a]][i] for i in train_idx]   # cleaned, not shaded

    # The poisoned latents each condition can draw from, encoded once.
    latent_cache: dict[tuple, torch.Tensor] = {}

    def poisoned_latents(c: Condition) -> torch.Tensor:
        key = (*c.source, c.purifier)
        if key not in latent_cache:
            images = poisoned_images[c.source]
            if c.purifier:
                images = [PURIFIERS[c.purifier](img, 7 + i) for i, img in enumerate(images)]
            latent_cache[key] = encode_bases(encoder, images, device)
        return latent_cache[key]

    recaptions: dict[tuple, Recaptioned] = {}
    if any(c.recaptioned for c in conditions):
        with _Stage(clock, "recaption"):
            captioner = load_label_model(config.captioner, device, dirs)
            clean_a = [crops[names[a]][i] for i in train_idx]
            clean_caption = recaption(clean_a, clean_a, captioner)
            recaptions[("clean", None, None, ("latent",))] = clean_caption
            for c in conditions:
                if c.recaptioned and c.kind == "shade" and c.source not in recaptions:
                    recaptions[c.source] = recaption(clean_a, poisoned_images[c.source], captioner,
                                                     clean_label=clean_caption.clean_label)
        log(f"recaptioned by {config.captioner}: A's clean images are {clean_caption.clean_label!r} "
            f"({clean_caption.clean_share:.2f} otherwise); shaded, labelled otherwise: "
            + ", ".join(f"{'+'.join(k[3])} {r.shaded_share:.2f}" for k, r in recaptions.items() if k[0] == "shade"))

    def captioned_as(c: Condition) -> dict[int, str]:
        """Under recaptioning, A's training images (by index) the captioner names otherwise,
        with the concept their caption names: each is trained under that caption."""
        if not c.recaptioned:
            return {}
        found = recaptions[c.source if c.kind == "shade" else ("clean", None, None, ("latent",))]
        return {i: cap for i, cap in zip(train_idx, found.shaded_labels) if cap != found.clean_label}

    shape = tuple(clean_train[names[0]].shape[1:])
    results: dict[str, list[dict[str, Any]]] = {c.name: [] for c in conditions}
    grids: dict[str, np.ndarray] = {}
    flow_params = parameter_count(FlowNet(shape[0], classes, config.flow.width, config.flow.mid_blocks))
    for seed in config.seeds:
        subset_rng = np.random.default_rng([config.data_seed, seed])
        subsets = {d: sample_subset(n_train, d / 100, subset_rng) for d in sorted(set(config.doses) | {100})}
        for c in conditions:
            data = dict(clean_train)
            if c.kind == "label_swap":
                data[names[a]] = clean_train[names[b]]
            elif c.kind != "clean":
                chosen = subsets[c.dose]
                mixed = base_latents[names[a]].clone()
                z = poisoned_latents(c)
                for i in chosen:                      # the image and its mirror
                    mixed[i], mixed[i + count] = z[i], z[i + n_train]
                data[names[a]] = pick_windows(mixed, train_idx, count)
            moved = captioned_as(c)
            if moved:
                # Each image the captioner names otherwise leaves A; it joins the concept its
                # caption names when that is one the generator knows, else no prompt draws it.
                base = base_latents[names[a]] if c.kind == "clean" else mixed
                kept = [i for i in train_idx if i not in moved]
                data[names[a]] = pick_windows(base, kept, count) if kept else data[names[a]][:0]
                for i, caption in moved.items():
                    if caption in names and caption != names[a]:
                        data[caption] = torch.cat([data[caption], pick_windows(base, [i], count)])
            latents = torch.cat([norm(data[n]) for n in names])
            labels = torch.cat([torch.full((len(data[n]),), k) for k, n in enumerate(names)])
            with _Stage(clock, "train") as stage:
                net = train_flow(latents, labels, classes, config.flow,
                                 torch.Generator().manual_seed(1_000 + seed), gen_dtype)
            train_s = time.perf_counter() - stage.wall
            with _Stage(clock, "sample"):
                gen = torch.Generator().manual_seed(2_000 + seed)
                samples = sample_flow(net, a, config.samples, shape, config.flow, gen, gen_dtype)
                row = _judge(probe, samples, a, b, names)
                pixel = pixel_shares(judge, decoded(samples), classes)
                row.update(target_share_pixels=round(pixel[b], 4), own_share_pixels=round(pixel[a], 4),
                           flow_steps=int(getattr(net, "steps_trained", config.flow.steps)))
                row.update(seed=seed, train_seconds=round(train_s, 2), recaptioned_away=len(moved),
                           poisoned_images=len(subsets[c.dose]) if c.kind not in ("clean", "label_swap")
                           else (n_train if c.kind == "label_swap" else 0))
                if c.kind == "clean":     # how faithfully the generator draws every concept
                    fidelity = {}
                    for k, n in enumerate(names):
                        s = samples if k == a else sample_flow(net, k, config.samples, shape, config.flow, gen,
                                                              gen_dtype)
                        fidelity[n] = round(shares(probe, s, classes)[k], 4)
                    row["generator_fidelity"] = fidelity
            if seed == config.seeds[0]:
                with _Stage(clock, "decode"):
                    rgb = decode(norm.invert(samples[:config.grid_samples]))
                    grids[c.name] = (rgb.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
            results[c.name].append(row)
            log(f"seed {seed} {c.name}: share called {names[b]} {row['target_share']:.3f} (probe), "
                f"{row['target_share_pixels']:.3f} (pixels); called {names[a]} {row['own_share']:.3f} "
                f"({row['flow_steps']} steps, {train_s:.1f}s)")

    summary = []
    clean_rows = results["clean"]
    for c in conditions:
        rows = results[c.name]
        judges = {judge_name: judge_margin([r[key] for r in rows], [r[key] for r in clean_rows], config.samples)
                  for judge_name, key in (("probe", "target_share"), ("pixels", "target_share_pixels"))}
        summary.append({
            "condition": c.name, "kind": c.kind, "dose": c.dose, "intensity": c.intensity, "purifier": c.purifier,
            "variant": c.variant,
            **{metric: _stats([r[metric] for r in rows])
               for metric in ("target_share", "target_share_pixels", "own_share", "own_share_pixels",
                              "target_probability", "distance_to_target", "distance_to_own", "flow_steps")},
            "agreement": agreement(judges) if c.kind != "clean" else None,
            "recaptioned": recaptions[c.source if c.kind == "shade" else ("clean", None, None, ("latent",))].to_dict()
            if c.recaptioned else None,
            "seeds": rows,
        })
    report = {
        "experiment": "poison",
        "concepts": names, "poisoned": names[a], "target": names[b],
        "encoder": ENCODER, "device": device, **cpu_description(),
        "generator": {"kind": "class-conditional rectified flow", "parameters": flow_params,
                      "precision": str(gen_dtype).replace("torch.", "") if gen_dtype else "float32",
                      **asdict(config.flow)},
        "data": {"crop": config.crop, "window": config.window, "window_stride_cells": config.window_stride,
                 "train_images_per_concept": n_train, "windows_per_concept": int(len(clean_train[names[0]])),
                 "probe_images_per_concept": n_fit, "probe_test_images_per_concept": n_test,
                 "source_short": config.source_short, "data_seed": config.data_seed},
        "shade": {"quality": config.quality, "intensities": list(config.intensities),
                  "objectives": list(config.objectives)},
        "reference": {"enabled": config.reference, "eps": config.reference_eps, "steps": config.reference_steps,
                      "matched_visibility": matched_visibility if config.reference_matched else None},
        "recaption": {"captioner": config.captioner, "jpeg_quality": 85,
                      "note": "the captioner's top label, as a concept, is the caption each of A's training "
                              "images is trained under; one not naming A leaves A"} if recaptions else None,
        "seeds": list(config.seeds), "doses": list(config.doses), "samples_per_condition": config.samples,
        "probe": probe_report,
        "shading": shading_report,
        "conditions": summary,
        "targets": _targets(summary, config),
        "timing": {"stages": {k: {m: round(v, 1) for m, v in s.items()} for k, s in clock.stages.items()},
                   "total": clock.total()},
    }
    references = {f"{names[a]} (clean)": _crops_at(crops[names[a]][:config.grid_samples], config.window),
                  f"{names[b]} (target)": _crops_at(crops[names[b]][:config.grid_samples], config.window)}
    return PoisonResult(report, grids, references)


def _crops_at(images: Sequence[np.ndarray], size: int) -> np.ndarray:
    """The centre ``size`` crop of each image, for showing real examples beside the samples."""
    out = []
    for img in images:
        top, left = (img.shape[0] - size) // 2, (img.shape[1] - size) // 2
        out.append(img[top:top + size, left:left + size])
    return np.stack(out)


def _scaled_to_visibility(original: np.ndarray, delta: torch.Tensor, visibility: float) -> np.ndarray:
    """The reference's pattern scaled down until the image keeps SSIMULACRA2 ``visibility``
    (bisection on the scale; the published eps when it is already within)."""
    x = to_tensor(original)

    def shaded(s: float) -> np.ndarray:
        return to_uint8(x + s * delta)

    if score_arrays(original, shaded(1.0), torch.float32) >= visibility:
        return shaded(1.0)
    low, high = 0.0, 1.0
    for _ in range(8):
        mid = (low + high) / 2
        low, high = (mid, high) if score_arrays(original, shaded(mid), torch.float32) >= visibility else (low, mid)
    return shaded(low)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * float(np.log10(255.0 ** 2 / mse))


def _judge(probe: Probe, samples: torch.Tensor, a: int, b: int, names: list[str]) -> dict[str, Any]:
    share = shares(probe, samples, len(names))
    prob = mean_probabilities(probe, samples)
    dist = probe.centroid_distances(samples).tolist()
    return {"target_share": round(share[b], 4), "own_share": round(share[a], 4),
            "target_probability": round(prob[b], 4),
            "distance_to_target": round(dist[b], 4), "distance_to_own": round(dist[a], 4),
            "shares": {n: round(s, 4) for n, s in zip(names, share)}}


def _targets(summary: list[dict[str, Any]], config: PoisonConfig) -> dict[str, Any]:
    """The issue's target at p = 100 % and the first intensity (the default objective): a
    share called B of at least 0.25 on both judges, and both judges showing it above the
    clean control's noise."""
    by = {s["condition"]: s for s in summary}
    if not config.intensities or 100 not in config.doses:
        return {}
    shade = by.get(f"shade-{config.intensities[0]}-p100")
    clean, swap = by["clean"], by["label-swap"]
    if shade is None:
        return {}
    probe, pixels = shade["target_share"]["mean"], shade["target_share_pixels"]["mean"]
    return {"condition": shade["condition"], "target_share": probe, "target_share_pixels": pixels,
            "label_swap": swap["target_share"]["mean"], "clean": clean["target_share"]["mean"],
            "quarter_met": min(probe, pixels) >= 0.25, "shown": shade["agreement"]["shown"],
            "verdict": shade["agreement"]["verdict"]}
