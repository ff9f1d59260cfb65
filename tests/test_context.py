"""A run's memo: one computation per key, different keys at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from devshell.context import Context
from devshell.home import Home
from devshell.sources.locate import Upstreams


def _context(tmp_path: Path) -> Context:
    return Context(Home(tmp_path / "home"), Upstreams(tmp_path))


def test_different_keys_are_computed_at_the_same_time(tmp_path: Path) -> None:
    # Two projects' index pages are read at once, not one after the other:
    # each computation waits here until the other one has started too.
    ctx = _context(tmp_path)
    both = threading.Barrier(2, timeout=5)

    def page(name: str) -> str:
        both.wait()
        return f"page of {name}"

    with ThreadPoolExecutor(2) as pool:
        got = list(pool.map(lambda n: ctx.memo(("index", n), lambda: page(n)), ["black", "ruff"]))
    assert got == ["page of black", "page of ruff"]


def test_one_key_is_computed_once_while_others_wait(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    calls: list[int] = []
    started = threading.Event()
    release = threading.Event()

    def slow() -> int:
        calls.append(1)
        started.set()
        release.wait(5)
        return len(calls)

    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(ctx.memo, "k", slow)
        started.wait(5)
        rest = [pool.submit(ctx.memo, "k", slow) for _ in range(3)]
        release.set()
        assert [f.result() for f in (first, *rest)] == [1, 1, 1, 1]
    assert calls == [1]


def test_a_failed_computation_is_tried_again(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    attempts: list[int] = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("cut short")
        return "ok"

    with pytest.raises(OSError, match="cut short"):
        ctx.memo("k", flaky)
    assert ctx.memo("k", flaky) == "ok" and len(attempts) == 2


def test_a_computation_may_ask_for_another_key(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    assert ctx.memo("outer", lambda: ctx.memo("inner", lambda: 2) + 1) == 3
