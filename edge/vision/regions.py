"""Candidate regions: where in a frame a code probably is, found cheaply.

The costly passes (upscaling above all) cannot afford a whole 1280x720 frame
inside the time budget, so they run on a few boxes instead: gradient energy on
a small copy of the image, Otsu threshold, morphological closing to merge the
bars or modules of one symbol, the largest blobs padded by a margin.
"""

from __future__ import annotations

import numpy as np

from edge.vision.decode import Image

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in the image's pixels

WORK_WIDTH = 320  # the small copy the search runs on


def candidate_regions(grey: Image, max_regions: int = 2, min_area: float = 0.004) -> list[Box]:
    """Up to ``max_regions`` padded boxes, largest first; ``[]`` when nothing stands out."""
    import cv2

    h, w = grey.shape
    f = min(1.0, WORK_WIDTH / w)
    small = grey if f == 1.0 else cv2.resize(grey, (max(1, round(w * f)), max(1, round(h * f))),
                                             interpolation=cv2.INTER_AREA)
    gx = cv2.Sobel(small, cv2.CV_16S, 1, 0, ksize=3)
    gy = cv2.Sobel(small, cv2.CV_16S, 0, 1, ksize=3)
    mag = cv2.addWeighted(cv2.convertScaleAbs(gx), 0.5, cv2.convertScaleAbs(gy), 0.5, 0)
    mag = cv2.blur(mag, (5, 5))
    _, mask = cv2.threshold(mag, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 9)))
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5)))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    sh, sw = small.shape
    boxes = []
    for c in contours:
        x, y, bw, bh = cv2.boundingRect(c)
        if bw * bh >= min_area * sw * sh:
            boxes.append((bw * bh, x, y, bw, bh))
    boxes.sort(reverse=True)
    out: list[Box] = []
    for _, x, y, bw, bh in boxes[:max_regions]:
        pad = max(4, round(0.15 * max(bw, bh)))
        x0, y0 = max(0, x - pad), max(0, y - pad)
        x1, y1 = min(sw, x + bw + pad), min(sh, y + bh + pad)
        out.append((int(x0 / f), int(y0 / f), min(w, int(np.ceil(x1 / f))), min(h, int(np.ceil(y1 / f)))))
    return out
