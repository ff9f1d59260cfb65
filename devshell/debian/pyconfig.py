"""A Debian Python's own idea of where it lives, pointed at the output it is
relocated into.

A Python finds its prefix from where its program lies, so it runs from the
store as it is, but two things it keeps name the host's /usr or lose the store:

- What its build recorded (`sysconfig.get_config_var`, read from
  `_sysconfigdata_*.py`). ensurepip takes its wheels from `WHEEL_PKG_DIR`
  there, so `python -m venv` would install the host's pip (or fail on one too
  old for this Python), and a C extension would build against the host's
  headers. Values that are one absolute path under /usr become the same path
  in the output; anything else (flags, lists of paths) is left as it is.
- The home `venv` records in pyvenv.cfg: the directory of the program it was
  started as, the profile's bin/ in a devshell, where no standard library is
  found (nor any PYTHONHOME, which venv drops for ensurepip). The program's
  real directory, in the output, is recorded instead.

A closure with a Python records the fix-up FIXUP in its lock (so its output
is named by it); a lock made before it existed keeps the bytes it named.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Callable
from pathlib import Path

__all__ = ["FIXUP", "PYTHON_PACKAGE", "fix"]

#: The fix-up a lock records for it: a new scheme is a new name, renaming the outputs.
FIXUP = "python-paths-1"
#: The packages whose presence in a closure brings a Python's build configuration.
PYTHON_PACKAGE = re.compile(r"(lib)?python3\.\d+-(minimal|stdlib)")
# One entry of the dict pprint wrote: a key, then one whole string literal
# that is one path under /usr (a value split over lines opens with "(", a
# list of paths holds ":"; neither is touched).
_ENTRY = re.compile(r"(?P<head>[{\s]'[A-Za-z0-9_]+': )'(?P<path>/usr(?:/[^'\\\s:]*)?)'(?=[,}])")
# Where venv (3.11 to 3.13, at least) takes the home it records.
_VENV_HOME = "os.path.split(os.path.abspath(executable))"


def fix(root: Path, final: Path) -> None:
    """Rewrite the build configuration and venv of every Python under `root`
    (to be renamed to `final`) to name `final`'s files."""
    base = os.path.abspath(final)
    _rewrite(root, "usr/lib/python3*/_sysconfigdata_*.py",
             lambda text: _ENTRY.sub(lambda m: m["head"] + repr(base + m["path"]), text))
    # Only where the line is what it is known to be: another venv is left as it is.
    _rewrite(root, "usr/lib/python3*/venv/__init__.py",
             lambda text: text.replace(_VENV_HOME, _VENV_HOME.replace("abspath", "realpath"))
             if text.count(_VENV_HOME) == 1 else text)


def _rewrite(root: Path, pattern: str, change: Callable[[str], str]) -> None:
    for name in sorted(glob.glob(pattern, root_dir=root)):
        path = root / name
        if path.is_symlink() or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        fixed = change(text)
        if fixed != text:
            mode = path.stat().st_mode
            path.chmod(mode | 0o200)
            path.write_text(fixed, encoding="utf-8")
            path.chmod(mode)
