"""A table as LaTeX (booktabs: \\toprule, \\midrule, \\bottomrule; `\\usepackage{booktabs}`),
with its notes as comments above it. Written here rather than with pandas' `to_latex`, which
needs jinja2 (not one of amodal's own dependencies) and escapes nothing by default."""

from __future__ import annotations

_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def escape(text) -> str:
    """`text` with LaTeX's special characters written so that they print as themselves."""
    return "".join(_SPECIAL.get(c, c) for c in str(text))


def comment(text: str) -> str:
    """Every line of `text` as a LaTeX comment."""
    return "".join(f"% {line}".rstrip() + "\n" for line in text.splitlines())


def booktabs(
    header: list[str],
    rows: list[list[str]],
    *,
    caption: str,
    label: str,
    notes: str = "",
    numeric: set[int] = frozenset(),
    midrule_before: set[int] = frozenset(),
) -> str:
    """A `table` float holding a booktabs `tabular`. Cells are escaped; columns whose index is in
    `numeric` are right-aligned, the others left-aligned; a \\midrule goes before every row
    index in `midrule_before` (a group of rows, or published reference rows)."""
    align = "".join("r" if k in numeric else "l" for k in range(len(header)))
    lines = [comment(notes).rstrip("\n")] if notes.strip() else []
    lines += [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{escape(caption)}}}",
        rf"\label{{{label}}}",
        rf"\begin{{tabular}}{{{align}}}",
        r"\toprule",
        " & ".join(escape(c) for c in header) + r" \\",
        r"\midrule",
    ]
    for k, row in enumerate(rows):
        if k in midrule_before and k > 0:
            lines.append(r"\midrule")
        lines.append(" & ".join(escape(c) for c in row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"
