"""Keystrokes of a keyboard-wedge scanner -> code texts, without X11.

Linux input event codes (``linux/input-event-codes.h``) for a US layout, as a
table; shift (either side) selects the second column; Ctrl+] is GS (ASCII 29,
how wedge scanners type a GS1 FNC1 separator); Enter (code 28) or keypad
Enter (96) ends a code. :class:`KeystrokeAssembler` is pure: it takes
(code, value) pairs as evdev delivers them (value 1 down, 0 up, 2 autorepeat).
"""

from __future__ import annotations

KEY_ENTER = 28
KEY_KPENTER = 96
KEY_LEFTSHIFT, KEY_RIGHTSHIFT = 42, 54
KEY_LEFTCTRL, KEY_RIGHTCTRL = 29, 97
KEY_RIGHTBRACE = 27
GS = "\x1d"
KEYPAD = frozenset([55, *range(71, 84), 98])

# code: (plain, shifted)
KEYMAP: dict[int, tuple[str, str]] = {
    2: ("1", "!"), 3: ("2", "@"), 4: ("3", "#"), 5: ("4", "$"), 6: ("5", "%"),
    7: ("6", "^"), 8: ("7", "&"), 9: ("8", "*"), 10: ("9", "("), 11: ("0", ")"),
    12: ("-", "_"), 13: ("=", "+"), 15: ("\t", "\t"),
    16: ("q", "Q"), 17: ("w", "W"), 18: ("e", "E"), 19: ("r", "R"), 20: ("t", "T"),
    21: ("y", "Y"), 22: ("u", "U"), 23: ("i", "I"), 24: ("o", "O"), 25: ("p", "P"),
    26: ("[", "{"), 27: ("]", "}"),
    30: ("a", "A"), 31: ("s", "S"), 32: ("d", "D"), 33: ("f", "F"), 34: ("g", "G"),
    35: ("h", "H"), 36: ("j", "J"), 37: ("k", "K"), 38: ("l", "L"),
    39: (";", ":"), 40: ("'", '"'), 41: ("`", "~"), 43: ("\\", "|"),
    44: ("z", "Z"), 45: ("x", "X"), 46: ("c", "C"), 47: ("v", "V"), 48: ("b", "B"),
    49: ("n", "N"), 50: ("m", "M"), 51: (",", "<"), 52: (".", ">"), 53: ("/", "?"),
    55: ("*", "*"), 57: (" ", " "),
    71: ("7", "7"), 72: ("8", "8"), 73: ("9", "9"), 74: ("-", "-"), 75: ("4", "4"),
    76: ("5", "5"), 77: ("6", "6"), 78: ("+", "+"), 79: ("1", "1"), 80: ("2", "2"),
    81: ("3", "3"), 82: ("0", "0"), 83: (".", "."), 98: ("/", "/"),
}


class KeystrokeAssembler:
    """Collects typed characters until Enter; returns the finished code text."""

    def __init__(self, max_chars: int = 4096) -> None:
        self.max_chars = max_chars
        self._buf: list[str] = []
        self._shift: set[int] = set()
        self._ctrl: set[int] = set()
        self._discarding = False  # a code overflowed: drop the rest of it
        self.overflows = 0

    def feed(self, code: int, value: int) -> str | None:
        """One key event; a completed code (Enter pressed) is returned, else None."""
        if code in (KEY_LEFTSHIFT, KEY_RIGHTSHIFT):
            (self._shift.add if value else self._shift.discard)(code)
            return None
        if code in (KEY_LEFTCTRL, KEY_RIGHTCTRL):
            (self._ctrl.add if value else self._ctrl.discard)(code)
            return None
        if value != 1:  # key up and autorepeat type nothing
            return None
        if code in (KEY_ENTER, KEY_KPENTER):
            text, self._buf = "".join(self._buf), []
            if self._discarding:
                self._discarding = False
                return None
            return text or None
        if self._ctrl:
            ch = GS if code == KEY_RIGHTBRACE else None
        else:
            pair = KEYMAP.get(code)
            ch = pair[1 if self._shift else 0] if pair else None
        if ch is None or self._discarding:
            return None
        if len(self._buf) >= self.max_chars:
            self._buf = []
            self._discarding = True
            self.overflows += 1
            return None
        self._buf.append(ch)
        return None


def assemble(events: list[tuple[int, int]], max_chars: int = 4096) -> list[str]:
    """All codes a sequence of (code, value) key events types."""
    asm = KeystrokeAssembler(max_chars)
    return [t for c, v in events if (t := asm.feed(c, v)) is not None]


def key_events_for(text: str) -> list[tuple[int, int]]:
    """The key events a wedge scanner sends to type ``text`` and Enter (for simulators/tests)."""
    reverse: dict[str, tuple[int, bool]] = {}
    for code, (plain, shifted) in KEYMAP.items():
        if code in KEYPAD:  # prefer the main block over the keypad
            continue
        reverse.setdefault(plain, (code, False))
        reverse.setdefault(shifted, (code, True))
    out: list[tuple[int, int]] = []
    for ch in text:
        if ch == GS:
            out += [(KEY_LEFTCTRL, 1), (KEY_RIGHTBRACE, 1), (KEY_RIGHTBRACE, 0), (KEY_LEFTCTRL, 0)]
            continue
        if ch not in reverse:
            raise ValueError(f"{ch!r} cannot be typed on a US keyboard")
        code, shift = reverse[ch]
        if shift:
            out.append((KEY_LEFTSHIFT, 1))
        out += [(code, 1), (code, 0)]
        if shift:
            out.append((KEY_LEFTSHIFT, 0))
    return [*out, (KEY_ENTER, 1), (KEY_ENTER, 0)]
