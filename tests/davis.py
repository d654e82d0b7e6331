"""A tiny annotated clip in DAVIS layout, generated: the red 'person' of the tiny models moving."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from tests.tiny_models import person_image


def write_davis(root: Path, sequences: dict[str, int] | None = None, width: int = 160, height: int = 96,
                step: int = 3) -> Path:
    """``root/JPEGImages/480p/<seq>/00000.jpg`` and ``Annotations/480p/<seq>/00000.png`` per frame.

    The person moves ``step`` px right a frame; its mask is exactly the red
    region (where the tiny models put alpha above 0.5).
    """
    for name, count in (sequences or {"walk": 6}).items():
        images = root / "JPEGImages" / "480p" / name
        masks = root / "Annotations" / "480p" / name
        images.mkdir(parents=True)
        masks.mkdir(parents=True)
        base = person_image(width, height)
        for i in range(count):
            frame = np.roll(base, step * i - step * count // 2, axis=1)
            mask = np.where(frame[..., 0] > 150, 255, 0).astype(np.uint8)
            cv2.imwrite(str(images / f"{i:05d}.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                        [cv2.IMWRITE_JPEG_QUALITY, 95])
            cv2.imwrite(str(masks / f"{i:05d}.png"), mask)
    return root
