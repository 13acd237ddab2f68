"""The dataset cache: reuse, recipe keys, corrupt and stale entries, atomic writes."""

import torch

from ltdd.data.cache import cache_path, cached, recipe_hash


def counting_builder(value):
    calls = []

    def build():
        calls.append(1)
        return {"pixels": torch.full((2, 3), value, dtype=torch.uint8)}

    return build, calls


def test_a_second_request_is_served_from_disk(tmp_path):
    recipe = {"name": "toy", "seed": 0}
    build, calls = counting_builder(7)
    first = cached(tmp_path, recipe, build)
    second = cached(tmp_path, recipe, build)
    assert len(calls) == 1 and torch.equal(first["pixels"], second["pixels"])
    assert cache_path(tmp_path, recipe).is_file()
    assert not [p for p in cache_path(tmp_path, recipe).parent.iterdir() if p.suffix == ".tmp"]


def test_the_key_covers_every_field_and_ignores_their_order(tmp_path):
    assert recipe_hash({"a": 1, "b": 2}) == recipe_hash({"b": 2, "a": 1})
    assert recipe_hash({"a": 1, "b": 2}) != recipe_hash({"a": 1, "b": 3})
    build, calls = counting_builder(1)
    cached(tmp_path, {"name": "toy", "seed": 0}, build)
    cached(tmp_path, {"name": "toy", "seed": 1}, build)
    assert len(calls) == 2


def test_a_corrupt_entry_is_rebuilt(tmp_path):
    recipe = {"name": "toy"}
    build, calls = counting_builder(3)
    cached(tmp_path, recipe, build)
    cache_path(tmp_path, recipe).write_bytes(b"not a torch file")
    again = cached(tmp_path, recipe, build)
    assert len(calls) == 2 and int(again["pixels"][0, 0]) == 3


def test_a_stale_entry_with_another_recipe_is_rebuilt(tmp_path):
    recipe = {"name": "toy", "severity": 2}
    build, calls = counting_builder(5)
    cached(tmp_path, recipe, build)
    path = cache_path(tmp_path, recipe)
    torch.save({"recipe": {"name": "toy", "severity": 9}, "tensors": {"pixels": torch.zeros(1)}}, path)
    again = cached(tmp_path, recipe, build)
    assert len(calls) == 2 and again["pixels"].shape == (2, 3)
