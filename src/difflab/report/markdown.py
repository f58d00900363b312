"""Markdown reports: a title, sections, and tables built from dict rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from difflab.io.atomic import atomic_write_text

__all__ = ["markdown_table", "write_report"]


def _cell(value: Any, float_format: str) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        text = format(value, float_format)
    elif hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # 0-d tensor / numpy scalar
        return _cell(value.item(), float_format)
    else:
        text = str(value)
    # A '|' would split the cell and a newline would end the row.
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    *,
    float_format: str = ".4g",
) -> str:
    """Render rows as a GitHub-flavoured markdown table.

    Args:
        rows: One mapping per row; missing keys give empty cells.
        columns: Column keys in order; default: keys in first-seen order.
        float_format: ``format()`` spec for floats.

    Returns:
        The table, ending with a newline.
    """
    if columns is None:
        columns = list(dict.fromkeys(k for row in rows for k in row))
    header = "| " + " | ".join(_cell(c, float_format) for c in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(_cell(row.get(c), float_format) for c in columns) + " |" for row in rows]
    return "\n".join([header, rule, *body]) + "\n"


def write_report(path: str | Path, title: str, sections: Sequence[tuple[str, str]]) -> Path:
    """Write a markdown report atomically.

    Args:
        path: Output ``.md`` file (image links inside sections are relative to its folder).
        title: Top-level heading.
        sections: ``(heading, markdown body)`` pairs, rendered as ``##`` sections.

    Returns:
        ``path``.
    """
    parts = [f"# {title}\n"]
    for heading, body in sections:
        parts.append(f"## {heading}\n\n{body.strip()}\n")
    path = Path(path)
    atomic_write_text(path, "\n".join(parts))
    return path
