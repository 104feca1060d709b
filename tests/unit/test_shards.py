"""Shards of credentials (issue 18): few enough to map, balanced by volume, each credential once."""

from __future__ import annotations

import pytest

from trident1_aiq.shards import plan_shards, shard_label

pytestmark = pytest.mark.unit


def names(n: int) -> list[str]:
    return [f"trident1_f{k:04d}" for k in range(1, n + 1)]


def test_thousands_of_credentials_make_at_most_max_shards_each_credential_once():
    creds = names(2000)
    shards = plan_shards(creds, 64)
    assert len(shards) == 64  # far below Airflow's max_map_length (1024)
    flat = [c for s in shards for c in s]
    assert sorted(flat) == sorted(creds) and len(flat) == len(set(flat))
    assert {len(s) for s in shards} <= {31, 32}  # no history: split by count


def test_fewer_credentials_than_shards_one_shard_each():
    assert plan_shards(["trident1_b", "trident1_a", "trident1_a"], 64) == [["trident1_a"], ["trident1_b"]]
    assert plan_shards([], 64) == []


def test_shards_are_balanced_by_recent_volume():
    creds = names(10)  # each weighs its volume + FIXED_RECORDS (200): 9,200 against nine of 1,000
    volume = {creds[0]: 9000, creds[1]: 800, **{c: 800 for c in creds[2:]}}
    shards = plan_shards(creds, 2, volume)
    assert [creds[0]] in shards  # the big account alone; the nine small ones together
    assert sorted(len(s) for s in shards) == [1, 9]


def test_a_credential_without_history_counts_as_the_median():
    creds = names(4)
    shards = plan_shards(creds, 2, {creds[0]: 100, creds[1]: 100, creds[2]: 100})
    assert sorted(len(s) for s in shards) == [2, 2]


def test_same_inputs_same_shards():
    creds = names(300)
    volume = {c: (k * 37) % 101 for k, c in enumerate(creds)}
    assert plan_shards(creds, 16, volume) == plan_shards(list(reversed(creds)), 16, volume)


def test_label_names_the_shard():
    assert shard_label(["trident1_acme", "trident1_bolt"]) == "acme, bolt"
    assert shard_label(names(17)) == "f0001 … f0017 (17)"


def test_accounts_of_a_few_records_do_not_pile_into_a_few_shards():
    """A credential's fixed cost (its Connection, catalogue and etl_runs row) counts: 1,000 accounts
    of 1 record beside 63 of 2,000 and one of 1,000 spread over the shards; by volume alone all
    1,000 would fill the shard of the account of 1,000 records."""
    big, tiny = names(64), [f"trident1_t{k:04d}" for k in range(1000)]
    volume = {c: 2000 for c in big} | {big[0]: 1000} | {c: 1 for c in tiny}
    shards = plan_shards(big + tiny, 64, volume)
    per_shard = [sum(c in set(tiny) for c in s) for s in shards]
    assert len(shards) == 64 and sum(per_shard) == 1000
    assert max(per_shard) <= 2 * 1000 / 64, per_shard  # by volume alone: 1,000 in one shard
