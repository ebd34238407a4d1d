"""Queries live in `sql/`: no module above it builds a statement or names a table."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.environment import ROOT

ABOVE_SQL = ("bot", "pipeline", "recommender")
# What code above sql/ may import from SQLAlchemy and from the schema: the connection
# type that queries take, and the feature list (a fact about the data, not a query).
ALLOWED = {
    "sqlalchemy.ext.asyncio": {"AsyncConnection"},
    "sql.schema": {"FEATURE_COLUMNS", "INTEGER_FEATURES", "CONTINUOUS_FEATURES"},
    "sql.upsert": {"chunked"},
}


def _imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) of every import in the file, `import x` as (x, "*")."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, "*") for alias in node.names]
    return found


def test_no_query_text_outside_sql() -> None:
    offending = []
    for package in ABOVE_SQL:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            for module, imported in _imports(path):
                watched = module.startswith("sqlalchemy") or module in ("sql.schema", "sql.upsert")
                if watched and imported not in ALLOWED.get(module, set()):
                    offending.append(f"{name}: {module}.{imported}")
                if module == "sql" and imported in ("schema", "upsert"):
                    offending.append(f"{name}: sql.{imported}")
    assert not offending, "query building outside sql/:\n" + "\n".join(offending)
