"""Trained helper networks on disk ($LTDD_NETWORK_CACHE): the same networks, trained once across runs."""

import torch

import ltdd.distill.coreset as coreset
import ltdd.distill.dsdm as dsdm
from ltdd.data import load_dataset
from ltdd.distill.network_cache import NETWORK_CACHE_ENV, training_fingerprint


def count_training(monkeypatch, module):
    calls = []
    original = module.train_classifier

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, "train_classifier", counted)
    return calls


def weights(networks):
    return [torch.cat([p.detach().flatten() for p in net.parameters()]) for net in networks]


def test_dsdm_networks_are_trained_once_across_runs(monkeypatch, tmp_path):
    dataset = load_dataset("digits")
    calls = count_training(monkeypatch, dsdm)
    monkeypatch.delenv(NETWORK_CACHE_ENV, raising=False)
    plain = dsdm.pretrain_networks(dataset, 2, 1, seed=3, net_width=8)
    assert len(calls) == 2 and not list(tmp_path.iterdir())
    monkeypatch.setenv(NETWORK_CACHE_ENV, str(tmp_path))
    dsdm._PRETRAINED.clear()  # a new process
    first = dsdm.pretrain_networks(dataset, 2, 1, seed=3, net_width=8)
    dsdm._PRETRAINED.clear()
    second = dsdm.pretrain_networks(dataset, 2, 1, seed=3, net_width=8)
    assert len(calls) == 4  # trained for the first cached run only
    for a, b, c in zip(weights(plain), weights(first), weights(second)):
        assert torch.equal(a, b) and torch.equal(b, c)
    assert all(not net.training and not any(p.requires_grad for p in net.parameters()) for net in second)
    dsdm._PRETRAINED.clear()
    dsdm.pretrain_networks(dataset, 2, 2, seed=3, net_width=8)  # other epochs: another entry
    assert len(calls) == 6 and len(list(tmp_path.glob("dsdm-pretrained-*.pt"))) == 4  # one file per network


def test_a_run_stopped_during_dsdms_pretraining_keeps_the_networks_it_finished(monkeypatch, tmp_path):
    dataset = load_dataset("digits")
    monkeypatch.delenv(NETWORK_CACHE_ENV, raising=False)
    dsdm._PRETRAINED.clear()
    plain = dsdm.pretrain_networks(dataset, 3, 1, seed=5, net_width=8)
    monkeypatch.setenv(NETWORK_CACHE_ENV, str(tmp_path))
    original, calls = dsdm.train_classifier, []

    def stops_in_the_second(*args, **kwargs):
        calls.append(kwargs["description"])
        if len(calls) == 2:
            raise KeyboardInterrupt  # the machine stops while network 1 trains
        return original(*args, **kwargs)

    monkeypatch.setattr(dsdm, "train_classifier", stops_in_the_second)
    dsdm._PRETRAINED.clear()
    try:
        dsdm.pretrain_networks(dataset, 2, 1, seed=5, net_width=8)
    except KeyboardInterrupt:
        pass
    dsdm._PRETRAINED.clear()
    resumed = dsdm.pretrain_networks(dataset, 3, 1, seed=5, net_width=8)  # a later run that wants three
    assert calls == ["pre-train 0", "pre-train 1", "pre-train 1", "pre-train 2"]
    assert all(torch.equal(a, b) for a, b in zip(weights(plain), weights(resumed), strict=True))


def test_an_unreadable_entry_is_trained_again_and_replaced(monkeypatch, tmp_path):
    dataset = load_dataset("digits")
    monkeypatch.setenv(NETWORK_CACHE_ENV, str(tmp_path))
    calls = count_training(monkeypatch, coreset)
    net = coreset.feature_network(dataset, "trained", seed=0, net_width=8, train_epochs=1)
    (entry,) = tmp_path.glob("coreset-features-*.pt")
    entry.write_bytes(b"truncated")
    again = coreset.feature_network(dataset, "trained", seed=0, net_width=8, train_epochs=1)
    assert len(calls) == 2 and torch.load(entry, weights_only=True)["recipe"]["kind"] == "coreset-features"
    assert all(torch.equal(a, b) for a, b in zip(weights([net]), weights([again])))
    loaded = coreset.feature_network(dataset, "trained", seed=0, net_width=8, train_epochs=1)
    assert len(calls) == 2 and all(torch.equal(a, b) for a, b in zip(weights([net]), weights([loaded])))
    coreset.feature_network(dataset, "random", seed=0, net_width=8)  # nothing to cache
    assert len(list(tmp_path.iterdir())) == 1


def test_the_fingerprint_follows_the_training_data():
    digits = load_dataset("digits")
    other = load_dataset("digits-lt")
    assert training_fingerprint(digits) == training_fingerprint(load_dataset("digits"))
    assert training_fingerprint(digits) != training_fingerprint(other)
