"""The grammars of everything that becomes a path, a file name or a shell word.

A tool name, a version, a program name and a store output name come from
files a repository ships (devshell.toml, devshell.lock) or from upstream
documents (an npm dist-tag, a wheel's entry points, a Packages file). Each is
checked here, once, against one strict grammar before it is used: plain names
never hold `/`, never are `.` or `..`, never hold NUL, whitespace or shell
metacharacters. Callers turn the ValueError into the error family that fits
where the value came from (SpecError, LockStaleError, FetchError).
"""

from __future__ import annotations

import re

__all__ = [
    "OUTPUT_NAME",
    "check_inner_path",
    "check_output_name",
    "check_plain",
    "check_variable",
    "check_version",
    "is_plain",
]

_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+-]{0,127}")
# Versions of every ecosystem: PEP 440 (1.0rc1, 1!2.0, 1.0+local), semver
# (1.0.0-beta.1+build), Debian (1:2.39.5-0+deb12u3, 1.0~rc1).
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+~:!-]{0,127}")
#: `<digest>-<name>-<version>`, as DESIGN.md writes it: 32 base32 characters.
OUTPUT_NAME = re.compile(r"[0-9a-z]{32}-[A-Za-z0-9._+-]{1,200}")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


def is_plain(value: object) -> bool:
    """A name safe as one path component and one shell word."""
    return isinstance(value, str) and _PLAIN.fullmatch(value) is not None and value not in (".", "..")


def check_plain(value: object, what: str) -> str:
    if not is_plain(value):
        raise ValueError(
            f"{what} {value!r} is not a plain name (letters, digits, '.', '_', '+', '-'; "
            "not starting with '.' or '-')"
        )
    assert isinstance(value, str)
    return value


def check_package(value: object, what: str) -> str:
    """A package's name: a plain name, or npm's scoped `@scope/name`."""
    if isinstance(value, str) and value.startswith("@") and value.count("/") == 1:
        scope, _, name = value[1:].partition("/")
        if is_plain(scope) and is_plain(name):
            return value
    return check_plain(value, what)


def check_tree_path(value: object, what: str) -> str:
    """Where a package of a node_modules tree lies in its output:
    `node_modules/<package>`, nested any number of times."""
    check_inner_path(value, what)
    assert isinstance(value, str)
    rest = value
    while rest:
        if not rest.startswith("node_modules/"):
            raise ValueError(f"{what} {value!r} is not node_modules/<package>[/node_modules/<package>…]")
        rest = rest[len("node_modules/"):]
        package, _, rest = rest.partition("/node_modules/") if "/node_modules/" in rest else (rest, "", "")
        check_package(package, what)
        rest = "node_modules/" + rest if rest else ""
    return value


def check_version(value: object, what: str = "version") -> str:
    if not isinstance(value, str) or _VERSION.fullmatch(value) is None or ".." in value:
        raise ValueError(f"{what} {value!r} is not a version (letters, digits and . _ + ~ : ! -)")
    return value


def check_output_name(value: object) -> str:
    if not isinstance(value, str) or OUTPUT_NAME.fullmatch(value) is None or ".." in value:
        raise ValueError(f"output {value!r} is not a store name (<32 base32 characters>-<name>-<version>)")
    return value


def check_variable(value: object, what: str = "variable") -> str:
    if not isinstance(value, str) or _VARIABLE.fullmatch(value) is None:
        raise ValueError(f"{what} {value!r} is not a variable name (letters, digits, _)")
    return value


def check_inner_path(value: object, what: str) -> str:
    """A relative path that stays inside its root: no absolute path, no `..`
    component, no empty or `.` component, no NUL, no backslash."""
    if (
        not isinstance(value, str)
        or not value
        or value.startswith("/")
        or "\0" in value
        or "\\" in value
        or any(part in ("", ".", "..") for part in value.split("/"))
    ):
        raise ValueError(f"{what} {value!r} is not a path inside the output")
    return value
