"""Editing a course workspace as a learner would: one function's body written anew."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

from tinysiam.course import workspace


def replace_body(path: Path, qualname: str, body: str) -> None:
    """Write ``body`` in place of the body of ``qualname`` in ``path`` (its docstring is kept).

    ``body`` may be indented as in the test that holds it: it is dedented, then indented to the
    function's own depth.
    """
    source = path.read_text()
    function = workspace.find_function(ast.parse(source), qualname)
    assert function is not None, f"{qualname} not in {path}"
    first = (
        function.body[1]
        if len(function.body) > 1 and isinstance(function.body[0], ast.Expr)
        else function.body[0]
    )
    lines = source.splitlines(keepends=True)
    indent = " " * first.col_offset
    text = textwrap.indent(textwrap.dedent(body).strip("\n") + "\n", indent)
    lines[first.lineno - 1 : function.body[-1].end_lineno] = [text]
    path.write_text("".join(lines))
