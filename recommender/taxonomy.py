"""Spotify micro-genres → the broad buckets a model is trained per.

Matching is on word tokens with an explicit precedence (exact names, then phrases that
consume their words, then single words, token patterns, weak words, and finally the
`others` fallback), because plain substrings misfile many genres: "reggaeton" is not
reggae, "trap" does not contain the word "rap", "funky house" is not funk. The rules are
data (`recommender/data/genre_rules.toml`, documented there) so a user can override
them with a file of the same shape.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from sql.errors import TuneclusterError

DEFAULT_RULES = Path(__file__).parent / "data" / "genre_rules.toml"
SECTIONS = ("exact", "phrases", "words", "patterns", "weak")
DISPLAY = {"edm": "EDM", "r&b": "R&B"}
MEMO_SIZE = 100_000

_SEPARATORS = re.compile(r"[\s\-_/]+")
_AMPERSAND = re.compile(r"(?<=\s)&(?=\s)")


class TaxonomyError(TuneclusterError):
    """A genre rules file that cannot be used; the message names the file and entry."""


def display(bucket: str) -> str:
    """How a bucket is shown to people ("edm" → "EDM", "hip hop" stays)."""
    return DISPLAY.get(bucket, bucket)


def normalise(genre: str) -> str:
    """Lower case, separators to spaces, a free-standing "&" to "and" ("r&b" stays)."""
    text = _AMPERSAND.sub("and", f" {str(genre).lower()} ")
    return " ".join(_SEPARATORS.split(text)).strip()


@dataclass(frozen=True)
class Taxonomy:
    """Rules mapping a genre string to one or more buckets (picklable, kept in bundles)."""

    buckets: tuple[str, ...]
    fallback: str
    exact: Mapping[str, tuple[str, ...]]
    phrases: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]  # longest first
    words: Mapping[str, tuple[str, ...]]
    patterns: tuple[tuple[str, tuple[str, ...]], ...]
    weak: Mapping[str, tuple[str, ...]]
    source: str = "default"
    _compiled: dict = field(default_factory=dict, compare=False, repr=False)
    _memo: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def all_buckets(self) -> tuple[str, ...]:
        """Every bucket a genre can land in, `others` last."""
        return (*self.buckets, self.fallback)

    def buckets_for(self, genre: str) -> tuple[str, ...]:
        """The buckets of one genre string, in rule order, never empty (memoised: serving
        files the same few thousand genres over and over)."""
        found = self._memo.get(genre)
        if found is None:
            found = _match(self, normalise(genre))
            if len(self._memo) < MEMO_SIZE:
                self._memo[genre] = found
        return found

    def track_buckets(self, genres: Iterable[str]) -> tuple[str, ...]:
        """The buckets of a track: every bucket of any of its genres (the genres it is filed
        by: its own where it has any, else its artists').

        Empty when the track has no genre at all (it then belongs to no bucket; `others`
        is for genres that match no rule, not for missing genres).
        """
        found: dict[str, None] = {}
        for genre in genres:
            for bucket in self.buckets_for(genre):
                found[bucket] = None
        order = {b: i for i, b in enumerate(self.all_buckets)}
        return tuple(sorted(found, key=lambda b: order.get(b, len(order))))

    def mapping(self, genres: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """genre → buckets for many genres (for the genre_bucket table and reports)."""
        return {g: self.buckets_for(g) for g in dict.fromkeys(genres)}

    def to_dict(self) -> dict[str, Any]:
        """The rules as plain data (stored in a bundle's metadata)."""
        return {
            "source": self.source,
            "buckets": list(self.buckets),
            "fallback": self.fallback,
            "exact": {k: list(v) for k, v in self.exact.items()},
            "phrases": {" ".join(k): list(v) for k, v in self.phrases},
            "words": {k: list(v) for k, v in self.words.items()},
            "patterns": {k: list(v) for k, v in self.patterns},
            "weak": {k: list(v) for k, v in self.weak.items()},
        }


def _match(tax: Taxonomy, genre: str) -> tuple[str, ...]:
    if not genre:
        return (tax.fallback,)
    if genre in tax.exact:
        return tax.exact[genre] or (tax.fallback,)
    tokens = genre.split()
    used = [False] * len(tokens)
    found: dict[str, None] = {}
    for phrase, buckets in tax.phrases:
        width = len(phrase)
        for start in range(len(tokens) - width + 1):
            end = start + width
            if tuple(tokens[start:end]) == phrase and not any(used[start:end]):
                used[start:end] = [True] * width
                found.update(dict.fromkeys(buckets))
    matched_any = any(used)
    rest = [t for t, u in zip(tokens, used, strict=True) if not u]
    for token in rest:
        buckets = tax.words.get(token)
        if buckets is None:
            buckets = next((b for p, b in tax.patterns if _regex(tax, p).fullmatch(token)), None)
        if buckets is not None:
            matched_any = True
            found.update(dict.fromkeys(buckets))
    if not matched_any:
        for token in rest:
            if token in tax.weak:
                found.update(dict.fromkeys(tax.weak[token]))
    return tuple(found) or (tax.fallback,)


def _regex(tax: Taxonomy, pattern: str) -> re.Pattern:
    compiled = tax._compiled.get(pattern)
    if compiled is None:
        compiled = tax._compiled[pattern] = re.compile(pattern)
    return compiled


# --- loading ----------------------------------------------------------------------------------


def load(override: Path | str | None = None) -> Taxonomy:
    """The default rules, merged with a user's file when given (its entries win)."""
    if override is None:
        return _default()
    path = Path(override)
    raw = _read(path)
    base = {} if raw.get("replace") else _read(DEFAULT_RULES)
    return _build(_merge(base, raw), source=str(path))


@lru_cache(maxsize=1)
def _default() -> Taxonomy:
    return _build(_read(DEFAULT_RULES), source="default")


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise TaxonomyError(f"genre map file {path} does not exist") from None
    except tomllib.TOMLDecodeError as error:
        raise TaxonomyError(f"genre map file {path} is not valid TOML: {error}") from None
    except OSError as error:
        raise TaxonomyError(f"cannot read genre map file {path}: {error.strerror}") from None


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {
        "buckets": list(dict.fromkeys([*base.get("buckets", []), *extra.get("buckets", [])])),
        "fallback": extra.get("fallback", base.get("fallback", "others")),
    }
    for section in SECTIONS:
        # The override's entries come first and win: for phrases and patterns the order
        # is the precedence.
        table = dict(extra.get(section, {}))
        for key, value in base.get(section, {}).items():
            table.setdefault(key, value)
        merged[section] = table
    return merged


def _build(raw: dict[str, Any], *, source: str) -> Taxonomy:
    buckets = tuple(str(b) for b in raw.get("buckets", []))
    fallback = str(raw.get("fallback", "others"))
    if not buckets:
        raise TaxonomyError(f"genre rules from {source}: no buckets declared")
    known = {*buckets, fallback}

    def targets(section: str, key: str, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise TaxonomyError(
                f"genre rules from {source}: [{section}] {key!r} must be a list of bucket names"
            )
        unknown = [v for v in value if v not in known]
        if unknown:
            raise TaxonomyError(
                f"genre rules from {source}: [{section}] {key!r} names unknown bucket "
                f"{unknown[0]!r} (known: {', '.join(sorted(known))})"
            )
        return tuple(v for v in value if v != fallback)

    def section(name: str) -> dict[str, tuple[str, ...]]:
        table = raw.get(name, {})
        if not isinstance(table, dict):
            raise TaxonomyError(f"genre rules from {source}: [{name}] must be a table")
        return {
            normalise(k) if name != "patterns" else k: targets(name, k, v) for k, v in table.items()
        }

    phrases = section("phrases")
    ordered = sorted(phrases.items(), key=lambda kv: -len(kv[0].split()))  # stable: file order
    patterns = section("patterns")
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as error:
            raise TaxonomyError(
                f"genre rules from {source}: [patterns] {pattern!r} is not a regular expression: {error}"
            ) from None
    return Taxonomy(
        buckets=buckets,
        fallback=fallback,
        exact=section("exact"),
        phrases=tuple((tuple(k.split()), v) for k, v in ordered),
        words=section("words"),
        patterns=tuple(patterns.items()),
        weak=section("weak"),
        source=source,
    )
