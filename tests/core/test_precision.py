"""bfloat16 optimizer passes: picked only where native, and the result stays the same."""

import pytest
import torch

from shading import OptionsError, ProtectOptions, protect
from shading.optimize import precision


def test_explicit_choices_are_kept():
    assert precision.optimizer_dtype("cpu", "float32") is None
    assert precision.optimizer_dtype("cuda", "float32") is None
    assert precision.optimizer_dtype("cpu", "bfloat16") is torch.bfloat16


@pytest.mark.parametrize("native", [True, False])
def test_auto_uses_bfloat16_only_on_cpus_that_run_it_natively(monkeypatch, native):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: native, raising=False)
    assert precision.optimizer_dtype("cpu") is (torch.bfloat16 if native else None)
    assert precision.optimizer_dtype("mps") is None


def test_unknown_precision_is_a_bad_option():
    with pytest.raises(OptionsError, match="precision must be one of"):
        ProtectOptions(target="cat", precision="half").validate()


def test_bfloat16_passes_protect_as_well_as_float32(model_dir, anchor_dir, photo):
    common = dict(target="cat", anchor_dirs=(anchor_dir,), model_dirs=(model_dir,), view_size=128, seed=3,
                  steps=10, self_check=False, quality="fast", objective="anchor")
    half = protect(photo, ProtectOptions(precision="bfloat16", **common)).measurements
    full = protect(photo, ProtectOptions(precision="float32", **common)).measurements
    assert half["latent_ratio"] < 0.95 and full["latent_ratio"] < 0.95, (half, full)
    assert abs(half["latent_ratio"] - full["latent_ratio"]) < 0.03, (half, full)
    assert abs(half["psnr"] - full["psnr"]) < 0.3
