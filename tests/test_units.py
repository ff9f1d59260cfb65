"""Unit tests for the hot path's pure functions: `$VAR` expansion, quoting per
output format, and the activation record's encoding."""

from __future__ import annotations

import pytest

from devshell.shell import activation, environment
from devshell.shell import formats as envformat
from devshell.shell.environment import Record


@pytest.mark.parametrize(("value", "expected"), [
    ("$HOME/x", "/home/u/x"),
    ("${HOME}x", "/home/ux"),
    ("$UNSET-y", "-y"),
    ("$$HOME", "$HOME"),
    ("a$", "a$"),
    ("${UNCLOSED", "${UNCLOSED"),
    ("$1 $-", "$1 $-"),
    ("$HOME_DIR", ""),  # the longest name, as a shell reads it
    ("pre${A}${B}post", "pre12post"),
])
def test_expand_reads_variables_as_a_shell_does(value: str, expected: str) -> None:
    assert environment.expand(value, {"HOME": "/home/u", "A": "1", "B": "2"}) == expected


@pytest.mark.parametrize(("fmt", "value", "expected"), [
    ("sh", "it's", "export V='it'\\''s'\n"),
    ("fish", "a'b\\c", "set -gx V 'a\\'b\\\\c'\n"),
    ("dotenv", 'a"b$c`d\\e\nf', 'V="a\\"b\\$c\\`d\\\\e\\nf"\n'),
    ("json", "x", '{\n  "V": "x"\n}\n'),
])
def test_each_format_quotes_its_own_way(fmt: str, value: str, expected: str) -> None:
    assert envformat.render(fmt, {"V": value}, []) == expected


def _record(**over: object) -> Record:
    fields: dict[str, object] = {
        "root": "/p", "name": "web app", "isolation": "pure", "profile": "/s/p", "host_bin": "",
        "keep_env": ("SSH_AUTH_SOCK",), "tool_env": (("GOROOT", "/s/go=x"),),
        "spec_env": (("A", "b=c"),), "scripts": (("test", "pytest -q"),), "signature": "1:2:3/4:5:6/",
    }
    fields.update(over)
    return Record(**fields)  # type: ignore[arg-type]


def test_activation_records_round_trip() -> None:
    record = _record()
    assert activation.decode(activation.encode(record)) == record


def test_a_nul_cannot_forge_a_field_of_the_record() -> None:
    with pytest.raises(ValueError, match="NUL"):
        activation.encode(_record(spec_env=(("A", "x\0profile=/evil"),)))


def test_a_record_of_another_format_is_not_read() -> None:
    assert activation.decode("devshell-activation-0\0root=/p") is None
    assert activation.decode(activation.encode(_record()).replace("root=/p", "rot=/p")) is None
