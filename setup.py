"""Setuptools hook (the project is configured in pyproject.toml).

The chapters read the recorded runs in ``data/reference/`` (through :data:`ltdd.reference.REFERENCE_DIR`). In a
checkout they are read where they are; a built wheel or a non-editable install (Colab's ``pip install git+...``)
has no checkout beside it, so the build copies them into the package as ``ltdd/reference_data/``.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

REFERENCE_SOURCE = Path(__file__).resolve().parent / "data" / "reference"
PACKAGED_AS = ("ltdd", "reference_data")


class BuildWithReference(build_py):
    """``build_py`` that also copies ``data/reference/*`` into ``ltdd/reference_data/`` of the build."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads data/reference in the checkout
        files = sorted(path for path in REFERENCE_SOURCE.iterdir() if path.is_file())
        if not files:
            raise RuntimeError(f"{REFERENCE_SOURCE} holds no recorded runs; build from a complete checkout")
        target = Path(self.build_lib).joinpath(*PACKAGED_AS)
        shutil.rmtree(target, ignore_errors=True)  # a file removed from data/reference leaves no stale copy
        target.mkdir(parents=True)
        for path in files:
            shutil.copyfile(path, target / path.name)


setup(cmdclass={"build_py": BuildWithReference})
