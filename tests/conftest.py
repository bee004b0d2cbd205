"""Shared fixtures: tiny models built (and saved) by the tests themselves; never the network."""

import os

# Tiny models gain nothing from intra-op threads, and on a busy 2-core machine two threads per process
# oversubscribe the cores (measured 5-10x slower). Subprocesses (CLI, app, ranks) inherit the variable.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

import engine  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.fixture(scope="session")
def tiny_G():
    return engine.build_generator("tiny", seed=0)


@pytest.fixture(scope="session")
def tiny_model_file(tmp_path_factory, tiny_G):
    path = tmp_path_factory.mktemp("models") / "tiny.safetensors"
    engine.save_generator(tiny_G, path, provenance={"made_by": "tests"})
    return path
