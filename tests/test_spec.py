"""devshell.toml parsing: typed values, and errors that name the key and
what would be right."""

from __future__ import annotations

from pathlib import Path

import pytest

from devshell.errors import SpecError
from devshell.spec import parse
from devshell.versions import choose, parse_constraint

SPEC = Path("/proj/devshell.toml")


def _error(text: str) -> str:
    with pytest.raises(SpecError) as info:
        parse(text, SPEC)
    return info.value.render()


def test_a_full_spec_parses_into_typed_values() -> None:
    spec = parse(
        '[shell]\nname = "web"\nisolation = "inherit"\nkeep-env = ["SSH_AUTH_SOCK"]\n'
        'host-tools = ["git"]\nplatforms = ["aarch64-darwin", "x86_64-linux"]\n'
        '[tools]\nruff = "0.6"\n"npm:@scope/thing" = "^1.2"\n'
        '[env]\nAPP_ENV = "dev"\n[scripts]\ntest = "pytest -q"\n[hooks]\non-enter = "echo hi"\n',
        SPEC,
    )
    assert spec.shell.name == "web" and spec.shell.isolation == "inherit"
    assert spec.shell.platforms == ("x86_64-linux", "aarch64-darwin")  # canonical order
    ruff, thing = spec.tools
    assert (ruff.name, ruff.source, ruff.constraint) == ("ruff", "pypi", "0.6")
    assert (thing.name, thing.source, thing.package) == ("thing", "npm", "@scope/thing")
    assert spec.env == (("APP_ENV", "dev"),) and spec.scripts == (("test", "pytest -q"),)
    assert spec.hooks == (("on-enter", "echo hi"),)


def test_the_name_defaults_to_the_directory() -> None:
    assert parse("", SPEC).shell.name == "proj"


@pytest.mark.parametrize(("text", "where", "says"), [
    ("[shell]\nisolaton = 'pure'", "shell.isolaton", "did you mean 'isolation'?"),
    ("[toolz]\n", "toolz", "did you mean 'tools'?"),
    ("[shell]\nisolation = 'sealed'", "shell.isolation", '"pure"'),
    ("[shell]\nplatforms = ['x86_64-linx']", "shell.platforms", "did you mean 'x86_64-linux'?"),
    ("[tools]\nrufff = '1'", "tools.rufff", "did you mean 'ruff'?"),
    ("[tools]\nruff = '>=1,<<2'", "tools.ruff.version", "not a valid version specifier"),
    ("[tools]\nruff = 'lts'", "tools.ruff.version", "tags like this exist only on npm"),
    ("[tools]\nruff = { version = '1', sha256 = {} }", "tools.ruff.sha256", "only url tools"),
    ("[tools]\nx = { version = '1.0', url = 'http://h/x' }", "tools.x", "sha256"),
    ("[tools]\nx = { version = '>=1', url = 'http://h/x', sha256 = { 'x86_64-linux' = '"
     + "a" * 64 + "' } }", "tools.x.version", "one exact version"),
    ("[env]\n'A-B' = 'x'", "env.A-B", "variable name"),
    ("[env]\nA = 1", "env.A", "must be a string"),
])
def test_errors_name_the_key_and_what_is_accepted(text: str, where: str, says: str) -> None:
    message = _error(text)
    assert f"{SPEC}: {where}:" in message
    assert says in message


def test_toml_syntax_errors_keep_line_and_column() -> None:
    message = _error('[shell]\nname = "a"\nisolation = \n')
    assert "invalid TOML" in message and "line 3" in message and "column" in message


@pytest.mark.parametrize(("constraint", "candidates", "chosen"), [
    ("20", ["18.1.0", "20.1.0", "20.11.1", "21.0.0", "20.12.0rc1"], "20.11.1"),
    ("0.6", ["0.6.0", "0.6.9", "0.7.0"], "0.6.9"),
    ("0.6.9", ["0.6.9", "0.6.10"], "0.6.9"),
    (">=1.22,<1.24", ["1.21", "1.22.5", "1.23.4", "1.24.0"], "1.23.4"),
    ("latest", ["1.0", "2.0rc1"], "1.0"),
    ("^1.2.0", ["1.1.0", "1.2.5", "1.9.0", "2.0.0"], "1.9.0"),
    ("~1.2.0", ["1.2.0", "1.2.7", "1.3.0"], "1.2.7"),
    ("^0.2.3", ["0.2.3", "0.2.9", "0.3.0"], "0.2.9"),
    ("1.x", ["1.0", "1.5", "2.0"], "1.5"),
    ("3", ["1.0", "2.0"], None),
])
def test_constraints_pick_what_users_expect(constraint: str, candidates: list[str], chosen: str | None) -> None:
    assert choose(parse_constraint(constraint), candidates) == chosen


@pytest.mark.parametrize(("toml", "where"), [
    ('[tools]\n"../../x" = "1.0"\n', "tools.../../x"),
    ('[tools]\n"a/b" = "1.0"\n', "tools.a/b"),
    ('[tools]\n".." = "1.0"\n', "tools..."),
    ('[tools]\n"x;rm -rf ~" = "1.0"\n', "tools.x;rm -rf ~"),
    ('[tools]\n"$(id)" = "1.0"\n', "tools.$(id)"),
    ('[tools]\n"pypi:.." = "1.0"\n', "tools.pypi:.."),
    ('[tools]\n"a\\u0000b" = "1.0"\n', "tools.a"),
])
def test_tool_names_that_would_become_paths_or_shell_words_are_spec_errors(toml: str, where: str) -> None:
    text = _error(toml)
    assert where in text and "is not a tool name" in text


@pytest.mark.parametrize(("toml", "where"), [
    ('[env]\nA = "x\\u0000field=forged"\n', "env.A"),
    ('[scripts]\nt = "echo\\u0000x"\n', "scripts.t"),
    ('[hooks]\non-enter = "a\\u0000b"\n', "hooks.on-enter"),
    ('[tools]\nx = { version = "1.0", url = "https://e/x", sha256 = { "x86_64-linux" = "'
     + "0" * 64 + '" }, env = { V = "a\\u0000b" } }\n', "tools.x.env.V"),
])
def test_a_nul_in_any_value_is_a_spec_error_naming_the_key(toml: str, where: str) -> None:
    text = _error(toml)
    assert f"{where}: holds a NUL character" in text


@pytest.mark.parametrize(("toml", "where"), [
    ('[shell]\nhost-tools = ["../../../tmp/x"]\n', "shell.host-tools"),
    ('[shell]\nkeep-env = ["A B"]\n', "shell.keep-env"),
    ('[scripts]\n"a=b" = "x"\n', "scripts.a=b"),
    ('[shell]\nname = "a\\nb"\n', "shell.name"),
])
def test_names_that_become_links_record_fields_or_prompts_are_checked(toml: str, where: str) -> None:
    assert where in _error(toml)


def test_a_bad_tool_name_exits_3_from_the_command_line(tmp_path: Path) -> None:
    from tests.helpers import devshell

    (tmp_path / "devshell.toml").write_text('[tools]\n"../../evil" = "1.0"\n')
    proc = devshell("lock", cwd=tmp_path)
    assert proc.returncode == 3
    assert "tools.../../evil" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("entry", ["../../../../tmp/victim", "../../x=bin/tool", "/etc/passwd", "a/../../b",
                                   "x y=bin/t", "=bin/t"])
def test_bin_entries_stay_inside_the_output(entry: str) -> None:
    text = _error(f'[tools]\nx = {{ version = "1.0", url = "https://e/x", bin = ["{entry}"], '
                  f'sha256 = {{ "x86_64-linux" = "{"0" * 64}" }} }}\n')
    assert "tools.x.bin" in text
