"""The recaptioning rows' measure on a stand-in captioner: a fixed net that names an image by
its dominant colour, so the expected shares are known without downloaded weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from shading.lab.experiment.recaption import concept_of, recaption
from shading.labels.imagenet import class_names
from shading.labels.registry import SOFTMAX, LabelModel
from shading.labels.views import LabelView


def _colour_captioner() -> LabelModel:
    net = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 3, bias=False))
    with torch.no_grad():
        net[2].weight.copy_(20 * torch.eye(3))
    return LabelModel("colour", "classifier", net, LabelView(size=32), SOFTMAX, ("red", "green", "blue"))


def _flat(rgb: tuple[int, int, int]) -> np.ndarray:
    return np.broadcast_to(np.array(rgb, np.uint8), (40, 48, 3)).copy()


RED, GREEN = (200, 30, 30), (30, 200, 30)


def test_the_share_labelled_otherwise():
    captioner = _colour_captioner()
    result = recaption([_flat(RED)] * 3, [_flat(GREEN), _flat(RED), _flat(GREEN), _flat(RED)], captioner)
    assert result.clean_label == "red" and result.clean_share == 0.0
    assert result.shaded_share == 0.5 and result.shaded_labels == ("green", "red", "green", "red")
    mixed = recaption([_flat(RED), _flat(RED), _flat(GREEN)], [_flat(GREEN)], captioner, jpeg_quality=None)
    assert mixed.clean_label == "red" and mixed.clean_share == pytest.approx(1 / 3, abs=1e-3)
    assert recaption([], [_flat(RED)], captioner, clean_label="green").shaded_share == 1.0
    with pytest.raises(ValueError, match="shaded"):
        recaption([_flat(RED)], [], captioner)


def test_classes_of_one_concept_are_one_caption():
    names = class_names()
    assert concept_of(names[281], names) == concept_of(names[282], names) == "cat"    # tabby, tiger cat
    assert concept_of("something else", names) == "something else"
