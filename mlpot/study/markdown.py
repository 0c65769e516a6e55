"""Markdown pieces shared by the parts of a study's report."""

from typing import List


def table(header: List[str], rows: List[List[str]]) -> List[str]:
    """The lines of a Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]
