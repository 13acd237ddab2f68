"""Profiles, devices, seeding."""

import pytest
import torch

from ltdd import config
from ltdd.config import derive_seed, download_allowed, get_device, get_profile, make_generator


def test_profiles_exist_and_scale_up():
    names = config.available_profiles()
    assert names == ["smoke", "cpu", "gpu", "paper"]
    smoke, cpu, gpu, paper = (get_profile(n) for n in names)
    assert smoke.eval_epochs < cpu.eval_epochs < gpu.eval_epochs <= paper.eval_epochs
    assert smoke.dataset == cpu.dataset == "digits" and gpu.dataset == paper.dataset == "cifar10"
    assert paper.iterations == 20000 and paper.eval_epochs == 1000 and paper.net_width == 128


def test_env_override_and_hardware_default(monkeypatch):
    monkeypatch.setenv("LTDD_PROFILE", "smoke")
    assert get_profile().name == "smoke"
    monkeypatch.delenv("LTDD_PROFILE")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert get_profile().name == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_profile().name == "gpu"


def test_unknown_profile_names_the_argument(monkeypatch):
    with pytest.raises(ValueError, match="profile='fast'.*smoke"):
        get_profile("fast")
    monkeypatch.setenv("LTDD_PROFILE", "bogus")
    with pytest.raises(ValueError, match="LTDD_PROFILE"):
        get_profile()


def test_cuda_without_cuda_is_an_error_not_a_fallback(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert get_device() == torch.device("cpu")
    with pytest.raises(ValueError, match="device='cuda'"):
        get_device("cuda")


def test_generators_are_reproducible_independent_and_leave_the_global_rng_alone():
    state = torch.get_rng_state()
    a = torch.rand(5, generator=make_generator(0, "init"))
    b = torch.rand(5, generator=make_generator(0, "init"))
    c = torch.rand(5, generator=make_generator(0, "eval", 1))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(state, torch.get_rng_state())
    assert derive_seed(0, "x") != derive_seed(1, "x")
    assert 0 <= derive_seed(123, "a", 4) < 2 ** 63
    with pytest.raises(ValueError, match="seed"):
        derive_seed(1.5)


def test_download_switch(monkeypatch):
    monkeypatch.setenv("LTDD_DOWNLOAD", "1")
    assert download_allowed(get_profile("smoke"))
    monkeypatch.setenv("LTDD_DOWNLOAD", "0")
    assert not download_allowed(get_profile("gpu"))
    monkeypatch.delenv("LTDD_DOWNLOAD")
    assert download_allowed(get_profile("gpu")) and not download_allowed(get_profile("cpu"))
    monkeypatch.setenv("LTDD_DOWNLOAD", "maybe")
    with pytest.raises(ValueError, match="LTDD_DOWNLOAD"):
        download_allowed()


def test_data_root_env(monkeypatch, tmp_path):
    monkeypatch.setenv("LTDD_DATA_ROOT", str(tmp_path))
    assert config.default_data_root() == tmp_path


def test_pick_chooses_by_profile_name_with_a_default():
    smoke, cpu, gpu = get_profile("smoke"), get_profile("cpu"), get_profile("gpu")
    assert smoke.pick(smoke=2, cpu=3, default=10) == 2
    assert cpu.pick(smoke=2, cpu=3, default=10) == 3
    assert gpu.pick(smoke=2, cpu=3, default=10) == 10
    assert gpu.pick(smoke=None, default=(0, 1)) == (0, 1)
    assert cpu.pick(cpu=None, default=5) is None  # an explicit None is a value, not "missing"


def test_pick_refuses_unknown_keywords_and_a_missing_value():
    with pytest.raises(ValueError, match=r"pick\(\) got \['laptop'\].*'default'"):
        get_profile("cpu").pick(laptop=1, default=2)
    with pytest.raises(ValueError, match="no value for profile 'paper' and no default"):
        get_profile("paper").pick(smoke=1, cpu=2, gpu=3)
