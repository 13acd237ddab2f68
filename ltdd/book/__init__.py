"""Everything that exists for the book's pages rather than for the algorithms: figures and tables
(:mod:`ltdd.book.viz`), the chapters' widgets (:mod:`ltdd.book.widgets`), the exercise checkers
(:mod:`ltdd.book.exercises`), the student and Colab editions (:mod:`ltdd.book.student`,
:mod:`ltdd.book.colab`) and the generated settings page (:mod:`ltdd.book.settings_page`).

The package imports none of them, so ``import ltdd.book.viz`` loads the figures alone.
"""
