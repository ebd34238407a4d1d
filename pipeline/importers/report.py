"""What an import took and what it left: the report every importer fills in.

Rows the source had are `rows_read`; each catalogue table gets inserted / updated /
unchanged counts (so a rerun shows zero inserted and zero updated); rows that could not
be used are `skipped` by reason with a few examples. Notes say what a reader of the
numbers must know (for example that genres came from playlist subgenres).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

EXAMPLES_PER_REASON = 3


@dataclass
class TableCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def written(self) -> int:
        return self.inserted + self.updated + self.unchanged


@dataclass
class ImportReport:
    format: str
    path: str
    rows_read: int = 0
    tables: dict[str, TableCounts] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    files: dict[str, int] = field(default_factory=dict)  # path -> rows read

    def skip(self, reason: str, example: Any = None, count: int = 1) -> None:
        """Count `count` rows skipped for `reason`, keeping a few examples."""
        self.skipped[reason] += count
        if example is not None:
            kept = self.examples.setdefault(reason, [])
            if len(kept) < EXAMPLES_PER_REASON:
                kept.append(str(example)[:200])

    def note(self, text: str) -> None:
        self.notes.append(text)

    def table(self, name: str) -> TableCounts:
        return self.tables.setdefault(name, TableCounts())

    @property
    def rows_skipped(self) -> int:
        return sum(self.skipped.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "path": self.path,
            "files": self.files,
            "rows_read": self.rows_read,
            "rows_skipped": self.rows_skipped,
            "tables": {
                name: {
                    "inserted": c.inserted,
                    "updated": c.updated,
                    "unchanged": c.unchanged,
                }
                for name, c in self.tables.items()
            },
            "skipped": [
                {"reason": reason, "rows": n, "examples": self.examples.get(reason, [])}
                for reason, n in self.skipped.most_common()
            ],
            "notes": self.notes,
        }

    def summary(self) -> str:
        """One line for logs and the source_file record."""
        written = ", ".join(
            f"{name} +{c.inserted} ~{c.updated}" for name, c in self.tables.items() if c.written
        )
        return f"{self.rows_read} rows read, {self.rows_skipped} skipped; {written}"
