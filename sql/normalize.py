"""The casefolded form of names that catalogue search seeks on."""

from __future__ import annotations

import re
import unicodedata

from sql.schema import NAME_LEN, NORM_LEN

_SPACES = re.compile(r"\s+")


def norm_name(name: str) -> str:
    """Casefolded, accents dropped, spaces collapsed: 'Beyoncé ' and 'beyonce' match."""
    decomposed = unicodedata.normalize("NFKD", name)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", stripped.casefold()).strip()[:NORM_LEN]


def clip_name(name: str) -> str:
    """Names longer than the column are cut rather than refused."""
    return name if len(name) <= NAME_LEN else name[:NAME_LEN]
