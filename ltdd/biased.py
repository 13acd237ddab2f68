"""Deprecated: moved to :mod:`ltdd.studies.biased`; this old path warns and goes in the next release."""
from ._deprecated import moved_module

moved_module(__name__)
