"""MkDocs hook: make the course's links to the library's source work on the built site too.

The pages link source files relative to the repository, e.g. ``(../tinysiam/autograd.py)`` from
``docs/03-autodiff.md``, so the links work wherever the Markdown is read as files. MkDocs only
knows the files inside ``docs/``, and in strict mode it rejects any other link. This hook adds
every Python file of ``tinysiam/``, ``examples/``, ``benchmarks/`` and ``tests/`` to the site's
files under the name such a link resolves to (``../tinysiam/autograd.py``), copied to
``source/tinysiam/autograd.py`` in the built site. A link to a file that does not exist is still
an error.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files, InclusionLevel

SOURCE_FOLDERS = ("tinysiam", "examples", "benchmarks", "tests")
SITE_FOLDER = "source"


def on_files(files: Files, config: MkDocsConfig) -> Files:
    repository = Path(config.config_file_path).resolve().parent
    docs = Path(config.docs_dir).resolve()
    for folder in SOURCE_FOLDERS:
        for path in sorted((repository / folder).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            relative = path.relative_to(repository).as_posix()
            link_target = Path("..", relative).as_posix() if docs.parent == repository else relative
            # INCLUDED explicitly: a name starting with "." would otherwise count as a hidden file.
            source = File.generated(
                config, link_target, abs_src_path=str(path), inclusion=InclusionLevel.INCLUDED
            )
            source.dest_uri = f"{SITE_FOLDER}/{relative}"
            files.append(source)
    return files
