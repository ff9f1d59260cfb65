"""pip, run as if on the target machine: `python -m devshell.python.piprun
MARKERS-JSON PIP-ARGS…` (devshell.python.resolver starts it).

pip's `--platform`, `--python-version`, `--implementation` and `--abi`
choose wheels, but pip evaluates environment markers for the interpreter
running it (pypa/pip#11664): a macOS lock made on Linux would miss
`sys_platform == "darwin"` dependencies. pex works around it the same way:
pip's marker environment is replaced by the target's before pip starts.
The report pip writes records the environment it used, which the caller
checks, so a pip that no longer honours this fails loudly, never silently.
"""

from __future__ import annotations

import json
import sys

__all__ = ["main"]


def main(argv: list[str]) -> int:
    environment = json.loads(argv[0])
    if not isinstance(environment, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in environment.items()):
        print("devshell.python.piprun: the marker environment must be a JSON object of strings",
              file=sys.stderr)
        return 2
    try:
        from pip._vendor.packaging import markers
    except ImportError as exc:
        print(f"devshell: pip is not installed beside devshell ({exc})", file=sys.stderr)
        return 3
    # Before pip's own modules load: some bind the function when imported.
    markers.default_environment = lambda: dict(environment)  # type: ignore[assignment,return-value]
    from pip._internal.cli.main import main as pip_main

    status: int = pip_main(argv[1:])
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
