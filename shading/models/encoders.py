"""Image encoders by name: RGB in [0, 1] -> latent, differentiable w.r.t. the input.

Every encoder Shade knows is one ``EncoderFamily`` object in ``REGISTRY``: it knows where
its weights lie in the model folders (``locate``), how to build the frozen encoder from
them (``load``) and how to download them (``fetch``, used by ``shade models pull``).
Adding an encoder is one ``register(...)`` call (or, for another tiny autoencoder, one
line in ``taesd.TINY_AUTOENCODERS``). The kinds:

- ``TinyAutoencoder``: the tiny-autoencoder family (``taef2``, ``taesd``, ``taesdxl``,
  ``taesd3``, ``taef1``), from ``<name>_encoder.pth`` state dicts or a diffusers
  ``AutoencoderTiny`` folder;
- ``DiffusersVae``: diffusers ``AutoencoderKL`` VAEs (``sd15-vae``, ``sdxl-vae``,
  ``sd3-vae``, ``flux-vae``), from a local folder or the Hugging Face cache; the latent
  distribution's mean is used;
- ``SeededRandom`` (``random-tiny``): a tiny-autoencoder-shaped encoder with seeded random
  weights, installed by a ``random.json`` file. It protects nothing; tests and demos use it
  where the real weights are absent, so every plumbing path runs anywhere. It is listed
  only where installed.

Any folder path given as the name is loaded as a diffusers VAE folder (tiny or KL).
Weights are loaded once per (name, device, folders) and frozen.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

import torch
from torch import nn

from ..errors import DeviceUnavailable, ModelNotFound
from ..options import DEVICES
from .taesd import TINY_AUTOENCODERS, TinyAutoencoderSpec, load_state, make_encoder

INSTALLED = "installed"      # in a list of encoder names: every encoder installed


class Encoder(nn.Module):
    """A frozen image encoder: ``forward(rgb01) -> latent``."""

    def __init__(self, name: str, net: nn.Module, to_latent: Callable[[nn.Module, torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.name = name
        self.net = net
        self._to_latent = to_latent
        self.requires_grad_(False).eval()

    def forward(self, rgb01: torch.Tensor) -> torch.Tensor:
        return self._to_latent(self.net, rgb01)


def _tiny_pth(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return net(x)


def _tiny_diffusers(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return net(x * 2 - 1)     # diffusers' EncoderTiny maps [-1, 1] back to [0, 1] itself


def _kl_mean(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return net.encode(x * 2 - 1).latent_dist.mean


def load_diffusers_folder(name: str, folder: Path) -> Encoder:
    """A diffusers VAE folder (``config.json`` + weights): AutoencoderTiny or a KL VAE."""
    config = json.loads((folder / "config.json").read_text())
    cls = config.get("_class_name", "AutoencoderKL")
    import diffusers

    if cls == "AutoencoderTiny":
        model = diffusers.AutoencoderTiny.from_pretrained(folder)
        return Encoder(name, model.encoder, _tiny_diffusers)
    model = getattr(diffusers, cls).from_pretrained(folder)
    model.decoder = None  # only the encoder is used; free the memory
    return Encoder(name, model, _kl_mean)


def _snapshot(name: str, repo: str, patterns: list[str], models_dir: Path) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    target = Path(models_dir) / name
    try:
        snapshot_download(repo, allow_patterns=patterns, local_dir=target)
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as exc:
        raise ModelNotFound(f"could not download {name} from {repo} ({type(exc).__name__}: {exc}). Check the "
                            f"network, log in with `hf auth login` for gated models, or copy the files into "
                            f"{target} by hand") from None
    return target


class EncoderFamily:
    """One encoder Shade knows by name. Subclasses set ``name``, ``kind``, ``hub_repo`` and
    implement ``locate``, ``load`` and ``fetch``."""

    name: str
    kind: str                 # "tiny", "vae" or "test": what ``shade models`` prints
    hub_repo: str = ""
    listed: bool = True       # False: ``shade models`` and ``installed`` see it only where installed

    def locate(self, dirs: Sequence[Path]) -> Optional[Path]:
        """Where the weights are (a file or folder), or None when not installed."""
        raise NotImplementedError

    def load(self, location: Path) -> Encoder:
        """The encoder, on the CPU, from what ``locate`` found."""
        raise NotImplementedError

    def fetch(self, models_dir: Path) -> Path:
        """Download (or write) the weights into ``models_dir / name``; returns the folder."""
        raise NotImplementedError


class TinyAutoencoder(EncoderFamily):
    kind = "tiny"

    def __init__(self, spec: TinyAutoencoderSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.hub_repo = spec.hub_repo

    def locate(self, dirs: Sequence[Path]) -> Optional[Path]:
        for root in dirs:
            for folder in (root / self.name, root):
                if (folder / self.spec.encoder_file).is_file():
                    return folder / self.spec.encoder_file
                if folder != root and (folder / "config.json").is_file():
                    return folder
        return None

    def load(self, location: Path) -> Encoder:
        if location.suffix == ".pth":
            net = load_state(make_encoder(self.spec.latent_channels, self.spec.group_norm), str(location))
            return Encoder(self.name, net, _tiny_pth)
        return load_diffusers_folder(self.name, location)

    def fetch(self, models_dir: Path) -> Path:
        return _snapshot(self.name, self.hub_repo, ["config.json", "*.safetensors"], models_dir)


class DiffusersVae(EncoderFamily):
    kind = "vae"

    def __init__(self, name: str, hub_repo: str, subfolder: Optional[str] = None) -> None:
        self.name = name
        self.hub_repo = hub_repo
        self.subfolder = subfolder

    def locate(self, dirs: Sequence[Path]) -> Optional[Path]:
        for root in dirs:
            folder = root / self.name
            for candidate in (folder / self.subfolder if self.subfolder else folder, folder / "vae", folder):
                if (candidate / "config.json").is_file():
                    return candidate
        return self._hub_cache()

    def _hub_cache(self) -> Optional[Path]:
        try:
            from huggingface_hub import try_to_load_from_cache
        except ImportError:  # pragma: no cover
            return None
        filename = f"{self.subfolder}/config.json" if self.subfolder else "config.json"
        hit = try_to_load_from_cache(self.hub_repo, filename)
        return Path(hit).parent if isinstance(hit, str) else None

    def load(self, location: Path) -> Encoder:
        return load_diffusers_folder(self.name, location)

    def fetch(self, models_dir: Path) -> Path:
        prefix = f"{self.subfolder}/" if self.subfolder else ""
        return _snapshot(self.name, self.hub_repo,
                         [f"{prefix}config.json", f"{prefix}diffusion_pytorch_model.safetensors"], models_dir)


class SeededRandom(EncoderFamily):
    """A tiny-autoencoder-shaped encoder with seeded random weights: ``<dir>/<name>/random.json``
    (``{"seed": 0, "latent_channels": 4}``) installs it. Deterministic, differentiable,
    a few milliseconds a pass at test sizes; it protects against nothing."""

    kind = "test"
    listed = False
    MARKER = "random.json"

    def __init__(self, name: str = "random-tiny", seed: int = 0, latent_channels: int = 4) -> None:
        self.name = name
        self.seed = seed
        self.latent_channels = latent_channels

    def locate(self, dirs: Sequence[Path]) -> Optional[Path]:
        for root in dirs:
            if (root / self.name / self.MARKER).is_file():
                return root / self.name / self.MARKER
        return None

    def load(self, location: Path) -> Encoder:
        try:
            spec = json.loads(location.read_text())
        except (OSError, ValueError) as exc:
            raise ModelNotFound(f"{location}: not a readable random-encoder description ({exc}); "
                                f"run `shade models pull {self.name}` to write it again") from None
        generator_state = torch.random.get_rng_state()
        try:
            torch.manual_seed(int(spec.get("seed", self.seed)))
            net = make_encoder(int(spec.get("latent_channels", self.latent_channels)), False)
        finally:
            torch.random.set_rng_state(generator_state)     # leave the caller's random stream alone
        return Encoder(self.name, net, _tiny_pth)

    def fetch(self, models_dir: Path) -> Path:
        folder = Path(models_dir) / self.name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / self.MARKER).write_text(json.dumps({"seed": self.seed, "latent_channels": self.latent_channels}))
        return folder


REGISTRY: dict[str, EncoderFamily] = {}


def register(family: EncoderFamily) -> EncoderFamily:
    """Add (or replace) an encoder family under ``family.name``."""
    REGISTRY[family.name] = family
    return family


for _spec in TINY_AUTOENCODERS.values():
    register(TinyAutoencoder(_spec))
for _vae in (DiffusersVae("sd15-vae", "stabilityai/sd-vae-ft-mse"),
             DiffusersVae("sdxl-vae", "madebyollin/sdxl-vae-fp16-fix"),
             DiffusersVae("sd3-vae", "stabilityai/stable-diffusion-3.5-medium", "vae"),
             DiffusersVae("flux-vae", "black-forest-labs/FLUX.1-schnell", "vae")):
    register(_vae)
register(SeededRandom())


def known_encoders() -> tuple[str, ...]:
    """The names ``--encoder`` accepts (besides ``installed`` and a folder path), listed ones first."""
    return tuple(n for n, f in REGISTRY.items() if f.listed) + tuple(n for n, f in REGISTRY.items() if not f.listed)


@dataclass(frozen=True)
class EncoderInfo:
    name: str
    kind: str                 # "tiny", "vae" or "test"
    installed: bool
    location: Optional[str]   # where it was found, or None
    hub_repo: str


def resolve_device(device: str = "auto") -> str:
    """``auto`` picks CUDA, then Apple MPS, then the CPU. A device this PyTorch cannot use
    raises ``DeviceUnavailable``."""
    if device not in DEVICES:
        raise DeviceUnavailable(f"unknown device {device!r}; use one of {', '.join(DEVICES)}")
    if device != "auto":
        if device == "cuda" and not torch.cuda.is_available():
            raise DeviceUnavailable("--device cuda was asked for but PyTorch sees no CUDA GPU; use --device cpu "
                                    "or install a CUDA build of torch")
        if device == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise DeviceUnavailable("--device mps was asked for but this PyTorch has no Apple MPS support; "
                                    "use --device cpu")
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


def _dirs(model_dirs: Iterable[Path]) -> tuple[Path, ...]:
    return tuple(Path(d) for d in model_dirs) or default_model_dirs()


def available_encoders(model_dirs: Sequence[Path] = ()) -> list[EncoderInfo]:
    """Every encoder Shade lists, whether it is installed, and where (unlisted ones only
    where installed)."""
    dirs = _dirs(model_dirs)
    out = []
    for name in known_encoders():
        family = REGISTRY[name]
        where = family.locate(dirs)
        if where is None and not family.listed:
            continue
        out.append(EncoderInfo(name, family.kind, where is not None, str(where) if where else None, family.hub_repo))
    return out


def expand_encoders(names: Sequence[str], model_dirs: Sequence[Path] = ()) -> tuple[str, ...]:
    """``names`` with ``installed`` replaced by every installed encoder, so one shaded image
    holds against each model family the user has weights for (an ensemble)."""
    if INSTALLED not in names:
        return tuple(names)
    dirs = _dirs(model_dirs)
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
    dirs = _dirs(model_dirs)
    installed = {info.name for info in available_encoders(dirs) if info.installed}
    missing = []
    for name in names:
        if name == INSTALLED:
            missing += [] if installed else ["taef2"]
        elif name not in installed and not Path(name).expanduser().exists():
            missing.append(name)
    return list(dict.fromkeys(missing))


def _missing(name: str, dirs: Sequence[Path]) -> ModelNotFound:
    if name not in REGISTRY and not Path(name).exists():
        return ModelNotFound(f"unknown encoder {name!r}; known: {', '.join(known_encoders())}, or a path to a "
                             f"diffusers VAE folder")
    where = ", ".join(str(d) for d in dirs) or "(no model folder set)"
    return ModelNotFound(f"encoder {name!r} is not installed (looked in {where}); run `shade models pull {name}` "
                         f"or set SHADE_MODEL_DIR to a folder that holds {name}/")


def _load(name: str, device: str, dirs: tuple[Path, ...]) -> Encoder:
    family = REGISTRY.get(name)
    if family is not None:
        where = family.locate(dirs)
        if where is None:
            raise _missing(name, dirs)
        encoder = family.load(where)
    else:
        folder = Path(name).expanduser()
        if not (folder / "config.json").is_file():
            raise _missing(name, dirs)
        encoder = load_diffusers_folder(name, folder)
    encoder = encoder.to(device)
    if device == "cpu":
        encoder = encoder.to(memory_format=torch.channels_last)  # ~1.5x faster convs on CPU
    return encoder


def load_encoder(name: str, device: str = "auto", model_dirs: Sequence[Path] = ()) -> Encoder:
    """Load the named encoder, frozen, on ``device``. Each call loads it afresh: a caller that
    shades many images holds its models in a ``Protector``."""
    return _load(name, resolve_device(device), _dirs(model_dirs))


def fetch_encoder(name: str, models_dir: Path) -> Path:
    """Download ``name`` into ``models_dir/name`` (see ``EncoderFamily.fetch``)."""
    family = REGISTRY.get(name)
    if family is None:
        raise ModelNotFound(f"unknown model {name!r}; known: {', '.join(known_encoders())}")
    return family.fetch(Path(models_dir))
