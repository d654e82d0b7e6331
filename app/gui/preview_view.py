"""The live preview: paints RGB/RGBA frames aspect-correct, with a checkerboard under transparency."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget


def _checkerboard(cell: int = 12) -> QPixmap:
    tile = QPixmap(2 * cell, 2 * cell)
    tile.fill(QColor(204, 204, 204))
    painter = QPainter(tile)
    painter.fillRect(0, 0, cell, cell, QColor(153, 153, 153))
    painter.fillRect(cell, cell, cell, cell, QColor(153, 153, 153))
    painter.end()
    return tile


def to_qimage(image: np.ndarray) -> QImage:
    """Wraps an RGB/RGBA uint8 array without copying; the array must outlive the QImage."""
    height, width = image.shape[:2]
    fmt = QImage.Format.Format_RGBA8888 if image.shape[2] == 4 else QImage.Format.Format_RGB888
    return QImage(image.data, width, height, image.strides[0], fmt)


class PreviewView(QWidget):
    """Shows the newest processed frame; keeps a reference to its pixels while shown."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 180)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # a click on the picture gives the shortcuts back
        self._pixels: np.ndarray | None = None
        self._image: QImage | None = None
        self._checker = _checkerboard()
        self._message = "No source. Open a camera, a video or an image, or drop a file here."

    def sizeHint(self) -> QSize:
        return QSize(960, 540)

    def show_frame(self, image: np.ndarray) -> None:
        self._pixels = image
        self._image = to_qimage(image)
        self.update()

    def show_message(self, text: str) -> None:
        self._pixels = self._image = None
        self._message = text
        self.update()

    def image_rect(self) -> QRect:
        """Where the frame is painted: as large as fits, aspect kept, centred."""
        if self._image is None:
            return QRect()
        size = self._image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        x = (self.width() - size.width()) // 2
        y = (self.height() - size.height()) // 2
        return QRect(x, y, size.width(), size.height())

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(32, 32, 36))
        if self._image is None:
            painter.setPen(QColor(200, 200, 200))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._message)
            return
        target = self.image_rect()
        if self._image.hasAlphaChannel():
            painter.drawTiledPixmap(target, self._checker)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(target, self._image)
