"""The shading core on the real taef2 weights, at small views so the suite stays quick."""

import hashlib
import io

import numpy as np
import pytest
from PIL import Image

import shading
from shading import AnchorNotFound, Cancelled, ModelNotFound, OptionsError, ProtectOptions, protect


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def _opts(model_dir, anchor_dir, **kw) -> ProtectOptions:
    base = dict(target="cat", anchor_dirs=(anchor_dir,), model_dirs=(model_dir,), view_size=128, seed=7,
                quality="fast")
    base.update(kw)
    return ProtectOptions(**base)


def test_ratio_falls_well_below_one_within_budget(model_dir, anchor_dir, photo):
    result = protect(photo, _opts(model_dir, anchor_dir, view_size=256, steps=24, self_check=False))
    m = result.measurements
    # The default objective carries the image toward the concept: its pull is the concept ratio.
    assert m["objective"] == "concept" and m["concept_ratio"] < 0.85, m
    assert m["linf_255"] <= shading.INTENSITIES["default"].cap_255 + 1
    assert m["psnr"] > 30 and m["ssim"] > 0.85
    assert result.image.size == (512, 512) and result.image.mode == "RGB"


@pytest.mark.parametrize("mode", ["cloak", "both"])
def test_cloak_and_both_move_towards_their_targets(model_dir, anchor_dir, photo, shared_images, mode):
    opts = _opts(model_dir, anchor_dir, mode=mode, style_image=shared_images / "starry_night.jpg",
                 steps=16, self_check=False)
    m = protect(photo, opts).measurements
    # cloak keeps the image's layout (its pull is toward the style's statistics); both aims at
    # the anchor's content in the style, the whole latent.
    assert (m["concept_ratio"] if mode == "cloak" else m["latent_ratio"]) < 0.95, m


def test_same_seed_same_result_other_seed_other_pattern(model_dir, anchor_dir, photo):
    a = protect(photo, _opts(model_dir, anchor_dir, steps=3)).to_bytes()
    b = protect(photo, _opts(model_dir, anchor_dir, steps=3)).to_bytes()
    c = protect(photo, _opts(model_dir, anchor_dir, steps=3, seed=8)).to_bytes()
    assert a == b
    da = np.asarray(Image.open(io.BytesIO(a))).astype(int) - photo
    dc = np.asarray(Image.open(io.BytesIO(c))).astype(int) - photo
    assert np.mean(da != dc) > 0.2, "different seeds must give different perturbations"


def test_progress_reports_and_cancel_stops(model_dir, anchor_dir, photo):
    seen = []
    protect(photo, _opts(model_dir, anchor_dir, steps=4), progress=lambda s, t, st: seen.append((s, t, st)))
    stages = [st for _, _, st in seen]
    assert stages[0] == "load" and stages[-1] == "save" and "optimize" in stages
    assert [s for s, _, st in seen if st == "optimize"] == [1, 2, 3, 4]

    def cancel(step, total, stage):
        if stage == "optimize" and step == 2:
            raise Cancelled("stop")
    with pytest.raises(Cancelled):
        protect(photo, _opts(model_dir, anchor_dir, steps=10), progress=cancel)


def test_full_size_output_keeps_format_alpha_and_input(model_dir, anchor_dir, tmp_path, cat_array):
    rgba = np.dstack([cat_array, np.linspace(0, 255, cat_array.shape[1], dtype=np.uint8)[None].repeat(
        cat_array.shape[0], 0)])
    src = tmp_path / "art.png"
    Image.fromarray(rgba, "RGBA").save(src)
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    result = protect(src, _opts(model_dir, anchor_dir, steps=2))
    out = result.save(tmp_path / "out" / "art.png")
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before
    img = Image.open(out)
    assert img.format == "PNG" and img.mode == "RGBA" and img.size == (451, 300)
    assert np.array_equal(np.asarray(img)[..., 3], rgba[..., 3])
    assert not np.array_equal(np.asarray(img)[..., :3], cat_array)
    with pytest.raises(shading.ImageError):
        result.save(src)                     # never over the original
    jpg = tmp_path / "photo.jpg"
    Image.fromarray(cat_array).save(jpg, quality=80)
    out_jpg = protect(jpg, _opts(model_dir, anchor_dir, steps=2)).save(tmp_path / "out" / "photo.jpg")
    shaded = Image.open(out_jpg)
    assert shaded.format == "JPEG" and shaded.size == (451, 300)
    # Written at the original's quality (or higher, where that alone would break the visibility
    # target): IJG quality 80 puts 6 in the first luminance quantization entry, 95 puts 2.
    assert 2 <= shaded.quantization[0][0] <= 6


def test_self_check_flags_a_tiny_budget_as_weak(model_dir, anchor_dir, photo):
    m = protect(photo, _opts(model_dir, anchor_dir, steps=4, eps_255=0.6, quality="default")).measurements
    assert m["weak"] is True and m["steps"] > 4      # it kept trying before giving up
    strong = protect(photo, _opts(model_dir, anchor_dir, view_size=256, steps=24, intensity="high",
                                  self_check=False)).measurements
    # The pull clears the bar (no weakness of its own); weak only by the experiment's word.
    assert strong["concept_ratio_jpeg85"] <= shading.INTENSITIES["high"].min_protection, strong
    assert not strong["weak"] or strong["weak_reason"].startswith("the poisoning experiment"), strong


def test_clear_errors_for_missing_model_anchor_and_bad_options(model_dir, anchor_dir, photo, tmp_path):
    with pytest.raises(ModelNotFound, match="shade models pull taef2"):
        protect(photo, _opts(tmp_path, anchor_dir))
    with pytest.raises(AnchorNotFound, match="concepts available: cat"):
        protect(photo, _opts(model_dir, anchor_dir, target="dog"))
    with pytest.raises(OptionsError, match="style image"):
        protect(photo, _opts(model_dir, anchor_dir, mode="cloak"))
    with pytest.raises(ModelNotFound, match="unknown encoder"):
        protect(photo, _opts(model_dir, anchor_dir, encoders=("nope",)))


def test_a_protector_holds_its_encoders_loaded_once_and_frozen(model_dir, anchor_dir):
    """The models live in the Protector, not in a hidden cache: two calls use the same
    objects, and a fresh load is a new object."""
    protector = shading.Protector.from_pretrained(("taef2",), "cpu", (model_dir,))
    a = protector.encoders["taef2"]
    assert not any(p.requires_grad for p in a.parameters())
    assert shading.load_encoder("taef2", "cpu", (model_dir,)) is not a
    flat = np.full((40, 56, 3), 90, np.uint8)
    for _ in range(2):
        protector.protect(png_bytes(flat), _opts(model_dir, anchor_dir, encoders=("taef2",), steps=1, quality="fast"))
        assert protector.encoders["taef2"] is a and list(protector.encoders) == ["taef2"]
    listing = {i.name: i for i in shading.available_encoders((model_dir,))}
    assert listing["taef2"].installed and not listing["taesd"].installed


def test_a_single_colour_image_comes_back_nearly_unchanged_not_black(plumbing_model_dir, anchor_dir):
    """Nothing masks a change on one flat colour: only the dither-level grain (at most one
    code value) goes there, and the optimizer stays finite where the mask is all zero."""
    flat = np.full((120, 180, 3), (120, 160, 200), np.uint8)
    result = protect(png_bytes(flat), _opts(plumbing_model_dir, anchor_dir, encoders=("random-tiny",), steps=3))
    shaded = np.asarray(Image.open(io.BytesIO(result.to_bytes())).convert("RGB")).astype(int)
    assert np.abs(shaded - flat).max() <= 1
    assert result.measurements["ssimulacra2"] >= shading.INTENSITIES["default"].visibility


def test_a_preview_tells_its_stages_and_loads_the_decoder_once(plumbing_model_dir):
    protector = shading.Protector.from_pretrained(("random-tiny",), "cpu", (plumbing_model_dir,))
    rgb = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    stages: list[tuple[int, int, str]] = []
    pv = protector.preview(rgb, rgb, {}, 32, target=rgb[::-1].copy(), progress=lambda *a: stages.append(a))
    assert stages == [(0, 0, "load"), (0, 3, "original"), (1, 3, "shaded"), (2, 3, "target")]
    assert pv.seen_target is not None
    stages.clear()
    protector.preview(rgb, rgb, {}, 32, progress=lambda *a: stages.append(a))      # the decoder is loaded now
    assert stages == [(0, 2, "original"), (1, 2, "shaded")]
