"""Face-parsing accuracy: per-class IoU of label maps against annotated ones.

Annotation sets differ in their left/right conventions, so left/right classes
are merged (the issue's table does the same). IoU is pooled over a set
(intersections and unions summed over images), so small parts of small faces
weigh what their pixels weigh. A class absent from both the prediction and
the annotation of every image has no IoU (None) and stays out of the mean; a
class predicted where the annotation has none scores 0 (an inner mouth drawn
on a closed mouth).

    python -m app.core.measure.face_eval --truth DIR IMAGE...

reads ``DIR/<image name>.png`` (palette PNGs as ``livematte parse`` writes)
for each image, parses the image with the real models and prints the table.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# Reported class -> our class ids (DESIGN.md), left and right merged.
EVAL_CLASSES: dict[str, tuple[int, ...]] = {
    "face skin": (1,),
    "brows": (2, 3),
    "eyes": (4, 5),
    "nose": (6,),
    "upper lip": (7,),
    "inner mouth": (8,),
    "lower lip": (9,),
    "hair": (10,),
}


@dataclass
class IouTally:
    """Pooled intersections and unions per reported class."""

    intersection: dict[str, int] = field(default_factory=lambda: dict.fromkeys(EVAL_CLASSES, 0))
    union: dict[str, int] = field(default_factory=lambda: dict.fromkeys(EVAL_CLASSES, 0))

    def add(self, predicted: np.ndarray, truth: np.ndarray) -> None:
        """Adds one image's label maps (H×W class ids, same shape).

        Raises:
            ValueError: the shapes differ.
        """
        if predicted.shape != truth.shape:
            raise ValueError(f"prediction {predicted.shape} and annotation {truth.shape} differ in size")
        for name, ids in EVAL_CLASSES.items():
            p, t = np.isin(predicted, ids), np.isin(truth, ids)
            self.intersection[name] += int(np.count_nonzero(p & t))
            self.union[name] += int(np.count_nonzero(p | t))

    def ious(self) -> dict[str, float | None]:
        """Class -> IoU (None where neither side ever had the class)."""
        return {n: (self.intersection[n] / u if (u := self.union[n]) else None) for n in EVAL_CLASSES}

    def mean(self) -> float:
        """Mean IoU over the classes that have one."""
        values = [v for v in self.ious().values() if v is not None]
        return float(np.mean(values)) if values else float("nan")


def format_table(tally: IouTally) -> str:
    """A Markdown table of the per-class IoUs and their mean."""
    rows = ["| class | IoU |", "| --- | ---: |"]
    rows += [f"| {n} | {'-' if v is None else f'{v:.2f}'} |" for n, v in tally.ious().items()]
    rows.append(f"| mean | {tally.mean():.2f} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """Parses the images, compares with the annotations, prints the table.

    Raises:
        UnreadableImageError, ModelMissingError: unreadable inputs or absent weights.
    """
    from app.core.media.image_io import load_image
    from app.core.face.palette import read_label_png
    from app.core.face.parsing import load_face_parser

    args = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    args.add_argument("--truth", type=Path, required=True, help="folder with <image name>.png palette label maps")
    args.add_argument("--models-dir", type=Path, default=None)
    args.add_argument("images", nargs="+", type=Path)
    ns = args.parse_args(argv)
    parser = load_face_parser(ns.models_dir)
    tally = IouTally()
    for image in ns.images:
        predicted = parser.parse(load_image(image)).labels
        single = IouTally()
        truth = read_label_png(ns.truth / f"{image.name}.png")
        single.add(predicted, truth)
        tally.add(predicted, truth)
        print(f"{image.name}: mean IoU {single.mean():.2f}")
    print(format_table(tally))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
