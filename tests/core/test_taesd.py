import numpy as np
import torch

from shading.models.taesd import TINY_AUTOENCODERS, load_state, make_decoder, make_encoder
from shading.pixels.views import to_tensor


def test_shapes_for_every_family_member():
    x = torch.rand(1, 3, 64, 96)
    for spec in TINY_AUTOENCODERS.values():
        z = make_encoder(spec.latent_channels, spec.group_norm)(x)
        assert z.shape == (1, spec.latent_channels, 8, 12)
        y = make_decoder(spec.latent_channels, spec.group_norm)(z)
        assert y.shape == x.shape


def test_gn_blocks_only_in_taef2_layout():
    plain = set(make_encoder(4, False).state_dict())
    gn = set(make_encoder(32, True).state_dict())
    assert not any(".pool." in k for k in plain)
    assert {k for k in gn - plain if ".pool." in k} == {f"{i}.pool.{j}.weight" for i in (11, 12, 13) for j in (0, 1, 3)} | {
        f"{i}.pool.1.bias" for i in (11, 12, 13)}


def test_real_taef2_weights_load_strictly_and_reconstruct(model_dir, cat_array):
    enc = load_state(make_encoder(32, True), str(model_dir / "taef2" / "taef2_encoder.pth")).eval()
    dec = load_state(make_decoder(32, True), str(model_dir / "taef2" / "taef2_decoder.pth")).eval()
    x = to_tensor(cat_array[:296, :448])
    with torch.no_grad():
        z = enc(x)
        y = dec(z).clamp(0, 1)
    assert z.shape == (1, 32, 37, 56)
    assert -6 < float(z.min()) and float(z.max()) < 6
    mse = float(((y - x) ** 2).mean())
    assert 10 * np.log10(1 / mse) > 28, "a wrong layer order would not reconstruct the photo"


def test_installed_means_every_installed_encoder(model_dir, tmp_path, cat_array):
    import pytest

    from shading import ModelNotFound, ProtectOptions, expand_encoders, missing_encoders, protect

    assert expand_encoders(("installed",), (model_dir,)) == ("taef2",)
    assert expand_encoders(("taef2", "installed"), (model_dir,)) == ("taef2",)
    assert expand_encoders(("taesd",), (tmp_path,)) == ("taesd",)          # named ones pass through
    with pytest.raises(ModelNotFound, match="shade models pull taef2"):
        expand_encoders(("installed",), (tmp_path,))
    assert missing_encoders(("installed",), (tmp_path,)) == ["taef2"]
    assert missing_encoders(("installed",), (model_dir,)) == []
    assert missing_encoders(("taesd", "installed"), (model_dir,)) == ["taesd"]
    result = protect(cat_array[:128, :128], ProtectOptions(anchor=cat_array[128:256, 128:256], encoders=("installed",),
                                                           model_dirs=(model_dir,), view_size=64, steps=2,
                                                           self_check=False, seed=1))
    assert result.measurements["encoders"] == ["taef2"] and set(result.measurements["latent_ratios"]) == {"taef2"}
