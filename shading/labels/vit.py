"""A plain Vision Transformer that loads the two on-disk layouts users have for label models:
timm's (WD14 taggers: ``patch_embed.proj``, ``blocks.N.attn.qkv``, ``head``) and open_clip's
image tower (``visual.conv1``, ``visual.transformer.resblocks.N``, ``visual.proj``).

Written with torch alone so neither timm nor open_clip (nor torchvision, which both pull
in) is needed to run them; the shapes come from the state dict, the few choices a state
dict does not show (activation, pooling) from the model's config file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {
    "gelu": lambda x: F.gelu(x),
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "quick_gelu": lambda x: x * torch.sigmoid(1.702 * x),      # OpenAI CLIP's
}


@dataclass(frozen=True)
class VitConfig:
    width: int
    layers: int
    heads: int
    patch: int
    image_size: int
    out_dim: int              # classes (head) or embedding size (projection)
    class_token: bool = True
    pool: str = "token"       # "token": the class token; "avg": the mean of the patch tokens
    norm_pre: bool = False    # a LayerNorm before the blocks (CLIP)
    fc_norm: bool = False     # LayerNorm after pooling instead of on every token
    act: str = "gelu"
    eps: float = 1e-6
    patch_bias: bool = True
    head_bias: bool = True
    layer_scale: bool = False


class Block(nn.Module):
    def __init__(self, cfg: VitConfig) -> None:
        super().__init__()
        w = cfg.width
        self.heads = cfg.heads
        self.act = ACTIVATIONS[cfg.act]
        self.norm1 = nn.LayerNorm(w, eps=cfg.eps)
        self.attn = nn.Module()
        self.attn.qkv = nn.Linear(w, 3 * w)
        self.attn.proj = nn.Linear(w, w)
        self.norm2 = nn.LayerNorm(w, eps=cfg.eps)
        self.mlp = nn.Module()
        hidden = 4 * w
        self.mlp.fc1 = nn.Linear(w, hidden)
        self.mlp.fc2 = nn.Linear(hidden, w)
        if cfg.layer_scale:
            self.ls1 = nn.Module()
            self.ls1.gamma = nn.Parameter(torch.ones(w))
            self.ls2 = nn.Module()
            self.ls2.gamma = nn.Parameter(torch.ones(w))
        self.layer_scale = cfg.layer_scale

    def _attention(self, x: torch.Tensor) -> torch.Tensor:
        n, t, w = x.shape
        q, k, v = self.attn.qkv(x).view(n, t, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.attn.proj(out.transpose(1, 2).reshape(n, t, w))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self._attention(self.norm1(x))
        x = x + (a * self.ls1.gamma if self.layer_scale else a)
        m = self.mlp.fc2(self.act(self.mlp.fc1(self.norm2(x))))
        return x + (m * self.ls2.gamma if self.layer_scale else m)


class VisionTransformer(nn.Module):
    """``forward(x)``: normalized N x 3 x S x S input (S = ``cfg.image_size``) -> N x ``out_dim``."""

    def __init__(self, cfg: VitConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        grid = cfg.image_size // cfg.patch
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, w, cfg.patch, stride=cfg.patch, bias=cfg.patch_bias)
        if cfg.class_token:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, w))
        self.pos_embed = nn.Parameter(torch.zeros(1, grid * grid + int(cfg.class_token), w))
        self.norm_pre = nn.LayerNorm(w, eps=cfg.eps) if cfg.norm_pre else nn.Identity()
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.norm = nn.Identity() if cfg.fc_norm else nn.LayerNorm(w, eps=cfg.eps)
        self.fc_norm = nn.LayerNorm(w, eps=cfg.eps) if cfg.fc_norm else nn.Identity()
        self.head = nn.Linear(w, cfg.out_dim, bias=cfg.head_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed.proj(x).flatten(2).transpose(1, 2)
        if self.cfg.class_token:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1)
        x = self.norm_pre(x + self.pos_embed)
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)
        pooled = x[:, 0] if self.cfg.pool == "token" else x[:, int(self.cfg.class_token):].mean(1)
        return self.head(self.fc_norm(pooled))


def _count_layers(keys: Mapping[str, torch.Tensor], prefix: str) -> int:
    found = {int(k[len(prefix):].split(".")[0]) for k in keys if k.startswith(prefix)}
    if not found:
        raise ValueError(f"no transformer blocks under {prefix!r}")
    return max(found) + 1


def timm_vit(state: Mapping[str, torch.Tensor], model_args: Mapping, image_size: int,
             act: str = "gelu") -> VisionTransformer:
    """A timm ViT classifier (as the WD14 taggers ship it) from its state dict."""
    proj = state["patch_embed.proj.weight"]
    width, patch = proj.shape[0], proj.shape[-1]
    cfg = VitConfig(
        width=width, layers=_count_layers(state, "blocks."), heads=int(model_args.get("num_heads", width // 64)),
        patch=patch, image_size=image_size, out_dim=state["head.weight"].shape[0],
        class_token="cls_token" in state, pool="avg" if model_args.get("global_pool", "token") == "avg" else "token",
        norm_pre="norm_pre.weight" in state, fc_norm="fc_norm.weight" in state, act=act,
        patch_bias="patch_embed.proj.bias" in state, head_bias="head.bias" in state,
        layer_scale="blocks.0.ls1.gamma" in state)
    net = VisionTransformer(cfg)
    net.load_state_dict(dict(state), strict=True)
    return net


def open_clip_visual(state: Mapping[str, torch.Tensor], heads: Optional[int] = None,
                     act: str = "gelu") -> VisionTransformer:
    """An open_clip ViT image tower (keys under ``visual.``) as a ViT whose head is the
    tower's projection into the joint embedding space."""
    v = {k[len("visual."):]: t for k, t in state.items() if k.startswith("visual.")}
    if "conv1.weight" not in v:
        raise ValueError("not an open_clip ViT image tower (no visual.conv1.weight; ResNet towers are not supported)")
    width, patch = v["conv1.weight"].shape[0], v["conv1.weight"].shape[-1]
    tokens = v["positional_embedding"].shape[0]
    grid = int(round((tokens - 1) ** 0.5))
    cfg = VitConfig(width=width, layers=_count_layers(v, "transformer.resblocks."), heads=heads or width // 64,
                    patch=patch, image_size=grid * patch, out_dim=v["proj"].shape[1], class_token=True,
                    pool="token", norm_pre=True, act=act, eps=1e-5, patch_bias=False, head_bias=False,
                    layer_scale="transformer.resblocks.0.ls_1.gamma" in v)
    renamed = {
        "patch_embed.proj.weight": v["conv1.weight"],
        "cls_token": v["class_embedding"].view(1, 1, -1),
        "pos_embed": v["positional_embedding"].unsqueeze(0),
        "norm_pre.weight": v["ln_pre.weight"], "norm_pre.bias": v["ln_pre.bias"],
        "norm.weight": v["ln_post.weight"], "norm.bias": v["ln_post.bias"],
        "head.weight": v["proj"].t(),
    }
    parts = {"ln_1": "norm1", "ln_2": "norm2", "attn.in_proj_weight": "attn.qkv.weight",
             "attn.in_proj_bias": "attn.qkv.bias", "attn.out_proj": "attn.proj", "mlp.c_fc": "mlp.fc1",
             "mlp.c_proj": "mlp.fc2", "ls_1": "ls1", "ls_2": "ls2"}
    for key, tensor in v.items():
        if not key.startswith("transformer.resblocks."):
            continue
        rest = key[len("transformer.resblocks."):]
        index, name = rest.split(".", 1)
        for old, new in parts.items():
            if name.startswith(old):
                name = new + name[len(old):]
                break
        renamed[f"blocks.{index}.{name}"] = tensor
    net = VisionTransformer(cfg)
    net.load_state_dict(renamed, strict=True)
    return net
