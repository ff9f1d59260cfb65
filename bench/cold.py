"""Issue 16 in one run: every cold-path ratio beside the hot-path figures.

Runs, one after another in this process, `core.py` (cold installs of tar.gz,
tar.xz, tar.zst and zip from loopback against parallel `curl | tar` and
`curl` + `unzip`, each round interleaved with its baseline, and the hot path
against /bin/true), `upstreams.py` (each ready shell from the real upstreams
against curl plus unpack of the same files) and `hotpath.py` (the hot
`run`/`env` against mise, direnv and shellenv), prints each report whole, then
one table of every figure that has a target and whether it met it.

    .venv/bin/python bench/cold.py [--quick]     # ~8 min (--quick: ~3 min)
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Sequence

import core
import hotpath
import upstreams
from common import Report, Row, table


def _met(rows: Sequence[Row], section: str) -> list[Row]:
    """The rows that carry a verdict, named by their section, an indented
    row also by the row above it ("core: cold install tar.zst: devshell peak RSS")."""
    out: list[Row] = []
    above = ""
    for r in rows:
        name = r.figure.strip()
        if not r.figure.startswith(" "):
            above = name.split(" vs ")[0]
        elif above:
            name = f"{above}: {name}"
        if re.search(r"\b(ok|MISS)\b", r.verdict) and not r.target.startswith("("):
            out.append(Row(f"{section}: {name}", r.devshell, r.baseline, r.ratio, r.target, r.verdict))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="each bench's --quick")
    args = parser.parse_args(argv)
    quick = ["--quick"] if args.quick else []
    began = time.perf_counter()
    reports: list[tuple[str, Report]] = [
        ("core", core.measure([*quick, *([] if args.quick else ["--runs", "20", "--rounds", "5"])])),
        ("upstreams", upstreams.measure([*quick, "--no-phases"])),
        ("hotpath", hotpath.measure(quick)),
    ]
    for name, report in reports:
        print(f"==== bench/{name}.py\n{report.text}\n")
    summary = [row for name, report in reports for row in _met(report.rows, name)]
    print(f"==== every target, {os.cpu_count()} CPUs, load average "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(table(summary, widths=(66, 10, 14, 7, 18)))
    missed = [r for r in summary if "MISS" in r.verdict]
    print(f"\n{len(summary) - len(missed)} of {len(summary)} met"
          + (f"; missed: {', '.join(r.figure for r in missed)}" if missed else ""))
    print(f"(all three took {time.perf_counter() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
