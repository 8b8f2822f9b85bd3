"""Device selection: auto takes CUDA, then Apple MPS, then the CPU; a device this PyTorch
cannot use is refused with what to do instead. No GPU is needed: availability is faked."""

from __future__ import annotations

import pytest
import torch

from shading.errors import DeviceUnavailable
from shading.models.encoders import resolve_device
from shading.optimize import precision


@pytest.mark.parametrize("cuda, mps, expected", [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert resolve_device("auto") == expected


def test_an_unavailable_gpu_is_refused_with_the_way_out(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    for device in ("cuda", "mps"):
        with pytest.raises(DeviceUnavailable, match="--device cpu"):
            resolve_device(device)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("mps") == "mps"


def test_mps_passes_stay_in_float32_unless_asked():
    # auto keeps float32 on Apple MPS (its bfloat16 needs macOS 14 or later); asked for, it is used.
    assert precision.optimizer_dtype("mps") is None
    assert precision.optimizer_dtype("mps", "bfloat16") is torch.bfloat16
