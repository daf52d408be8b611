"""Griffe extension: render tinysiam's docstrings as Markdown on the API page (docs/api.md).

The docstrings are written for a reader of the source (Google style, with ``>>>`` examples and a
few Sphinx roles). Three things in them would render badly as Markdown, and are rewritten here
when mkdocstrings loads them (the source files are not touched):

* ``>>>`` example lines (and their ``...`` continuations and printed output) become fenced
  ``pycon`` blocks; as bare text, Markdown reads ``>`` as a quote;
* Sphinx roles such as ``:mod:`tinysiam.autograd``` become plain code spans;
* a ``*`` between two word characters (``C*H*W``) is escaped, so it stays a multiplication
  instead of starting italics;
* a reStructuredText simple table (rows between ``=====  =====`` rules) is kept as preformatted
  text, aligned as written.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:mod|class|func|meth|data|attr|obj):`~?([^`]+)`")
PRODUCT_STAR = re.compile(r"(?<=[\w)])\*(?=[\w(])")
TABLE_RULE = re.compile(r"^\s*=+(\s+=+)+\s*$")


def rewrite(text: str) -> str:
    lines, out, k = text.split("\n"), [], 0
    in_fence = False
    while k < len(lines):
        line = lines[k]
        stripped = line.lstrip()
        if stripped.startswith("```"):
            in_fence = not in_fence
        if in_fence or stripped.startswith("```"):
            out.append(line)
            k += 1
            continue
        if stripped.startswith(">>>"):
            indent = line[: len(line) - len(stripped)]
            out.append(f"{indent}```pycon")
            while k < len(lines) and lines[k].strip():  # the example runs to the next blank line
                out.append(lines[k])
                k += 1
            out.append(f"{indent}```")
            continue
        if TABLE_RULE.match(line):  # top rule, header, rule, rows, bottom rule
            indent = line[: len(line) - len(stripped)]
            rules = 0
            out.append(f"{indent}```text")
            while k < len(lines) and rules < 3:
                rules += bool(TABLE_RULE.match(lines[k]))
                out.append(lines[k])
                k += 1
            out.append(f"{indent}```")
            continue
        out.append(_prose(line))
        k += 1
    return "\n".join(out)


def _prose(line: str) -> str:
    """Roles to code spans; escape product stars outside code spans."""
    line = ROLE.sub(r"`\1`", line)
    parts = line.split("`")
    parts[::2] = [PRODUCT_STAR.sub(r"\\*", part) for part in parts[::2]]
    return "`".join(parts)


class MarkdownDocstrings(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)
