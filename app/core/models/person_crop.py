"""Where a matting model looks: a box around the person, kept while the person stays inside it.

A full-body person in a wide shot covers a few percent of the frame, yet a
model run on the whole frame spends its time on the wall behind them. Run
on a box around the person at the same pixel density, the model sees the
same person for a fraction of the pixels (the annotated walking clip: the
same IoU on a box about a third of the frame).

The box follows the last matte with margins and only moves when the person
comes near its edge or has become much smaller than it: each move restarts
a recurrent model's state. It falls back to the whole frame when nobody was
found, when the box would cover most of the frame anyway (a close-up), and
every ``refresh`` runs, so that someone entering elsewhere is seen.

On frames the model skips (the live view's reused frames) the box follows
the mask carried along the optical flow, with more room at its edges: that
mask lags a fast limb, and RVM run on a box whose edge cuts a reaching arm
takes the wall beside it for person (the annotated rollerblade clip, every
3rd frame: IoU 0.743 -> 0.771).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels of the frame the matte was made on


@dataclass
class PersonCrop:
    """Tracks the box; ``box`` is None for the whole frame."""

    margin: float = 0.5  # added on each side, as a share of the person's box size
    min_side: float = 0.3  # the box is at least this share of the frame's width and height
    edge: float = 0.03  # the person closer than this share of the frame side to a cut edge: move the box
    follow_edge: float = 0.08  # the same for a mask the model did not make (see ``follow``)
    max_area: float = 0.9  # a box covering more of the frame than this is not worth it: whole frame
    refresh: int = 90  # a whole-frame run every this many runs
    box: Box | None = None
    runs: int = 0

    def reset(self) -> None:
        self.box, self.runs = None, 0

    def update(self, alpha: np.ndarray) -> None:
        """Chooses the box for the next run from this run's whole-frame ``alpha`` (H×W float)."""
        self.runs += 1
        if self.refresh and self.runs % self.refresh == 0:
            self.box = None
            return
        self._fit(alpha, self.edge)

    def follow(self, alpha: np.ndarray) -> None:
        """Moves the box for a person seen without the model (a carried mask); not a run."""
        self._fit(alpha, self.follow_edge)

    def _fit(self, alpha: np.ndarray, edge: float) -> None:
        person = _person_box(alpha)
        height, width = alpha.shape
        wanted = None if person is None else self._around(person, width, height)
        if wanted is None:
            self.box = None
        elif self.box is None or not self._still_fits(person, wanted, width, height, edge):
            self.box = wanted

    def _still_fits(self, person: Box, wanted: Box, width: int, height: int, edge: float) -> bool:
        """The person is clear of the box's cut edges, and the box is not much bigger than needed."""
        x0, y0, x1, y1 = self.box
        ex, ey = edge * width, edge * height
        inside = ((x0 == 0 or person[0] >= x0 + ex) and (y0 == 0 or person[1] >= y0 + ey)
                  and (x1 == width or person[2] <= x1 - ex) and (y1 == height or person[3] <= y1 - ey))
        return inside and _area(self.box) <= 2 * _area(wanted)

    def _around(self, person: Box, width: int, height: int) -> Box | None:
        px0, py0, px1, py1 = person
        mx = max(self.margin * (px1 - px0), (self.min_side * width - (px1 - px0)) / 2)
        my = max(self.margin * (py1 - py0), (self.min_side * height - (py1 - py0)) / 2)
        box = (max(0, int(px0 - mx)), max(0, int(py0 - my)), min(width, int(np.ceil(px1 + mx))),
               min(height, int(np.ceil(py1 + my))))
        if (box[2] - box[0]) * (box[3] - box[1]) > self.max_area * width * height:
            return None
        return box


def _area(box: Box) -> int:
    return (box[2] - box[0]) * (box[3] - box[1])


def _person_box(alpha: np.ndarray) -> Box | None:
    """Bounding box of alpha ≥ 0.25 (a little generous: a faint limb still belongs in the box)."""
    found = cv2.compare(alpha, 0.25, cv2.CMP_GE)
    points = cv2.findNonZero(found)
    if points is None:
        return None
    x, y, w, h = cv2.boundingRect(points)
    return x, y, x + w, y + h
