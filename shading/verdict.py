"""The one verdict on a shaded image, in words an artist can act on.

Every surface (the CLI, the daemon's job records and events, the dashboard, the extension's
card, notification and badge) shows this verdict and nothing of its own making, so a weak
result can never be announced as protected in one place and weak in another. Torch-free:
it reads a result's measurements only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping, Optional

from .options import INTENSITIES

PROTECTED = "protected"
WEAK = "weak"
NOT_PROTECTED = "not protected"
LEVELS = (PROTECTED, WEAK, NOT_PROTECTED)

# At or above this ratio after a JPEG-85 round trip, the posted copy is no nearer the target
# than the original was: nothing of the shading survives.
NO_PULL = 1.0


def pull_figure(measurements: Mapping[str, Any]) -> Any:
    """The ratio after JPEG 85 on the figure the optimizer pulls: towards the concept where the
    result measures one (``concept_ratio_jpeg85``), else towards the anchor's latent."""
    concept = measurements.get("concept_ratio_jpeg85")
    return concept if concept is not None else measurements.get("latent_ratio_jpeg85")

WORDS = {
    PROTECTED: "protected: a model trained on it would learn the target instead of your image",
    WEAK: "weakly protected: a model trained on it would barely notice",
    NOT_PROTECTED: "not protected: a model trained on it would not notice the shading",
}
LADDER = tuple(INTENSITIES)        # low -> default -> high, weakest first
STRONGEST = "already at the strongest intensity"


@dataclass(frozen=True)
class Verdict:
    level: str                       # one of LEVELS
    words: str                       # the verdict in a sentence
    advice: str                      # what to do next, in words ("" when nothing is needed)
    next_intensity: Optional[str]    # the next step up the ladder, None at the top
    effect: Optional[str] = None     # the expected downstream effect, where measured
    reason: Optional[str] = None     # why it is not protected, in the core's words (``weak_reason``)

    @property
    def protected(self) -> bool:
        return self.level == PROTECTED

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def next_intensity(intensity: Optional[str]) -> Optional[str]:
    """The intensity one step stronger than ``intensity``; None at the strongest (or unknown)."""
    if intensity not in LADDER:
        return None
    i = LADDER.index(intensity)
    return LADDER[i + 1] if i + 1 < len(LADDER) else None


def effect_words(measurements: Mapping[str, Any]) -> Optional[str]:
    """The expected downstream effect in words, when the measurements carry one. It comes
    from the poisoning experiment, not from this image; its label says so."""
    effect = measurements.get("expected_effect")
    if not isinstance(effect, Mapping):
        return None
    label = effect.get("note") or effect.get("label") or "from the poisoning experiment, not this image"
    if effect.get("words"):                      # the experiment's own sentence (shading.measure.expected)
        return f"expected effect downstream: {effect['words']} ({label})"
    share = effect.get("share_called_target", effect.get("share"))
    if isinstance(share, (int, float)):
        return f"expected effect downstream: {float(share):.0%} ({label})"
    return f"expected effect downstream: {label}"


def level_of(measurements: Mapping[str, Any]) -> str:
    """protected / weak / not protected: the core's ``weak`` flag (or, without one, the ratio
    after JPEG 85 against the intensity's bar); "not protected" when nothing of the pull
    survives JPEG 85 (``pull_figure`` at or above ``NO_PULL``)."""
    r85 = measurements.get("latent_ratio_jpeg85")
    weak = measurements.get("weak")
    if r85 is None and weak is None:
        raise ValueError("these measurements hold no protection figures (latent_ratio_jpeg85 or weak)")
    pull = pull_figure(measurements)
    if pull is not None and float(pull) >= NO_PULL and weak is not False:
        return NOT_PROTECTED
    if weak is None:
        bar = INTENSITIES.get(str(measurements.get("intensity")), INTENSITIES["default"]).min_protection
        weak = float(r85) > bar
    return WEAK if weak else PROTECTED


def verdict(measurements: Mapping[str, Any]) -> Verdict:
    """The verdict on one shaded image from its measurements (``ProtectResult.measurements``)."""
    level = level_of(measurements)
    intensity = measurements.get("intensity")
    step = next_intensity(intensity)
    if level == PROTECTED:
        advice = ""
    elif step is not None:
        advice = (f"Shade it again, stronger (the {step} intensity): the change will be a little more visible, "
                  "and the protection stronger.")
    else:
        advice = f"It is {STRONGEST}, so shading it again will not help; another target may work better."
    reason = measurements.get("weak_reason") if level != PROTECTED else None
    return Verdict(level, WORDS[level], advice, step, effect_words(measurements), reason or None)
