"""Resuming ``protect`` from a checkpoint (shading.optimize.checkpoint, Shader.state_dict): a run cut
short and resumed from its last saved state writes the very file an uninterrupted run
writes, and a state that belongs to another image, seed or shape is ignored, never used.

On the seeded random encoder, at the default quality (so the simulated postings, which
draw from the run's random stream, are in every step) and a 64-pixel trainer view."""

from __future__ import annotations

import logging

import pytest
import torch

from shading import Cancelled, ProtectOptions, protect
from shading.optimize.checkpoint import SAVE_EVERY, MemoryCheckpoint

STEPS = 14


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _opts(plumbing_model_dir, anchor_dir, **kw) -> ProtectOptions:
    base = dict(target="cat", anchor_dirs=(anchor_dir,), model_dirs=(plumbing_model_dir,), view_size=64, seed=7,
                quality="default", steps=STEPS, device="cpu")
    base.update(kw)
    return ProtectOptions(**base)


def _cut_at(step: int):
    def progress(k: int, total: int, stage: str) -> None:
        if stage == "optimize" and k == step:
            raise Cancelled("simulated crash")
    return progress


class Recording(MemoryCheckpoint):
    def __init__(self) -> None:
        super().__init__()
        self.steps: list[int] = []

    def save(self, state: dict) -> None:
        self.steps.append(state["shader"]["steps_done"])
        super().save(state)


@pytest.mark.parametrize("cut", [10, 13])
def test_a_resumed_run_writes_the_file_an_uninterrupted_run_writes(plumbing_model_dir, anchor_dir, picture, cut):
    opts = _opts(plumbing_model_dir, anchor_dir)
    whole = protect(picture, opts)
    assert whole.measurements["resumed_from_step"] == 0
    checkpoint = MemoryCheckpoint()
    with pytest.raises(Cancelled):
        protect(picture, opts, _cut_at(cut), checkpoint=checkpoint)
    saved = cut - 1 - (cut - 1) % SAVE_EVERY                 # the last multiple of SAVE_EVERY before the cut
    assert checkpoint.state["shader"]["steps_done"] == saved
    # 8 is no multiple of the visibility direction's refresh (3), so that direction is kept;
    # 12 is one, and the next step recomputes it.
    assert (checkpoint.state["shader"]["away"] is None) == (saved % 3 == 0)
    seen: list[tuple[int, str]] = []
    resumed = protect(picture, opts, lambda k, t, st: seen.append((k, st)), checkpoint=checkpoint)
    assert resumed.measurements["resumed_from_step"] == saved
    assert [k for k, st in seen if st == "optimize"] == list(range(saved, STEPS + 1))
    assert resumed.measurements["steps"] == whole.measurements["steps"]
    assert resumed.to_bytes() == whole.to_bytes()
    same = {k: v for k, v in resumed.measurements.items() if k not in ("seconds", "resumed_from_step")}
    assert same == {k: v for k, v in whole.measurements.items() if k not in ("seconds", "resumed_from_step")}


def test_the_random_stream_is_part_of_the_state(plumbing_model_dir, anchor_dir, picture):
    """The control for the test above: the same state with the random stream of a fresh
    generator (what a resume without it would have) ends elsewhere."""
    opts = _opts(plumbing_model_dir, anchor_dir)
    whole = protect(picture, opts).to_bytes()
    checkpoint = MemoryCheckpoint()
    with pytest.raises(Cancelled):
        protect(picture, opts, _cut_at(10), checkpoint=checkpoint)
    checkpoint.state["shader"]["generator"] = torch.Generator().manual_seed(7).get_state()
    tampered = protect(picture, opts, checkpoint=checkpoint)
    assert tampered.measurements["resumed_from_step"] == 8
    assert tampered.to_bytes() != whole


def test_saves_every_few_steps_and_at_the_end_of_the_optimization(plumbing_model_dir, anchor_dir, picture):
    checkpoint = Recording()
    result = protect(picture, _opts(plumbing_model_dir, anchor_dir), checkpoint=checkpoint)
    assert checkpoint.steps == [4, 8, 12, 14]
    assert result.measurements["resumed_from_step"] == 0
    # A crash after the optimization (rendering, self-check) resumes with nothing to optimize.
    seen: list[tuple[int, str]] = []
    again = protect(picture, _opts(plumbing_model_dir, anchor_dir), lambda k, t, st: seen.append((k, st)),
                    checkpoint=checkpoint)
    assert again.measurements["resumed_from_step"] == STEPS
    assert [k for k, st in seen if st == "optimize"] == [STEPS]
    assert again.to_bytes() == result.to_bytes()


def test_a_checkpoint_of_another_image_seed_or_shape_is_ignored(plumbing_model_dir, anchor_dir, picture, caplog):
    opts = _opts(plumbing_model_dir, anchor_dir)
    theirs = MemoryCheckpoint()
    protect(picture, opts, checkpoint=theirs)
    other = picture.copy()
    other[0, 0] ^= 1                                          # one pixel differs
    fresh = protect(other, opts).to_bytes()
    for image, options in ((other, opts), (picture, _opts(plumbing_model_dir, anchor_dir, seed=8))):
        caplog.clear()
        borrowed = MemoryCheckpoint()
        borrowed.state = theirs.state
        with caplog.at_level(logging.WARNING, logger="shading"):
            result = protect(image, options, checkpoint=borrowed)
        assert result.measurements["resumed_from_step"] == 0
        assert "ignoring the checkpoint: it belongs to another image" in caplog.text
        if image is other:
            assert result.to_bytes() == fresh
        assert borrowed.state is not theirs.state              # overwritten by this run's own
    # The right fingerprint but a pattern of another shape (or no state at all): ignored too.
    for broken in ({**theirs.state, "shader": {**theirs.state["shader"], "u": torch.zeros(1, 3, 8, 8)}},
                   {**theirs.state, "shader": "not a state"}, ["not", "a", "dict"]):
        caplog.clear()
        borrowed = MemoryCheckpoint()
        borrowed.state = broken
        with caplog.at_level(logging.WARNING, logger="shading"):
            result = protect(picture, opts, checkpoint=borrowed)
        assert result.measurements["resumed_from_step"] == 0
        assert "ignoring the checkpoint" in caplog.text
