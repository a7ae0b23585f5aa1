"""What a refusal may quote from an envelope: codes yes, free text no.

An envelope is hostile input, and any of its strings may be a citizen's name or address. Error messages
must name what and where (the project's rule 2) without carrying a personal value (rule 5), so a value read
from an envelope is quoted only when it looks like a code, a state or a trigger, and the texts of the
parser and the schema validator, which quote the input they choke on, have those quotes withheld. ID and
phone numbers that look like codes are masked when any ``ProcflowError`` is printed.
"""

from __future__ import annotations

import re

__all__ = ["redacted", "shown"]

_CODE_LIKE = re.compile(r"[\w.:@/+,\-]{1,80}", re.ASCII)
_QUOTED_VALUE = re.compile(r"""(: |value )(?:'([^']*)'|"([^"]*)")""")


def shown(value: object, *, quote: bool = True) -> str:
    """``value`` (quoted unless ``quote=False``) when it looks like a code, state or trigger (ASCII, no
    spaces); otherwise only its length — free text from an envelope may be a citizen's name or address."""
    text = "" if value is None else str(value)
    if _CODE_LIKE.fullmatch(text):
        return repr(text) if quote else text
    return f"(a value of {len(text)} characters, not shown)"


def redacted(text: str) -> str:
    """A parser's or the schema validator's message with the input values it quotes withheld (see
    :func:`shown`): ``'x' is not a valid value``, ``The value 'x'``, ``invalid literal …: 'x'``."""
    return _QUOTED_VALUE.sub(lambda m: m.group(1) + shown(m.group(2) if m.group(2) is not None else m.group(3)),
                             text)
