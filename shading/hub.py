"""Fetching encoder weights from the Hugging Face hub into a model folder."""

from __future__ import annotations

from pathlib import Path

from .encoders import KL_VAES, KNOWN_ENCODERS
from .errors import ModelNotFound
from .taesd import TINY_AUTOENCODERS


def pull(name: str, models_dir: Path) -> Path:
    """Download ``name`` into ``models_dir/name`` (diffusers format) with huggingface_hub's progress bars."""
    if name not in KNOWN_ENCODERS:
        raise ModelNotFound(f"unknown model {name!r}; known: {', '.join(KNOWN_ENCODERS)}")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    if name in TINY_AUTOENCODERS:
        repo, patterns = TINY_AUTOENCODERS[name].hub_repo, ["config.json", "*.safetensors"]
    else:
        spec = KL_VAES[name]
        prefix = f"{spec.subfolder}/" if spec.subfolder else ""
        repo, patterns = spec.hub_repo, [f"{prefix}config.json", f"{prefix}diffusion_pytorch_model.safetensors"]
    target = Path(models_dir) / name
    try:
        snapshot_download(repo, allow_patterns=patterns, local_dir=target)
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as exc:
        raise ModelNotFound(f"could not download {name} from {repo} ({type(exc).__name__}: {exc}). Check the "
                            f"network, log in with `hf auth login` for gated models, or copy the files into "
                            f"{target} by hand") from None
    return target
