"""Loading and validating classifications from CSV files, data frames and code lists.

Validation collects every problem with its line number (duplicate codes, missing parents,
cycles, levels that disagree with the parent) so a methodologist can fix a file in one pass.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from statcoder.classifications.tree import Classification
from statcoder.errors import ClassificationError, InputError
from statcoder.text.normalise import as_text

REQUIRED = ("code", "parent")


@dataclass(frozen=True)
class Problem:
    """One problem found in a classification file: where, which code, what is wrong."""

    line: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True)
class _Row:
    line: int
    code: str
    parent: str
    level: str
    title: str
    level_name: str


def _read_rows(path: Path) -> tuple[list[_Row], list[str]]:
    if not path.is_file():
        raise InputError(
            f"classification file not found: {path}", hint="give the path of a CSV with code,title,level,parent"
        )
    delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            header = [h.strip().lower() for h in next(reader, [])]
            missing = [c for c in REQUIRED if c not in header]
            if missing:
                raise ClassificationError(
                    f"classification file lacks column(s) {', '.join(missing)}",
                    where=f"{path}: line 1 (header: {', '.join(header) or 'empty'})",
                    hint="the file needs columns code,title,level,parent; for codes whose prefixes "
                    "form the hierarchy use Classification.from_codes / --code-prefix-hierarchy",
                )
            idx = {name: header.index(name) for name in header}
            rows: list[_Row] = []
            line = 2
            for record in reader:
                start = line
                line = reader.line_num + 1
                if not any(cell.strip() for cell in record):
                    continue

                def get(col: str, record: list[str] = record) -> str:
                    i = idx.get(col)
                    return record[i].strip() if i is not None and i < len(record) else ""

                rows.append(_Row(start, get("code"), get("parent"), get("level"), get("title"), get("level_name")))
    except UnicodeDecodeError as exc:
        raise InputError(
            f"classification file is not UTF-8 text ({exc.reason} at byte {exc.start})",
            where=str(path),
            hint="save the file as UTF-8 CSV",
        ) from None
    return rows, header


def check_rows(rows: Sequence[_Row]) -> list[Problem]:
    """Return every problem in the rows: empty/duplicate codes, bad levels, missing parents, cycles."""
    problems: list[Problem] = []
    first_line: dict[str, int] = {}
    for row in rows:
        if not row.code:
            problems.append(Problem(row.line, "", "empty code"))
        elif row.code in first_line:
            problems.append(
                Problem(row.line, row.code, f"duplicate code {row.code!r} (first on line {first_line[row.code]})")
            )
        else:
            first_line[row.code] = row.line
    by_code = {r.code: r for r in rows if r.code}
    for row in rows:
        if row.level and not row.level.isdigit():
            problems.append(Problem(row.line, row.code, f"level {row.level!r} of {row.code!r} is not a whole number"))
        if row.parent and row.parent not in by_code:
            problems.append(Problem(row.line, row.code, f"parent {row.parent!r} of {row.code!r} is not in the file"))
        if row.parent == row.code and row.code:
            problems.append(Problem(row.line, row.code, f"code {row.code!r} is its own parent"))
    # cycles: walk up from every code; meeting a code already on the current path closes a cycle
    reported: set[frozenset[str]] = set()
    acyclic: set[str] = set()
    line_of = {r.code: r.line for r in rows if r.code}
    for row in rows:
        path: list[str] = []
        current = row.code
        while current and current in by_code and current not in acyclic:
            if current in path:
                cycle = path[path.index(current):]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    first = min(cycle, key=line_of.__getitem__)
                    problems.append(Problem(line_of[first], first, f"cycle in parents: {' -> '.join([*cycle, current])}"))
                break
            path.append(current)
            current = by_code[current].parent
        else:
            acyclic.update(path)
    if reported:
        return sorted(problems, key=lambda p: p.line)
    # levels must be the parent's level + 1 (top level = 1); computed depth is the truth
    depth: dict[str, int] = {}
    for row in rows:
        chain, current = [], row.code
        while current in by_code and current not in depth:
            chain.append(current)
            current = by_code[current].parent
        base = depth.get(current, 0)
        for code in reversed(chain):
            base += 1
            depth[code] = base
    for row in rows:
        if (row.code and row.level.isdigit() and row.code in depth and row.parent != row.code
                and int(row.level) != depth[row.code] and (not row.parent or row.parent in by_code)):
            problems.append(
                Problem(
                    row.line,
                    row.code,
                    f"level {row.level} of {row.code!r} does not match its place in the tree "
                    f"(parent {row.parent or 'none'} -> level {depth[row.code]})",
                )
            )
    return sorted(problems, key=lambda p: p.line)


def _build(rows: Sequence[_Row], *, name: str, version: str, source: str) -> Classification:
    problems = check_rows(rows)
    if not rows:
        raise ClassificationError("the classification has no codes", where=source, hint="check the file")
    if problems:
        shown = "; ".join(str(p) for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise ClassificationError(
            f"{len(problems)} problem(s) in the classification: {shown}{more}",
            where=source,
            hint=f"run `statcoder classification check {source}` for the full list and fix the file",
        )
    by_code = {r.code: r for r in rows}
    levels: dict[str, int] = {}
    for row in rows:
        chain, current = [], row.code
        while current and current not in levels:
            chain.append(current)
            current = by_code[current].parent
        base = levels.get(current, 0) if current else 0
        for code in reversed(chain):
            base += 1
            levels[code] = base
    level_names = {}
    for row in rows:
        if row.level_name:
            level_names.setdefault(levels[row.code], row.level_name)
    return Classification(
        name=name,
        version=version,
        codes=[r.code for r in rows],
        parents={r.code: r.parent or None for r in rows},
        levels=levels,
        titles={r.code: r.title for r in rows},
        level_names=level_names,
    )


def classification_from_csv(path: str | Path, *, name: str | None = None, version: str = "") -> Classification:
    """Load and validate a classification CSV; raises ClassificationError listing the problems."""
    path = Path(path)
    rows, _ = _read_rows(path)
    return _build(rows, name=name or path.stem, version=version, source=str(path))


def check_file(path: str | Path) -> tuple[Classification | None, list[Problem]]:
    """Check a classification file: returns (the classification or None, the problems found)."""
    path = Path(path)
    rows, _ = _read_rows(path)
    problems = check_rows(rows)
    if problems or not rows:
        return None, problems or [Problem(1, "", "the file has no codes")]
    return _build(rows, name=path.stem, version="", source=str(path)), []


def classification_from_frame(frame, *, name: str, version: str = "", source: str = "<frame>") -> Classification:
    """Validate and build a classification from a DataFrame (columns code, parent[, level, title])."""
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ClassificationError(
            f"classification table lacks column(s) {', '.join(missing)}", where=source, hint="add code,parent columns"
        )

    def col(name: str) -> list[str]:
        if name not in frame.columns:
            return [""] * len(frame)
        return [as_text(v).strip() for v in frame[name].tolist()]

    rows = [
        _Row(i + 2, c, p, lv, t, ln)
        for i, (c, p, lv, t, ln) in enumerate(
            zip(col("code"), col("parent"), col("level"), col("title"), col("level_name"), strict=True)
        )
    ]
    return _build(rows, name=name, version=version, source=source)


def classification_from_codes(
    codes: Iterable[str],
    *,
    name: str,
    titles: Mapping[str, str] | None = None,
    prefix_lengths: Sequence[int] | None = None,
    version: str = "",
) -> Classification:
    """Build a tree from codes whose prefixes are their ancestors.

    ``prefix_lengths`` gives the code length at each level, e.g. (1, 2, 3, 4) for UK SOC; by
    default every prefix length from 1 to the longest code. Missing ancestors are created
    (titled from ``titles`` when given). Returns the Classification.
    """
    leaf_codes = sorted({str(c).strip() for c in codes if str(c).strip()})
    if not leaf_codes:
        raise ClassificationError("no codes given to build a classification from", hint="check the code column")
    lengths = sorted(set(prefix_lengths or range(1, max(len(c) for c in leaf_codes) + 1)))
    bad = [c for c in leaf_codes if len(c) not in lengths]
    if bad:
        raise ClassificationError(
            f"{len(bad)} code(s) have a length that is not a level of the hierarchy, e.g. {bad[:3]}",
            hint=f"codes must be {', '.join(map(str, lengths))} characters long; pad with leading zeros",
        )
    titles = titles or {}
    all_codes: dict[str, tuple[str | None, int]] = {}
    for code in leaf_codes:
        parent: str | None = None
        for lvl, n in enumerate(lengths, start=1):
            if n > len(code):
                break
            prefix = code[:n]
            all_codes.setdefault(prefix, (parent, lvl))
            parent = prefix
    ordered = sorted(all_codes)
    return Classification(
        name=name,
        version=version,
        codes=ordered,
        parents={c: all_codes[c][0] for c in ordered},
        levels={c: all_codes[c][1] for c in ordered},
        titles={c: titles.get(c, "") for c in ordered},
    )
