"""The generated page reference/settings.md: what the paper profile runs, beside its source, with every departure."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import yaml

from ltdd.book.settings_page import (SettingRow, biased_dd_settings_rows, crlt_dd_settings_rows,
                                     dm_family_settings_rows, settings_page_markdown, settings_rows,
                                     write_settings_page)

ROOT = Path(__file__).resolve().parent.parent


def _value(rows, method, setting):
    matches = [row.value for row in rows if (row.method, row.setting) == (method, setting)]
    assert len(matches) == 1, (method, setting, matches)
    return matches[0]


def test_committed_page_is_the_generated_one():
    committed = (ROOT / "reference" / "settings.md").read_text()
    assert committed == settings_page_markdown(), ("reference/settings.md is stale: run "
                                                   "python -m ltdd.book.settings_page")


def test_the_page_written_by_default_is_the_checkout_s_reference_settings_md():
    # the module moved from ltdd/ to ltdd/book/ (issue 21): its path to the checkout moved with it
    from ltdd.book.settings_page import PAGE

    assert PAGE == ROOT / "reference" / "settings.md"


def test_every_row_names_a_value_and_a_source_and_every_departure_is_listed():
    rows = settings_rows()
    assert {row.method for row in rows} >= {"DM", "IDM", "DSDM", "DC", "DSA", "CRLT-DD", "Biased-DD"}
    assert all(row.method and row.setting and row.value and row.source for row in rows)
    page = settings_page_markdown(rows)
    departures = page.split("## Every departure")[1]
    for row in rows:
        assert (f"**{row.method}, {row.setting}**" in departures) == bool(row.departure)
    assert page.count("\n## ") == len({row.method for row in rows}) + 1
    assert settings_page_markdown([tuple(r.as_tuple()) for r in rows]) == page  # plain tuples work too


def test_rows_show_the_papers_settings():
    dm_family, crlt, biased = dm_family_settings_rows(), crlt_dd_settings_rows(), biased_dd_settings_rows()
    # DSDM paper Sec. 5: T = 10K, M = 10 networks of E = 20 epochs; DSDM.py smooth_iter 2000
    assert _value(dm_family, "DSDM", "iterations T") == "10000"
    assert _value(dm_family, "DSDM", "history warm-up t0") == "2000"
    assert _value(dm_family, "DSDM", "pre-trained networks") == "10 × 20 epochs"
    assert "constant lr 0.01" in _value(dm_family, "DSDM", "pre-training")
    # DM main_DM.py --Iteration 20000 --lr_img 1.0 --batch_real 256; DC main.py --Iteration 1000
    assert _value(dm_family, "DM", "iterations") == "20000"
    assert _value(dm_family, "DM", "real images per class") == "256"
    assert _value(dm_family, "DC", "iterations") == "1000"
    # IDM command.txt: --lr_img 0.2, CIFAR-100 IPC 1 --ce_weight 0.5, Tiny IPC 50 --ce_weight 0.8
    assert _value(dm_family, "IDM", "image lr") == "0.2"
    assert "cifar100 1: 0.5" in _value(dm_family, "IDM", "λ (ce_weight) by dataset and IPC")
    assert "tinyimagenet 50: 0.8" in _value(dm_family, "IDM", "λ (ce_weight) by dataset and IPC")
    # CRLT-DD Sec. IV-C (4000 iterations, lr 1.0, batch 128), Sec. IV-A (500 epochs, batch 128)
    assert _value(crlt, "CRLT-DD", "DM iterations") == "4000"
    assert _value(crlt, "CRLT-DD", "DM image lr, real batch") == "1, 128"
    assert _value(crlt, "CRLT-DD", "evaluation").startswith("500 epochs") and "batch 128" in _value(
        crlt, "CRLT-DD", "evaluation")
    assert _value(crlt, "CRLT-DD", "distill head IPC") == "cifar10-lt: 500; cifar100-lt: 50"
    # Biased-DD Sec. 4.3 (IPC 50), Sec. 4.2 (150 epochs, x0.1 at 50 and 100, batch 256)
    assert _value(biased, "Biased-DD", "IPC") == "50"
    assert _value(biased, "Biased-DD", "full-set control").startswith("150 epochs, lr 0.01 ×0.1 at epochs 50, 100, "
                                                                       "batch 256")
    assert isinstance(dm_family[0], SettingRow) and len(dm_family[0].as_tuple()) == 5


def test_the_build_regenerates_the_page(tmp_path):
    spec = importlib.util.spec_from_file_location("ltdd_settings_page_ext", ROOT / "_ext" / "ltdd_settings_page.py")
    extension = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(extension)

    class App:
        srcdir = str(tmp_path)
        connected = []

        def connect(self, event, handler, priority=500):
            self.connected.append((event, priority))

    app = App()
    extension.setup(app)
    assert app.connected == [("config-inited", 100)]  # before sphinx-external-toc reads _toc.yml (500)
    extension._write_settings_page(app, None)
    assert (tmp_path / "reference" / "settings.md").read_text() == settings_page_markdown()
    stamp = (tmp_path / "reference" / "settings.md").stat().st_mtime_ns
    write_settings_page(tmp_path / "reference" / "settings.md")  # unchanged text: not rewritten
    assert (tmp_path / "reference" / "settings.md").stat().st_mtime_ns == stamp
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["sphinx"]["local_extensions"]["ltdd_settings_page"] == "_ext/"
    assert "reference/settings" in (ROOT / "_toc.yml").read_text()
