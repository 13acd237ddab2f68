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


@pytest.fixture
def smoke(monkeypatch, tmp_path):
    """In-process command-line runs: smoke profile, no downloads, data and outputs in tmp_path."""
    monkeypatch.setenv("LTDD_PROFILE", "smoke")
    monkeypatch.delenv("LTDD_DOWNLOAD", raising=False)
    monkeypatch.setenv("LTDD_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path
