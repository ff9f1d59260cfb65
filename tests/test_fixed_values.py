"""Fixed values of the functions that name things in the store and the lock.

A refactor that changed any of these would silently rename every store path
or mark every lock stale, so each is pinned here to the value it has today
(and the base32 to Nix's own, for the empty string's sha256)."""

from __future__ import annotations

import hashlib

from devshell import integrity, lock


def test_nix_base32_matches_nix() -> None:
    # `nix-hash --type sha256 --to-base32` of the empty string's sha256.
    assert integrity.nix_base32(hashlib.sha256(b"").digest()) == (
        "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73")
    assert integrity.nix_base32(bytes(range(20))) == "2c91240g1q6hq2qa1440f1h50h1h4080"
    assert integrity.nix_base32(b"\xff") == "7z"


def test_digest_of_is_fixed_and_ignores_key_order() -> None:
    assert integrity.digest_of({"a": [1, "b"], "c": None}) == "bhfhiid55hy56xp6rq1mh8cqd4fkv5r3"
    assert integrity.digest_of({"c": None, "a": [1, "b"]}) == "bhfhiid55hy56xp6rq1mh8cqd4fkv5r3"


def test_spec_hash_is_fixed() -> None:
    assert lock.spec_hash({"platforms": ["x86_64-linux"], "tools": {}}) == (
        "sha256-JBa7XEv8zoZUftJDEDCkQTiKhsuax+YKMkpyfjbU/+M=")


def test_output_name_is_fixed_and_covers_the_whole_name() -> None:
    shape = {"integrity": "sha256-" + "A" * 43 + "=", "format": "deb", "strip": 0,
             "bin": ["usr/bin/jq"], "fixups": []}
    name = lock.output_name("jq", "1:1.6-2.1", shape)
    assert name == "vk1jgwzarpdsjpa56dcllaskkdxc8hyd-jq-1_1.6-2.1"
    # Same bytes, another name or version: another digest, never a shared one.
    assert lock.output_name("jq2", "1:1.6-2.1", shape)[:32] != name[:32]
    assert lock.output_name("jq", "1:1.6-2.2", shape)[:32] != name[:32]


def test_sri_round_trips_hex() -> None:
    hexdigest = hashlib.sha256(b"devshell").hexdigest()
    sri = integrity.from_hex("sha256", hexdigest)
    assert integrity.to_hex(sri) == "sha256-" + hexdigest
