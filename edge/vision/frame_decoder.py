"""What the worker and the CLI call per frame: preprocessing, then the ensemble or plain decoders.

Apart from ``edge.vision.decode`` (the decoder engines and frame geometry) so the
ensemble, which builds on those engines, sits between the two without a cycle.
"""

from __future__ import annotations

from typing import Any

import numpy.typing as npt

from edge.vision.config import DecoderSection
from edge.vision.decode import Decoded, Decoder, Image, make_decoders, preprocess, to_frame_coords
from edge.vision.ensemble import Ensemble


class FrameDecoder:
    """Preprocess + decode, as configured: what the worker and the CLI call per frame.

    With ``decoder.ensemble`` (the default, zxing backend) the frame goes to
    :class:`edge.vision.ensemble.Ensemble`; ``strategy`` ``alternate`` (the live
    camera) lets its passes continue on the next frame, ``fallback`` (one still
    image) tries them all within the budget. Without the ensemble, several zxing
    binarizers share the work the same way: ``alternate`` uses the next one on
    each call, ``fallback`` tries them in order until one finds a code.
    """

    def __init__(
        self, cfg: DecoderSection, backend: str | None = None, strategy: str | None = None
    ) -> None:
        self.cfg = cfg
        self.strategy = strategy or cfg.strategy
        backend = backend or cfg.backend
        self.ensemble: Ensemble | None = None
        self.decoders: list[Decoder] = []
        if cfg.ensemble and backend == "zxing":
            self.ensemble = Ensemble(cfg.formats, cfg.passes, cfg.budget_ms,
                                     live=self.strategy == "alternate")
        else:
            self.decoders = make_decoders(backend, cfg.formats, cfg.binarizers)
        self._calls = 0

    def _plain(self, grey: Image) -> list[Decoded]:
        if self.strategy == "alternate":
            dec = self.decoders[self._calls % len(self.decoders)]
            self._calls += 1
            return [Decoded(d.format, d.text, d.corners, dec.name) for d in dec.decode(grey)]
        for dec in self.decoders:
            found = dec.decode(grey)
            if found:
                return [Decoded(d.format, d.text, d.corners, dec.name) for d in found]
        return []

    def __call__(self, frame: npt.NDArray[Any]) -> list[Decoded]:
        """Codes in ``frame``, outlines in the frame's own pixels, ``via`` the pass that read each."""
        grey = preprocess(frame, self.cfg.roi, self.cfg.max_width)
        found = self.ensemble.decode(grey) if self.ensemble is not None else self._plain(grey)
        return to_frame_coords(found, frame.shape, self.cfg.roi, self.cfg.max_width)
