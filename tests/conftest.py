"""Shared fixtures."""

import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op thread for a test module: its forward passes are small, and two OpenMP threads on a busy
    2-core machine (pytest-xdist, a notebook build alongside) spin-wait on each other and run many times
    slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
