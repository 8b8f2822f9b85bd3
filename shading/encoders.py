"""Image encoders by name: RGB in [0, 1] -> latent, differentiable w.r.t. the input.

Three kinds:
- the tiny-autoencoder family (``taef2``, ``taesd``, ``taesdxl``, ``taesd3``, ``taef1``),
  from ``<name>_encoder.pth`` state dicts or a diffusers ``AutoencoderTiny`` folder;
- diffusers ``AutoencoderKL`` VAEs (``sd15-vae``, ``sdxl-vae``, ``sd3-vae``, ``flux-vae``),
  from a local folder or the Hugging Face cache; the latent distribution's mean is used;
- any folder path given as the name (a diffusers VAE folder, tiny or KL).

Weights are loaded once per (name, device, folders) and frozen.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

import torch
from torch import nn

from .errors import ModelNotFound
from .taesd import TINY_AUTOENCODERS, load_state, make_encoder


@dataclass(frozen=True)
class VaeSpec:
    name: str
    hub_repo: str
    subfolder: Optional[str]


KL_VAES: dict[str, VaeSpec] = {
    spec.name: spec
    for spec in (
        VaeSpec("sd15-vae", "stabilityai/sd-vae-ft-mse", None),
        VaeSpec("sdxl-vae", "madebyollin/sdxl-vae-fp16-fix", None),
        VaeSpec("sd3-vae", "stabilityai/stable-diffusion-3.5-medium", "vae"),
        VaeSpec("flux-vae", "black-forest-labs/FLUX.1-schnell", "vae"),
    )
}

KNOWN_ENCODERS: tuple[str, ...] = tuple(TINY_AUTOENCODERS) + tuple(KL_VAES)


@dataclass(frozen=True)
class EncoderInfo:
    name: str
    kind: str                 # "tiny" or "vae"
    installed: bool
    location: Optional[str]   # where it was found, or None
    hub_repo: str


class Encoder(nn.Module):
    """A frozen image encoder: ``forward(rgb01) -> latent``."""

    def __init__(self, name: str, net: nn.Module, to_latent) -> None:
        super().__init__()
        self.name = name
        self.net = net
        self._to_latent = to_latent
        self.requires_grad_(False).eval()

    def forward(self, rgb01: torch.Tensor) -> torch.Tensor:
        return self._to_latent(self.net, rgb01)


def resolve_device(device: str = "auto") -> str:
    """``auto`` picks CUDA, then Apple MPS, then the CPU."""
    if device != "auto":
        if device == "cuda" and not torch.cuda.is_available():
            raise ModelNotFound("--device cuda was asked for but PyTorch sees no CUDA GPU; use --device cpu "
                                "or install a CUDA build of torch")
        if device == "mps" and not torch.backends.mps.is_available():
            raise ModelNotFound("--device mps was asked for but this PyTorch has no Apple MPS support; use --device cpu")
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def default_model_dirs() -> tuple[Path, ...]:
    """Folders named by ``SHADE_MODEL_DIR`` (os.pathsep-separated), when the caller gave none."""
    raw = os.environ.get("SHADE_MODEL_DIR", "")
    return tuple(Path(p).expanduser() for p in raw.split(os.pathsep) if p)


def _tiny_location(name: str, dirs: Iterable[Path]) -> Optional[Path]:
    spec = TINY_AUTOENCODERS[name]
    for root in dirs:
        for folder in (root / name, root):
            if (folder / spec.encoder_file).is_file():
                return folder / spec.encoder_file
            if folder != root and (folder / "config.json").is_file():
                return folder
    return None


def _vae_location(name: str, dirs: Iterable[Path]) -> Optional[Path]:
    spec = KL_VAES[name]
    for root in dirs:
        folder = root / name
        for candidate in (folder / spec.subfolder if spec.subfolder else folder, folder / "vae", folder):
            if (candidate / "config.json").is_file():
                return candidate
    return _hub_cache_location(spec)


def _hub_cache_location(spec: VaeSpec) -> Optional[Path]:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover
        return None
    filename = f"{spec.subfolder}/config.json" if spec.subfolder else "config.json"
    hit = try_to_load_from_cache(spec.hub_repo, filename)
    return Path(hit).parent if isinstance(hit, str) else None


def _locate(name: str, dirs: Sequence[Path]) -> Optional[Path]:
    if name in TINY_AUTOENCODERS:
        return _tiny_location(name, dirs)
    if name in KL_VAES:
        return _vae_location(name, dirs)
    path = Path(name).expanduser()
    return path if (path / "config.json").is_file() else None


def available_encoders(model_dirs: Sequence[Path] = ()) -> list[EncoderInfo]:
    """Every encoder Shade knows, whether it is installed, and where."""
    dirs = tuple(model_dirs) or default_model_dirs()
    out = []
    for name in KNOWN_ENCODERS:
        where = _locate(name, dirs)
        tiny = name in TINY_AUTOENCODERS
        repo = TINY_AUTOENCODERS[name].hub_repo if tiny else KL_VAES[name].hub_repo
        out.append(EncoderInfo(name, "tiny" if tiny else "vae", where is not None, str(where) if where else None, repo))
    return out


INSTALLED = "installed"      # in a list of encoder names: every encoder installed


def expand_encoders(names: Sequence[str], model_dirs: Sequence[Path] = ()) -> tuple[str, ...]:
    """``names`` with ``installed`` replaced by every installed encoder, so one shaded image
    holds against each model family the user has weights for (an ensemble)."""
    if INSTALLED not in names:
        return tuple(names)
    dirs = tuple(Path(d) for d in model_dirs) or default_model_dirs()
    found = [info.name for info in available_encoders(dirs) if info.installed]
    if not found:
        where = ", ".join(str(d) for d in dirs) or "(no model folder set)"
        raise ModelNotFound(f"no encoder is installed (looked in {where}); run `shade models pull taef2` "
                            f"or set SHADE_MODEL_DIR to a folder that holds taef2/")
    expanded = [n for name in names for n in (found if name == INSTALLED else [name])]
    return tuple(dict.fromkeys(expanded))


def missing_encoders(names: Sequence[str], model_dirs: Sequence[Path] = ()) -> list[str]:
    """The encoders among ``names`` that are not installed; ``installed`` asks for at least
    one, so taef2 is named when there is none."""
    dirs = tuple(Path(d) for d in model_dirs) or default_model_dirs()
    installed = {info.name for info in available_encoders(dirs) if info.installed}
    missing = []
    for name in names:
        if name == INSTALLED:
            missing += [] if installed else ["taef2"]
        elif name not in installed and not Path(name).expanduser().exists():
            missing.append(name)
    return list(dict.fromkeys(missing))


def _missing(name: str, dirs: Sequence[Path]) -> ModelNotFound:
    if name not in KNOWN_ENCODERS and not Path(name).exists():
        return ModelNotFound(f"unknown encoder {name!r}; known: {', '.join(KNOWN_ENCODERS)}, or a path to a "
                             f"diffusers VAE folder")
    where = ", ".join(str(d) for d in dirs) or "(no model folder set)"
    return ModelNotFound(f"encoder {name!r} is not installed (looked in {where}); run `shade models pull {name}` "
                         f"or set SHADE_MODEL_DIR to a folder that holds {name}/")


def _tiny_pth(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return net(x)


def _tiny_diffusers(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return net(x * 2 - 1)     # diffusers' EncoderTiny maps [-1, 1] back to [0, 1] itself


def _kl_mean(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return net.encode(x * 2 - 1).latent_dist.mean


def _load_diffusers_folder(name: str, folder: Path) -> Encoder:
    config = json.loads((folder / "config.json").read_text())
    cls = config.get("_class_name", "AutoencoderKL")
    import diffusers

    if cls == "AutoencoderTiny":
        model = diffusers.AutoencoderTiny.from_pretrained(folder)
        return Encoder(name, model.encoder, _tiny_diffusers)
    model = getattr(diffusers, cls).from_pretrained(folder)
    model.decoder = None  # only the encoder is used; free the memory
    return Encoder(name, model, _kl_mean)


@functools.lru_cache(maxsize=16)
def _load_cached(name: str, device: str, dirs: tuple[Path, ...]) -> Encoder:
    where = _locate(name, dirs)
    if where is None:
        raise _missing(name, dirs)
    if where.suffix == ".pth":
        spec = TINY_AUTOENCODERS[name]
        net = load_state(make_encoder(spec.latent_channels, spec.group_norm), str(where))
        encoder = Encoder(name, net, _tiny_pth)
    else:
        encoder = _load_diffusers_folder(name, where)
    encoder = encoder.to(device)
    if device == "cpu":
        encoder = encoder.to(memory_format=torch.channels_last)  # ~1.5x faster convs on CPU
    return encoder


def load_encoder(name: str, device: str = "auto", model_dirs: Sequence[Path] = ()) -> Encoder:
    """Load (once per process) the named encoder, frozen, on ``device``."""
    dirs = tuple(Path(d) for d in model_dirs) or default_model_dirs()
    return _load_cached(name, resolve_device(device), dirs)
