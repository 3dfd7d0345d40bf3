"""Per-stream locks: exclusive per (source, stream), free again once released."""

from __future__ import annotations

from pathlib import Path

from cto_assistant.store import Store
from cto_assistant.sync.locks import stream_lock, stream_lock_key


def test_a_stream_lock_is_exclusive_until_released(any_store: Store, tmp_path: Path) -> None:
    locks = tmp_path / "locks"
    with stream_lock(any_store, source="aws", stream="costs", lock_dir=locks) as first:
        assert first
        with stream_lock(any_store, source="aws", stream="costs", lock_dir=locks) as second:
            assert not second
        with stream_lock(any_store, source="aws", stream="anomalies", lock_dir=locks) as other:
            assert other, "another stream of the same source is not blocked"
    with stream_lock(any_store, source="aws", stream="costs", lock_dir=locks) as again:
        assert again


def test_lock_keys_are_stable_signed_64_bit_and_per_schema() -> None:
    key = stream_lock_key("public", "aws", "costs")
    assert key == stream_lock_key("public", "aws", "costs")
    assert -(2**63) <= key < 2**63
    assert key != stream_lock_key("tenant_b", "aws", "costs")
    assert key != stream_lock_key("public", "aws", "cost")
