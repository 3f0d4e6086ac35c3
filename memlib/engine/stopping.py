"""When a run stops: the plateau rule and the warmup-stable-decay learning-rate schedule.

`stop="steps"` trains a fixed budget; `stop="plateau"` trains at constant learning rate until the
monitored score (e.g. memorized bits) gains less than `tol` (relative) over `patience` evaluations
(or, with `window_frac` > 0, over the last `window_frac` of the steps taken if that is longer), then
decays the learning rate linearly to zero over `decay_frac` of the steps taken, and evaluates once more.

How a run stopped is recorded apart from whether it saturated (`stop_info`): `stop_reason` says which
rule ended it, `gain_last_doubling` how much its score rose over the last doubling of its steps before the
final learning-rate decay (`decay_gain`: what the decay added), and `saturated` means that gain was below
SATURATION_GAIN, whatever rule fired. With window_frac = 0.5 and tol = SATURATION_GAIN the plateau rule
fires about when that holds (it allows a gain equal to tol, and measures from the earlier of its patience and
half-window references).
"""
from __future__ import annotations

import math

from memlib.engine.runs import TrainConfig


def lr_factor(step: int, state: dict, tc: TrainConfig) -> float:
    """Learning rate / peak at `step` for one model: linear warmup, constant, linear decay to 0
    (schedule="wsd"), or linear warmup then a cosine to 0 at max_steps (schedule="cosine")."""
    f = min(1.0, step / tc.warmup) if tc.warmup else 1.0
    if tc.schedule == "cosine":
        return f * 0.5 * (1 + math.cos(math.pi * min(1.0, max(0, step - tc.warmup) / max(1, tc.max_steps - tc.warmup))))
    if state["decay_start"] is not None:
        f *= max(0.0, 1 - (step - state["decay_start"]) / max(1, state["decay_len"]))
    return f


def plateaued(history, tc: TrainConfig) -> bool:
    """True when the score gained at most `tol` (relative to its current value) since the reference
    evaluation: `patience` evaluations back, or further back if that is less than `window_frac` of
    the steps taken (window_frac = 0.5: the second half of training so far added at most `tol`)."""
    scores = [h["score"] for h in history]
    if len(scores) <= tc.patience or scores[-1] <= 0:
        return False
    ref = len(scores) - 1 - tc.patience
    if tc.window_frac:
        since = history[-1]["step"] * (1 - tc.window_frac)  # the window starts at or before this step
        before = [i for i, h in enumerate(history) if h["step"] <= since]
        if not before:
            return False
        ref = min(ref, before[-1])
    gain = scores[-1] - scores[ref]
    return gain <= tc.tol * abs(scores[-1])


SATURATION_GAIN = 0.01  # a run is saturated when its score gained less than 1% (relative) over its last doubling of steps


def gain_last_doubling(history, until: int | None = None) -> float | None:
    """Relative gain of the score over the last doubling of steps: (score at the end - at half the steps) / |score
    at the end|, each the last evaluation at or before its step; the end is the final evaluation, or the last one at
    or before step `until`; None without an evaluation at half the steps (or with a 0 score)."""
    if not history or "score" not in history[-1]:
        return None
    upto = [h for h in history if until is None or h["step"] <= until]
    if not upto:
        return None
    end = upto[-1]
    before = [h for h in upto if h["step"] <= end["step"] / 2]
    if not before or end["step"] == 0 or not end["score"] or end["score"] != end["score"]:
        return None
    return (end["score"] - before[-1]["score"]) / abs(end["score"])


def stop_info(metrics: dict, stop: str) -> dict:
    """Why a finished run stopped and whether it saturated, from its metrics and its TrainConfig.stop:
    stop_reason "plateau" (the rule fired), "max_steps" (the budget came first), "steps" (a fixed budget) or
    "untrained" (max_steps = 0); gain_last_doubling; saturated = that gain < SATURATION_GAIN (None if unknown)."""
    if metrics["steps"] == 0:
        return {"stop_reason": "untrained", "gain_last_doubling": None, "decay_gain": None,
                "gain_last_doubling_with_decay": None, "saturated": None}
    if stop == "steps":
        reason = "steps"
    else:
        reason = "plateau" if metrics.get("plateau_step") is not None else "max_steps"
    hist, decay = metrics.get("history") or [], metrics.get("decay_start")
    # over the phase before the final learning-rate decay: with a warmup-stable-decay schedule the decay lifts the
    # score at any training length, so a gain that spans it would call every run unsaturated and could not tell a
    # run still learning from a finished one; what the decay added is reported beside it (decay_gain)
    gain = gain_last_doubling(hist, decay)
    at_decay = [h for h in hist if decay is not None and h["step"] <= decay]
    end = hist[-1].get("score") if hist else None
    decay_gain = (end - at_decay[-1]["score"]) / abs(end) if at_decay and end else None
    r = lambda x: None if x is None else round(x, 6)
    return {"stop_reason": reason, "gain_last_doubling": r(gain), "decay_gain": r(decay_gain),
            "gain_last_doubling_with_decay": r(gain_last_doubling(hist)),
            "saturated": None if gain is None else bool(gain < SATURATION_GAIN)}
