"""Shared fixtures: tiny models built (and saved) by the tests themselves; never the network."""

import pytest
import torch

import engine

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def tiny_G():
    return engine.build_generator("tiny", seed=0)


@pytest.fixture(scope="session")
def tiny_model_file(tmp_path_factory, tiny_G):
    path = tmp_path_factory.mktemp("models") / "tiny.safetensors"
    engine.save_generator(tiny_G, path, provenance={"made_by": "tests"})
    return path
