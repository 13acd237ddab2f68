"""Figures and small tables for the book's pages, by topic.

* :mod:`ltdd.book.viz.core`: what every figure shares (:func:`~ltdd.book.viz.core.finish_figure`,
  :func:`~ltdd.book.viz.core.palette`, the shot-group and bias-group colours);
* :mod:`ltdd.book.viz.tables`: the profiles' settings and evaluation reports as Markdown tables;
* :mod:`ltdd.book.viz.images`: images as grids (per class, sets side by side, aligned beside conflicting,
  colour noise, corruptions);
* :mod:`ltdd.book.viz.counts`: what a training set holds (images per class, shot groups, aligned and
  conflicting images, the class-by-attribute matrix);
* :mod:`ltdd.book.viz.curves`: accuracy and loss curves, the methods compared, a bias sweep's curves;
* :mod:`ltdd.book.viz.diagnostics` and :mod:`ltdd.book.viz.features`: the figures of :mod:`ltdd.diagnostics`
  and :mod:`ltdd.features`;
* :mod:`ltdd.book.viz.recorded`: the recorded CIFAR-10 experiments beside the papers (imported from there, not
  from here, since it reads :mod:`ltdd.studies.recorded`).

Every other name is importable from here (``from ltdd.book.viz import show_images``), and so is
:func:`ltdd.markdown.markdown_table`. Every plotting function returns a :class:`matplotlib.figure.Figure` and
closes it in pyplot before returning, so a notebook shows the figure exactly once (as the cell's value) and
scripts can ``fig.savefig(...)``. Table helpers return Markdown text; show it with
``IPython.display.Markdown(text)``.
"""

from ...markdown import ALIGNMENTS, markdown_table
from .core import BIAS_GROUP_COLORS, OTHER_GROUP_COLOR, SHOT_GROUP_COLORS, as_long_cpu, finish_figure, palette
from .tables import PROFILE_FIELDS, accuracy_table, profile_table
from .images import (corruption_gallery, plot_colour_noise, plot_corruption_gallery, show_aligned_conflicting,
                     show_image_panels, show_image_rows, show_images)
from .counts import (attribute_count_matrix, counts_table, plot_aligned_conflicting, plot_attribute_counts,
                     plot_class_counts, plot_shot_groups)
from .curves import (moving_average, plot_accuracy_vs_ipc, plot_bias_sweep_curves, plot_loss_curves,
                     plot_method_comparison, plot_per_class_accuracy)
from .diagnostics import plot_accuracy_vs_class_size, plot_full_set_bias_sweep, plot_weight_norms
from .features import plot_real_vs_synthetic

__all__ = [
    "ALIGNMENTS", "BIAS_GROUP_COLORS", "OTHER_GROUP_COLOR", "PROFILE_FIELDS", "SHOT_GROUP_COLORS", "accuracy_table",
    "as_long_cpu", "attribute_count_matrix", "corruption_gallery", "counts_table", "finish_figure",
    "markdown_table", "moving_average", "palette", "plot_accuracy_vs_class_size", "plot_accuracy_vs_ipc",
    "plot_aligned_conflicting", "plot_attribute_counts", "plot_bias_sweep_curves", "plot_class_counts",
    "plot_colour_noise", "plot_corruption_gallery", "plot_full_set_bias_sweep", "plot_loss_curves",
    "plot_method_comparison", "plot_per_class_accuracy", "plot_real_vs_synthetic", "plot_shot_groups",
    "plot_weight_norms", "profile_table", "show_aligned_conflicting", "show_image_panels", "show_image_rows",
    "show_images",
]
