"""The casefolded form of names that catalogue search seeks on."""

from __future__ import annotations

import re
import unicodedata

from sql.schema import NAME_LEN, NORM_LEN

_SPACES = re.compile(r"\s+")
# Combining diacritical marks (the blocks NFKD splits accents into).
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def norm_name(name: str) -> str:
    """Casefolded, accents dropped, spaces collapsed: 'Beyoncé ' and 'beyonce' match."""
    if name.isascii():  # the common case, ten times cheaper
        return " ".join(name.lower().split())[:NORM_LEN]
    stripped = _MARKS.sub("", unicodedata.normalize("NFKD", name))
    return _SPACES.sub(" ", stripped.casefold()).strip()[:NORM_LEN]


def clip_name(name: str) -> str:
    """Names longer than the column are cut rather than refused."""
    return name if len(name) <= NAME_LEN else name[:NAME_LEN]
