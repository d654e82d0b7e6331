"""``livematte parse`` in bulk: label map, overlay, chosen-parts cut-out and JSON per image."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from app.core.matting.batch import FileJobs, InputItem, StillJob, plan_jobs
from app.core.media.image_io import InputLimits
from app.core.face.palette import encode_label_png
from app.core.face.parsing import FaceParse, FaceParser
from app.core.face.parts import PartSelection, boxes_to_json, cutout, mask_box, part_boxes, part_mask
from app.core.timing import StageTimer
from app.core.media.writers import encode_png, json_bytes

PARSE_OUTPUTS = ("labels", "overlay", "parts", "json")


def plan_parse_jobs(inputs: list[InputItem], out_dir: Path, kinds: tuple[str, ...]) -> list[StillJob]:
    """``<stem>.labels.png``, ``<stem>.overlay.png``, ``<stem>.parts.png``, ``<stem>.parse.json``
    (not ``<stem>.json``, so ``still`` and ``parse`` can share an output folder)."""
    jobs = plan_jobs(inputs, out_dir, kinds)
    for job in jobs:
        if "json" in job.outputs:
            job.outputs["json"] = job.outputs["json"].with_suffix(".parse.json")
    return jobs


@dataclass
class ParseBatch(FileJobs):
    """Everything needed to turn image files into parsing outputs.

    person_matte: optional callable frame -> H×W float32 alpha, used for the
    ``head`` ears region and required for ``body``/``background``.
    """

    parser: FaceParser
    parts: PartSelection
    opacity: float = 0.5
    overwrite: bool = False
    limits: InputLimits = InputLimits()
    person_matte: Callable[[np.ndarray], np.ndarray] | None = None

    def encode_frame(self, frame: np.ndarray, wanted: dict[str, Path], source: str, timer: StageTimer) -> dict[str, bytes]:
        """Parses ``frame``: the bytes of each ``wanted`` output.

        Raises:
            SettingsError: a part needs the matting model and none was given.
        """
        parse = self.parser.parse(frame)
        timer.merge(parse.timings)
        alpha = None
        if self.person_matte is not None and ("parts" in wanted or "json" in wanted):
            with timer.stage("matte"):
                alpha = self.person_matte(frame)
        with timer.stage("parts"):
            mask = part_mask(parse, self.parts, alpha)
        data: dict[str, bytes] = {}
        with timer.stage("encode"):
            if "labels" in wanted:
                data["labels"] = encode_label_png(parse.labels)
            if "overlay" in wanted:
                data["overlay"] = encode_png(parse.overlay(frame, self.opacity))
            if "parts" in wanted:
                data["parts"] = encode_png(cutout(frame, mask))
        if "json" in wanted:
            data["json"] = json_bytes(self.report(frame, parse, mask, source, wanted, timer))
        return data

    def report(self, frame: np.ndarray, parse: FaceParse, mask: np.ndarray, source: str,
               wanted: dict[str, Path], timer: StageTimer) -> dict[str, object]:
        selection_box = mask_box(mask, "+".join(self.parts.names))
        return {
            "input": source,
            "width": frame.shape[1],
            "height": frame.shape[0],
            "faces": [face.to_json() for face in parse.faces],
            "parts": boxes_to_json(part_boxes(parse.labels, parse.roi)),
            "selection": {
                "parts": list(self.parts.names),
                "box": boxes_to_json([selection_box])[0] if selection_box else None,
                "coverage": round(float(mask.mean()), 5),
            },
            "outputs": {k: p.name for k, p in wanted.items() if k != "json"},
            "timings_ms": {k: round(v, 2) for k, v in timer.ms.items()},
        }
