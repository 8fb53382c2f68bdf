"""Is a mark something written, or paper texture, a smudge, a shadow's edge or a ruled line?

The model alone cannot tell: it was trained on digits only and reads *some* digit in any
blob, often sure of it. So each mark found on the page carries evidence measured from the
image, and a mark counts as written only when that evidence agrees; where the evidence is
borderline the model's confidence must be high as well.

Thresholds were set on ml.digits.pages' TUNE_SEEDS pages and MNIST *training* digits
rendered as photos; `mlbot eval digits` reports them on EVAL_SEEDS and MNIST test digits.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Evidence:
    contrast: float       # median ink inside the mark / the paper's noise (robust sigma)
    edge: float           # median ink just outside the mark / inside it: near 1 for soft edges
    stroke: float         # stroke width / the mark's longer side: ~0.1 for digits, ~0.5 for a blob
    straightness: float   # minor / major spread of the mark's pixels: near 0 for a straight line
    tilt: float           # degrees between the mark's long axis and the vertical
    span: float           # the mark's longer side / the image's longer side
    border: bool          # the image border cuts the mark
    # A digit scanned a few pixels high and scaled up (ml/digits/small_ink.py found the grid):
    # its edges are soft and blocky and it fills its frame by nature, so only its contrast
    # to the paper says whether it is ink.
    scanned: bool = False

    def as_json(self) -> dict:
        return {key: (round(value, 3) if isinstance(value, float) else value) for key, value in vars(self).items()}


# Measured on 160 rendered MNIST training digits against 230 marks found on blank pages
# (TUNE_SEEDS): digits had contrast >= 36 and edge <= 0.48; marks on smudged, shadowed,
# textured pages and walls had edge > 0.45 and, all but a few, contrast < 20.
MIN_CONTRAST = 5.0          # texture thresholded at median + 4 sigma barely reaches 4-5
MAX_EDGE = 0.55             # a smudge's or shadow's edge fades; a pen stroke's is a step
SOFT_EDGE, SOFT_CONTRAST = 0.45, 25.0   # a fading edge on faint ink: a smudge, not pencil
MAX_STROKE = 0.34           # a filled blob, not a stroke
MAX_LINE_TILT = 40.0        # a straight mark leaning further than any 1 does is a dash or rule
STRAIGHT = 0.12             # below this the mark is one straight stroke
RULE_SPAN = 0.75            # a straight stroke across most of the image is a ruled line or edge
# Evidence near those limits needs the model to be sure as well: faint ink, or a softish
# edge or a mark cut by the border without strong contrast (a few smudges and walls pass
# the limits above; no digit on paper came near them).
FAINT, NEAR_CONTRAST, BORDERLINE_CONFIDENCE = 25.0, 60.0, 0.9


def rejection(evidence: Evidence) -> str | None:
    """Why the mark cannot be writing, from the image alone; None when it may be."""
    if evidence.contrast < MIN_CONTRAST:
        return "faint"
    if evidence.scanned:
        return None
    if evidence.stroke > MAX_STROKE:
        return "blob"
    if evidence.edge > MAX_EDGE or (evidence.edge > SOFT_EDGE and evidence.contrast < SOFT_CONTRAST):
        return "soft edge"
    if evidence.straightness < STRAIGHT:
        if evidence.tilt > MAX_LINE_TILT:
            return "dash"
        if evidence.span > RULE_SPAN and evidence.border:
            return "rule"
    return None


def borderline(evidence: Evidence) -> bool:
    """Evidence that passes, but not by much: the model must also be sure."""
    if evidence.scanned:
        return evidence.contrast < FAINT
    return evidence.contrast < FAINT or (
        evidence.contrast < NEAR_CONTRAST and (evidence.edge > SOFT_EDGE or evidence.border))


def written(evidence: Evidence, confidence: float) -> bool:
    """The final word, once the model has read the mark with `confidence`."""
    if rejection(evidence) is not None:
        return False
    return confidence >= BORDERLINE_CONFIDENCE or not borderline(evidence)
