"""The poisoning experiment (``shade experiment poison``): its parts on synthetic data, and
the fast variant end to end on the real taef2 weights (skipped without them)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from shading.lab.experiment import (
    Concept,
    PoisonConfig,
    conditions_for,
    fast_config,
    run_poison_experiment,
    write_outputs,
)
from shading.lab.experiment.agreement import agreement, judge_margin
from shading.lab.experiment.data import base_crops, bilateral, noise_denoise, sample_subset, windows
from shading.lab.experiment.flow import FlowSettings, sample_flow, train_flow
from shading.lab.experiment.pixels_judge import JudgeSettings, pixel_accuracy, train_pixel_judge
from shading.lab.experiment.probe import train_probe

# --- the parts, without weights -------------------------------------------------------


def _two_blobs(n: int = 64, shift: float = 1.5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes of 8 x 8 x 8 'latents' that differ in their channel means."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2 * n, 8, 8, 8, generator=g)
    y = torch.cat([torch.zeros(n, dtype=torch.long), torch.ones(n, dtype=torch.long)])
    x[y == 1, :4] += shift
    x[y == 0, 4:] += shift
    return x, y


def test_probe_separates_classes_and_measures_centroids():
    x, y = _two_blobs()
    probe = train_probe(x, y, 2)
    held_x, held_y = _two_blobs(seed=1)
    assert probe.accuracy(held_x, held_y) > 0.95
    d = probe.centroid_distances(held_x[held_y == 1])
    assert d[1] < d[0]


def test_flow_model_learns_each_class():
    """A few hundred steps on two separable classes: samples for each label land on the
    probe's side of that label (so a flow that ignored the label would fail)."""
    x, y = _two_blobs(n=128)
    probe = train_probe(x, y, 2)
    settings = FlowSettings(width=16, mid_blocks=1, steps=150, batch=32, sample_steps=8)
    net = train_flow(x, y, 2, settings, torch.Generator().manual_seed(0))
    for label in (0, 1):
        samples = sample_flow(net, label, 48, (8, 8, 8), settings, torch.Generator().manual_seed(1))
        assert (probe.predict(samples) == label).float().mean() > 0.8


def test_flow_training_stops_at_its_plateau_and_says_when():
    x, y = _two_blobs(n=64)
    settings = FlowSettings(width=16, mid_blocks=1, steps=600, batch=16, plateau_every=30, plateau_gain=0.05)
    net = train_flow(x, y, 2, settings, torch.Generator().manual_seed(0))
    assert 60 <= net.steps_trained < 600 and net.steps_trained % 30 == 0
    fixed = train_flow(x, y, 2, FlowSettings(width=16, mid_blocks=1, steps=60, batch=32, plateau_every=0),
                       torch.Generator().manual_seed(0))
    assert fixed.steps_trained == 60


def test_pixel_judge_tells_decoded_concepts_apart():
    """Two 'concepts' that differ in colour and texture: the judge trained on some crops
    names held-apart ones."""
    g = torch.Generator().manual_seed(0)

    def crops(n: int, k: int) -> torch.Tensor:
        base = torch.rand(n, 3, 32, 32, generator=g) * 0.3
        if k:
            base[:, 0] += 0.5
        else:
            base[:, 2] += 0.5 * (torch.arange(32) % 4 < 2).float()
        return base.clamp(0, 1)

    train = torch.cat([crops(48, 0), crops(48, 1)])
    labels = torch.cat([torch.zeros(48, dtype=torch.long), torch.ones(48, dtype=torch.long)])
    judge = train_pixel_judge(train, labels, 2, torch.Generator().manual_seed(1), JudgeSettings(steps=80, shift=2))
    held = torch.cat([crops(16, 0), crops(16, 1)])
    assert pixel_accuracy(judge, held, torch.cat([torch.zeros(16), torch.ones(16)]).long()) > 0.9


def test_a_judge_fooled_alone_shows_nothing():
    """The probe sees the target far above the clean control, the pixel judge does not:
    the condition is "not shown", and the verdict names the judge that stood alone."""
    probe = judge_margin([0.6, 0.7, 0.65], [0.0, 0.02, 0.01], samples=96)
    pixels = judge_margin([0.03, 0.01, 0.02], [0.0, 0.02, 0.01], samples=96)
    assert probe["shown"] and not pixels["shown"]
    verdict = agreement({"probe": probe, "pixels": pixels})
    assert not verdict["shown"] and verdict["verdict"] == "not shown: only probe saw it"
    both = agreement({"probe": probe, "pixels": judge_margin([0.5, 0.55, 0.6], [0.0, 0.02, 0.01], 96)})
    assert both["shown"] and both["verdict"] == "shown"
    # A margin inside the seeds' spread or the sampling noise is not shown either.
    assert not judge_margin([0.0, 0.3], [0.0, 0.05], samples=96)["shown"]
    assert not judge_margin([0.05], [0.0], samples=48)["shown"]


def test_windows_crops_and_subsets():
    z = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).view(2, 3, 6, 6)
    w = windows(z, 4, 2)
    assert w.shape == (2 * 4, 3, 4, 4)
    assert torch.equal(w[0], z[0, :, :4, :4]) and torch.equal(w[-1], z[1, :, 2:, 2:])
    concept = Concept("c", [np.zeros((300, 500, 3), np.uint8)])
    crops = base_crops(concept, 5, 96, 200, np.random.default_rng(0))
    assert len(crops) == 5 and all(c.shape == (96, 96, 3) for c in crops)
    rng = np.random.default_rng(0)
    assert sample_subset(8, 0, rng) == [] and len(sample_subset(8, 0.25, rng)) == 2
    assert sample_subset(8, 1.0, rng) == list(range(8))


def test_noise_then_bilateral_removes_most_of_the_noise():
    flat = np.full((64, 64, 3), 128, np.uint8)
    cleaned = noise_denoise(flat, sigma=0.05, seed=3)
    noisy_rms = 0.05 * 255
    assert np.sqrt(np.mean((cleaned.astype(float) - 128) ** 2)) < 0.5 * noisy_rms
    edge = torch.zeros(1, 3, 16, 16)
    edge[..., 8:] = 1
    assert torch.allclose(bilateral(edge), edge, atol=0.02)       # edges survive


def test_conditions_cover_the_design():
    names = [c.name for c in conditions_for(PoisonConfig())]
    for intensity in ("default", "high"):
        assert [f"shade-{intensity}-p{d}" for d in (25, 50, 100)] == [n for n in names if n.startswith(
            f"shade-{intensity}-p") and "+" not in n]
    # The old whole-anchor target at the first intensity, and the reference at Shade's visibility.
    assert [n for n in names if "anchor" in n] == [f"shade-default-anchor-p{d}" for d in (25, 50, 100)]
    assert {"clean", "label-swap", "reference-p25", "reference-p50", "reference-p100", "reference-matched-p100",
            "shade-default-p100+jpeg75", "shade-default-p100+noise0.05+bilateral",
            "reference-p100+jpeg75", "purified-p100+jpeg75", "purified-p100+noise0.05+bilateral"} <= set(names)


# --- the fast variant, end to end, on the real weights ----------------------------------

def _concepts() -> list[Concept]:
    from skimage import data

    return [Concept("coffee", [data.coffee()]), Concept("astronaut", [data.astronaut()])]


@pytest.fixture(scope="module")
def fast_run(model_dir, tmp_path_factory):
    # Lighter than `--fast` (one objective, a shorter generator and judge): the suite checks
    # the runner end to end; the figures come from `shade experiment poison`.
    config = fast_config(concepts=_concepts(), poisoned="coffee", target="astronaut", model_dirs=(model_dir,),
                         device="cpu", objectives=("concept",), samples=32, judge=JudgeSettings(steps=100),
                         flow=FlowSettings(width=24, steps=150, batch=32, plateau_every=50), recaption=True)
    result = run_poison_experiment(config, log=lambda s: None)
    out = write_outputs(result, tmp_path_factory.mktemp("poison"))
    return config, result, out


@pytest.mark.weights
def test_probe_is_above_chance_on_held_apart_latents(fast_run):
    _, result, _ = fast_run
    probe = result.report["probe"]
    assert probe["test_accuracy"] > probe["chance"] + 0.3


@pytest.mark.weights
def test_label_swap_is_far_above_the_clean_control(fast_run):
    _, result, _ = fast_run
    by = {c["condition"]: c for c in result.report["conditions"]}
    clean, swap = by["clean"]["target_share"]["mean"], by["label-swap"]["target_share"]["mean"]
    assert swap - clean > 0.5
    assert by["clean"]["own_share"]["mean"] > 0.5     # the clean generator draws its own concept


@pytest.mark.weights
def test_report_carries_every_condition_with_its_numbers(fast_run):
    config, result, out = fast_run
    report = json.loads(out["report"].read_text())
    wanted = [c.name for c in conditions_for(config)]
    assert [c["condition"] for c in report["conditions"]] == wanted
    assert set(wanted) == {"clean", "shade-default-p100", "reference-p100", "reference-matched-p100", "label-swap",
                           "recaptioned-clean", "recaptioned-shade-default-latent-p100",
                           "recaptioned-shade-default-labels-p100", "recaptioned-shade-default-both-p100"}
    for c in report["conditions"]:
        assert len(c["seeds"]) == len(config.seeds)
        for metric in ("target_share", "target_share_pixels", "own_share", "target_probability",
                       "distance_to_target", "distance_to_own"):
            stats = c[metric]
            assert all(isinstance(stats[k], float) and np.isfinite(stats[k]) for k in ("mean", "std", "min", "max"))
        assert 0 <= c["target_share"]["mean"] <= 1 and 0 <= c["target_share_pixels"]["mean"] <= 1
        # The generator trained to its plateau, within the cap, and says how long.
        assert 0 < c["flow_steps"]["max"] <= config.flow.steps
        if c["kind"] != "clean":          # the controls (clean, recaptioned clean) are judged against
            assert set(c["agreement"]["judges"]) == {"probe", "pixels"}
    assert report["probe"]["pixel_judge"]["test_accuracy"] > report["probe"]["chance"]
    assert set(report["shading"]) == {"shade-default", "shade-default-labels", "shade-default-latent+labels",
                                      "reference-published", "reference-matched"}
    for entry in report["shading"].values():
        assert entry["images"] == config.train_images and 20 < entry["psnr_mean"] < 60
        assert 0 < entry["latent_ratio"] < 1          # the shaded latents moved toward the anchor
    # The matched reference keeps Shade's visibility; the published one does not.
    assert report["shading"]["reference-matched"]["ssimulacra2_median"] >= 77.5
    assert report["shading"]["reference-published"]["ssimulacra2_median"] < 70
    assert report["timing"]["total"]["wall_s"] > 0 and isinstance(report["native_bf16"], bool)
    with Image.open(out["plot"]) as plot, Image.open(out["samples"]) as grid:
        assert plot.size[0] > 300 and grid.size[1] >= 96 * (len(wanted) + 2)


@pytest.mark.weights
def test_the_recaptioning_rows_train_under_the_held_out_captioners_labels(fast_run):
    """A held-out classifier (Lite2, outside the labels channel's Lite0+Lite1 ensemble) writes
    the captions: each of A's images it names otherwise leaves A's training set."""
    config, result, _ = fast_run
    report = result.report
    assert report["recaption"]["captioner"] == "efficientnet-lite2"
    by = {c["condition"]: c for c in report["conditions"]}
    clean = by["recaptioned-clean"]["recaptioned"]
    assert clean["clean_label"] == "coffee" and clean["clean_share"] == 0.0
    for tag in ("latent", "labels", "both"):
        row = by[f"recaptioned-shade-default-{tag}-p100"]
        said = row["recaptioned"]
        assert said["clean_label"] == "coffee" and len(said["shaded_labels"]) == config.train_images
        assert 0.0 <= said["shaded_share"] <= 1.0
        # The generator trained without the images the captioner named otherwise.
        away = sum(label != "coffee" for label in said["shaded_labels"])
        assert all(seed["recaptioned_away"] == away for seed in row["seeds"])
    # The labels channel is what moves the captioner: on these photos it names every shaded
    # coffee otherwise (1.0; the latent channel alone 0.25, the clean images 0.0).
    labels = by["recaptioned-shade-default-labels-p100"]["recaptioned"]["shaded_share"]
    assert labels >= clean["clean_share"] + 0.5, labels
