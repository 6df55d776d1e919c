"""A bench's own section of ``docs/benchmarks.md``, between its start and end markers."""
from __future__ import annotations

from pathlib import Path


def replace_marked(path: Path, section: str, start: str, end: str) -> None:
    """Writes ``section`` between ``start`` and ``end`` in ``path`` (appended when not there yet);
    the rest of the file is left as it is."""
    old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    block = f"{start}\n{section.strip()}\n{end}"
    if start in old and end in old:
        new = old[:old.index(start)] + block + old[old.index(end) + len(end):]
    else:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(new, encoding="utf-8")
