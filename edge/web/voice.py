"""The kiosk's spoken results: a few fixed Chinese sentences rendered offline by espeak-ng.

In a noisy kitchen a result shown on screen is easy to miss, so the kiosk page
plays a tone (made in the browser, WebAudio) and one short sentence. The
sentences are a fixed set (``PHRASES``): the station renders each once with
espeak-ng's Mandarin voice into ``<data_dir>/voice/`` the first time the page
asks for it (a WAV of a few dozen KiB; the file name carries a hash of the text,
voice and speed, so a config change renders anew) and serves it from
there. No text from a request is ever spoken, and nothing leaves the station.
Without espeak-ng the page plays the tones alone (``available`` is false).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import threading
from pathlib import Path

from pydantic import Field

from core import log
from core.config import Section

logger = logging.getLogger("edge.web.voice")

PHRASES = {
    "accepted": "合格，已验收",
    "overweight": "超重，请取出多余部分后重称",
    "too_warm": "温度过高，可复测一次",
    "return": "不合格，请退回供应商",
}


class SoundSection(Section):
    volume: int = Field(default=80, ge=0, le=100,
                        description="Loudness of the result tones and voice, 0 (silent) to 100.")
    voice: bool = Field(default=True,
                        description="Speak a short Chinese sentence with each result (espeak-ng).")
    espeak_voice: str = Field(default="cmn", pattern=r"^[a-z-]{2,20}$",
                              description="espeak-ng voice of the sentences (cmn: Mandarin).")
    speed_wpm: int = Field(default=150, ge=80, le=300,
                           description="Speaking speed of the sentences, words per minute.")


class VoiceClips:
    """Renders and caches the WAV of each phrase; ``path(key)`` or None when none can be made."""

    def __init__(self, cfg: SoundSection, directory: Path, espeak: str | None = None) -> None:
        self.cfg = cfg
        self.dir = directory
        self.espeak = espeak or shutil.which("espeak-ng")
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return self.cfg.voice and self.espeak is not None

    def _file(self, key: str) -> Path:
        c = self.cfg
        tag = f"{PHRASES[key]}|{c.espeak_voice}|{c.speed_wpm}".encode()
        return self.dir / f"{key}-{hashlib.sha256(tag).hexdigest()[:12]}.wav"

    def path(self, key: str) -> Path | None:
        if key not in PHRASES or not self.available:
            return None
        target = self._file(key)
        with self._lock:  # one render at a time; a second request finds the file
            if target.exists():
                return target
            self.dir.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".tmp")
            # espeak-ng's amplitude is 0-200 (100 normal); the page scales playback by volume too.
            cmd = [str(self.espeak), "-v", self.cfg.espeak_voice, "-s", str(self.cfg.speed_wpm),
                   "-a", "100", "-w", str(tmp), PHRASES[key]]
            try:
                subprocess.run(cmd, check=True, capture_output=True, timeout=20)
                os.replace(tmp, target)
            except (OSError, subprocess.SubprocessError) as exc:
                log.kv(logger, logging.WARNING, "voice not rendered", phrase=key, error=repr(exc))
                tmp.unlink(missing_ok=True)
                return None
        return target
