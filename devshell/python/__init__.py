"""Any Python tool as an isolated environment on the spec's pinned Python.

A project on the package index with console scripts (black, mypy,
pre-commit…) is locked as one artifact per platform of format `pyenv`: the
tool's wheel, and in its `closure` every other wheel pip's resolver chose for
that platform, each with the index's sha256. Realising installs exactly those
files with PyPA's `installer` into a venv-shaped output whose interpreter is
the `python` tool's store output; only the tool's own scripts go on PATH.

`targets` says what a platform looks like to a resolver, `resolver` runs
pip's, `envlock` turns its answer into lock entries, `layout` is the shape of
an environment output, `install` fills one.
"""
