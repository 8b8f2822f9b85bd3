"""When a condition counts as shown: each judge must see the poisoned concept's samples
called the target more often than in the clean control, by more than both the seeds'
spread and the sampling noise, and the judges must agree. A judge fooled alone (the latent
probe, which reads the space Shade optimizes in, is the one at risk) shows nothing.
"""

from __future__ import annotations

import math
import statistics
from typing import Any, Mapping, Sequence


def judge_margin(condition: Sequence[float], clean: Sequence[float], samples: int) -> dict[str, Any]:
    """One judge's verdict on one condition: its per-seed shares called the target against
    the clean control's (same seeds), with ``samples`` generated latents per seed."""
    mean_c, mean_0 = statistics.fmean(condition), statistics.fmean(clean)
    spread = max(max(condition) - min(condition), max(clean) - min(clean))
    pooled = min(max((mean_c + mean_0) / 2, 1 / samples), 1 - 1 / samples)
    # Two standard errors of a difference of two binomial shares over all seeds' samples.
    noise = 2 * math.sqrt(2 * pooled * (1 - pooled) / (samples * len(condition)))
    margin = mean_c - mean_0
    return {"share": round(mean_c, 4), "clean": round(mean_0, 4), "margin": round(margin, 4),
            "seed_spread": round(spread, 4), "noise": round(noise, 4), "shown": margin > max(spread, noise)}


def agreement(per_judge: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Shown only when every judge shows it; says which judge stood alone otherwise."""
    showing = [name for name, v in per_judge.items() if v["shown"]]
    if len(showing) == len(per_judge):
        verdict = "shown"
    elif showing:
        verdict = f"not shown: only {', '.join(showing)} saw it"
    else:
        verdict = "not shown"
    return {"shown": verdict == "shown", "verdict": verdict, "judges": dict(per_judge)}
