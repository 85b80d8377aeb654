"""Text from articles, file names and questions, made safe to print on a terminal.

A terminal obeys the control characters it is sent: a title holding ESC ] 0 ; ... BEL renames
the window, ESC [ 2 J clears the screen, and bidirectional overrides make text read in another
order than it is stored. What factdesk prints shows such characters escaped (`\\x1b`) instead.
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls (0x9b opens a sequence in 8-bit terminals)
# and the invisible marks that reorder bidirectional text.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_OR_LINE = re.compile(_UNSAFE.pattern[:-1] + "\t\n]")


def printable(text: str, lines: bool = True) -> str:
    """`text` with its control characters escaped; with `lines` False, its tabs and line breaks
    too, so that it stays one line (a file name in a warning)."""
    return (_UNSAFE if lines else _UNSAFE_OR_LINE).sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_json_controls(line: str) -> str:
    """A JSON text with the C1 controls and direction marks its strings hold escaped as \\u
    sequences (json.dumps escapes the C0 ones itself); the value it reads as is the same."""
    return _UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", line)
