"""The student edition (ltdd.book.student): solutions removed, a stub after every exercise; the exercise checkers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from ltdd.cli import main
from ltdd.book.exercises import CHECKERS, check
from ltdd.book.student import remove_solutions, student_notebook

CHAPTERS = Path(__file__).resolve().parent.parent / "chapters"

MARKDOWN = """## Exercises

````{exercise}
:label: ex-a

Compute this:

```python
x = 1
```
````

````{solution} ex-a
:class: dropdown

```python
print("the answer")
```
````

```{exercise}
:label: ex-b

And that.
```

```{solution} ex-b
:class: dropdown

Secret.
```
Closing words."""


def test_solutions_go_and_a_stub_follows_every_exercise():
    assert "the answer" not in remove_solutions(MARKDOWN) and "Secret" not in remove_solutions(MARKDOWN)
    assert "x = 1" in remove_solutions(MARKDOWN)  # code inside an exercise stays
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(MARKDOWN)])
    student, labels = student_notebook(notebook)
    assert labels == ["ex-a", "ex-b"]
    kinds = [(cell.cell_type, "raises-exception" in cell.metadata.get("tags", [])) for cell in student.cells]
    assert kinds == [("markdown", False), ("code", True), ("markdown", False), ("code", True), ("markdown", False)]
    assert 'raise NotImplementedError("exercise ex-a' in student.cells[1].source
    assert student.cells[-1].source == "Closing words."
    nbformat.validate(student)


def test_unclosed_blocks_and_unlabelled_exercises_are_errors():
    with pytest.raises(ValueError, match="never closed"):
        remove_solutions("```{solution} x\nno end")
    bad = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("```{exercise}\nno label\n```")])
    with pytest.raises(ValueError, match="has no :label:"):
        student_notebook(bad)


@pytest.mark.parametrize("path", sorted(CHAPTERS.glob("*.ipynb")), ids=lambda p: p.stem)
def test_every_chapter_loses_its_solutions_and_keeps_the_rest(path):
    notebook = nbformat.read(path, as_version=4)
    student, labels = student_notebook(notebook)
    text = "\n".join(cell.source for cell in notebook.cells)
    assert len(labels) == text.count("{exercise}") == text.count("{solution}")
    assert not any("{solution}" in cell.source for cell in student.cells)
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    assert [c.source for c in student.cells if c.cell_type == "code" and not c.id.startswith("stub-")] == code
    nbformat.validate(student)


def test_student_edition_command_writes_every_chapter(tmp_path, capsys):
    assert main(["student-edition", str(tmp_path / "se")]) == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    written = sorted(p.stem for p in (tmp_path / "se" / "chapters").glob("*.ipynb"))
    assert written == sorted(p.stem for p in CHAPTERS.glob("*.ipynb")) == sorted(record["exercises"])
    assert sum(len(v) for v in record["exercises"].values()) >= 40
    assert main(["student-edition", str(tmp_path / "x"), "--chapters", str(tmp_path)]) == 2


# Right answers typed from the worked solutions in the chapters (hand arithmetic, the papers' tables), to the
# precision each question asks for. They are not read back from ltdd.book.exercises.
SOLUTIONS = {
    "ex-01-budget": (0.02, 0.20, 1.00, 30.7),  # 10/100/500 of 50,000; DM paper Table 1: random IPC 10 26.0 / 84.8
    "ex-02-count": (1357, 1546),  # ⌊5000 · 50^(−3/9)⌋, ⌊5000 · 50^(−3/10)⌋
    "ex-02-ipc": 12.2,  # 122 / 10
    "ex-02-groups": (69, 81),
    "ex-02-plans": (250, 200),  # 10 · ⌊25⌋, 100 · ⌊2.5⌋
    "ex-03-milestones": (4000, 111, 111, 111, 111, 112, 111, 111, 111, 111),
    "ex-03-shortcut": (0.95, 0.00),
    "ex-03-rate": (119, 120, 118, 122, 120, 120, 121, 119, 116, 120),  # the worked solution's counts
    "ex-03-unbiased": (0.100, 0.111),  # 1/C, 1/(C−1)
    "ex-04-decay": (0.9969,),  # (1 − 0.01 · 0.005)^62: 31 passes × 2 batches of 256 over 494 images
    "ex-05-steps": (1.998, 1.000),  # (1 − 0.5^10) / 0.5 and 1
    "ex-06-step-per-class": (1.998, 1.000),
    "ex-07-ema": (10, 100),  # 1 / (1 − α)
    "ex-08-lambda": (0.47, 0.85, 0.89, 5.67),  # λ (0.95 − 0.1)/0.9 and λ_c / (1 − λ_c)
    "ex-08-match1d": (10, 14),
    "ex-09-budgets": (10, 70, 1000, 7000, 5016, 7.0),
    "ex-09-cifar100": (5, 3396),
    "ex-09-table-iv": (100, 50),  # CIFAR-100-LT, head at IPC 50
    "ex-11-dam-cifar": (0.403, 0.00403, 10.0, 100),  # 5000/12406, 50/12406, C, β
    "ex-12-budgets": (120, 296, 24.3, 59.9),  # 10 × 12 and 5 × 38 + 106, of 494 images
}


def _nudged(answer, part: int, by: float):
    values = list(answer) if isinstance(answer, tuple) else [answer]
    values[part] += by
    return tuple(values)


@pytest.mark.parametrize("label", sorted(SOLUTIONS))
def test_checkers_accept_the_worked_solutions_and_refuse_a_digit_off(label, capsys):
    answer = SOLUTIONS[label]
    assert check(label, answer), capsys.readouterr().out
    last = (len(answer) if isinstance(answer, tuple) else 1) - 1
    assert not check(label, _nudged(answer, last, abs(_nudged(answer, last, 0)[last]) * 0.05 + 0.01), verbose=False)


def test_a_coarser_answer_is_not_accepted(capsys):
    assert not check("ex-05-steps", (2.0, 1.0))  # 2.0 is not 1.998 to three decimals
    assert "part(s) 1 of 2 are off" in capsys.readouterr().out
    assert check("ex-05-steps", (1.998046875, 1.0), verbose=False)  # more digits than asked are fine
    assert not check("ex-11-dam-cifar", (0.40, 0.004, 10, 100), verbose=False)  # two figures where three are asked


def test_recorded_answers_are_checked_to_the_asked_precision():
    import numpy as np

    from ltdd.reference import tm_memory_table

    memory = tm_memory_table()["bptt"]
    steps = sorted(memory)
    slope = np.polyfit(steps, [memory[s]["peak_mb"] for s in steps], 1)[0]  # the solution's own computation
    assert check("ex-10-memory", round(slope), verbose=False)
    assert not check("ex-10-memory", round(slope) + 1, verbose=False)
    from ltdd.studies.rebalance import RebalanceStudy
    from ltdd.reference import REFERENCE_DIR

    recorded = RebalanceStudy.load(REFERENCE_DIR / "comparison_digits_lt_cpu.json")
    gains = [100 * (h - w) for h, w in zip(recorded.values("CRLT-DD distill head", "groups.shots.few"),
                                           recorded.values("whole long-tailed set", "groups.shots.few"))]
    assert check("ex-12-few-gain", round(sum(gains) / len(gains), 1), verbose=False)
    assert not check("ex-12-few-gain", round(sum(gains) / len(gains), 1) + 0.2, verbose=False)


@pytest.mark.parametrize("profile, feature_length", [("smoke", 32 * 2 * 2), ("cpu", 64 * 2 * 2)])
def test_the_paper_form_checker_follows_the_chapters_network(monkeypatch, profile, feature_length):
    # chapter 07 on the digits (16×16): three 2×2 average pools leave 2×2 maps of `width` channels, so d is
    # width · 4 (smoke width 32, cpu 64); DSDM's tune_lr_img: 0.1 · IPC/10 = 0.01 at IPC 1, the paper's η = 0.1
    monkeypatch.setenv("LTDD_PROFILE", profile)
    assert check("ex-07-paper-form", (feature_length, 0.01, 0.1), verbose=False)
    assert not check("ex-07-paper-form", (2048, 0.01, 0.1), verbose=False)  # CIFAR-10's d, not this network's
    assert not check("ex-07-paper-form", (feature_length, 0.1, 0.1), verbose=False)  # the code scales by IPC/10
    assert not check("ex-07-paper-form", (feature_length, 0.01, 0.01), verbose=False)  # the paper does not


@pytest.mark.parametrize("profile", ["smoke", "cpu"])
def test_the_meter_checker_weighs_a_never_trained_network(monkeypatch, profile):
    # chapter 06's ablation IPC on the digits is 1; IDM's command.txt, CIFAR-10 IPC 1: --ce_weight 0.5, so the
    # faulty meter's 100 % gives 0.5 · 100 = 50 and the honest meter's 0 % gives 0
    monkeypatch.setenv("LTDD_PROFILE", profile)
    assert check("ex-06-meter", (50.0, 0.0), verbose=False)
    assert not check("ex-06-meter", (0.5, 0.0), verbose=False)  # Acc_phi is a percentage, not a fraction
    assert not check("ex-06-meter", (50.0, 50.0), verbose=False)  # the honest meter reads 0 for no count


def test_the_colour_alignment_checker_wants_zero_for_the_conflicting_images(monkeypatch):
    # chapter 08's worked solution on the digits: 1.0 and 0.0 at severity 4, 0.98 and 0.0 at severity 1
    monkeypatch.setenv("LTDD_PROFILE", "smoke")
    assert check("ex-08-sanity", (1.00, 0.00, 0.98, 0.00), verbose=False)
    assert not check("ex-08-sanity", (1.0, 0.1, 0.98, 0.1), verbose=False)  # colours unrelated to the class
    assert not check("ex-08-sanity", (1.0, 0.0, 1.0, 0.0), verbose=False)  # the jitter of severity 1 costs 2 %


def test_checkers_do_not_reveal_the_right_answers(capsys):
    import ltdd.book.exercises as exercises

    for label, checker in CHECKERS.items():
        assert not hasattr(checker, "expected")
        text = repr(checker) + (exercises.__doc__ or "") + (exercises.check.__doc__ or "")
        assert "1.998" not in text and "12.2" not in text
    check("ex-02-ipc", 10.0)
    assert "12.2" not in capsys.readouterr().out
    with pytest.raises(ValueError, match="has no checker"):
        check("ex-99-none", 1)
    with pytest.raises(ValueError, match="expected 2 number"):
        check("ex-05-steps", 2.0)
    with pytest.raises(ValueError, match="must be numbers"):
        check("ex-05-steps", ("a", 1))


def test_every_exercise_with_a_checker_says_how_precise_and_imports_check():
    for path in CHAPTERS.glob("*.py"):
        text = path.read_text()
        for label in CHECKERS:
            if f":label: {label}" in text:
                block = text[text.index(f":label: {label}"):]
                block = " ".join(line.lstrip("# ") for line in block[:block.index("{solution}")].splitlines())
                assert f'check("{label}"' in block and "from ltdd.book.exercises import check" in block, label
                assert re.search(r"decimal|whole number|significant|class indices|two counts|number of classes",
                                 block), label


def test_the_student_edition_drops_sentences_about_solutions():
    notebook = nbformat.read(CHAPTERS / "00_how_to_use.ipynb", as_version=4)
    assert any("Solutions are folded" in cell.source for cell in notebook.cells)
    student, _ = student_notebook(notebook)
    text = "\n".join(cell.source for cell in student.cells if cell.cell_type == "markdown")
    assert "olutions are folded" not in text
    assert "## Exercises" in text and "a running notebook" in text
    for path in sorted(CHAPTERS.glob("*.ipynb")):
        student, _ = student_notebook(nbformat.read(path, as_version=4))
        prose = "\n".join(c.source for c in student.cells if c.cell_type == "markdown")
        assert not re.search(r"\b[Ss]olutions? (are|say|quote)", prose), path.name


def test_every_checker_names_an_exercise_of_the_book():
    text = "\n".join(path.read_text() for path in CHAPTERS.glob("*.py"))
    assert all(f":label: {label}" in text for label in CHECKERS)


@pytest.mark.parametrize("path", sorted(CHAPTERS.glob("*.py")), ids=lambda p: p.stem)
def test_exercise_and_solution_blocks_hold_their_code_in_a_longer_fence(path):
    # a ``` block holding a ```python block ends at the inner fence: the rest of it, and the next exercise,
    # would render as code (chapter 01's ex-01-protocol vanished that way)
    lines = [line[2:] if line.startswith("# ") else line.lstrip("#") for line in path.read_text().splitlines()]
    for start, line in enumerate(lines):
        opener = re.match(r"^(`{3,}|:{3,})\{(exercise|solution)\}", line)
        if opener:
            fence = opener.group(1)
            end = next(i for i in range(start + 1, len(lines)) if lines[i].strip() == fence)
            inner = [l for l in lines[start + 1:end] if re.match(rf"^{re.escape(fence)}\w", l.strip())]
            assert not inner, f"{path.name}:{start + 1}: the block needs a longer fence than its code: {inner}"
def test_stubs_name_the_exercise_by_the_book_number_too(tmp_path):
    from ltdd.book.student import student_edition

    student_edition(tmp_path)
    stubs = [cell.source for cell in nbformat.read(tmp_path / "chapters" / "12_all_methods.ipynb", as_version=4).cells
             if cell.cell_type == "code" and "NotImplementedError" in cell.source]
    assert stubs[0].startswith("# Exercise 12.1 (ex-12-budgets):") and stubs[2].startswith("# Exercise 12.3 (")


def test_the_momentum_checker_tells_the_finite_sum_from_the_infinite_series():
    # sum_{k=0}^{9} 0.5^k = 1.998046875; the geometric series' limit 2.0 is the wrong answer (issue 19)
    assert not check("ex-05-steps", (2.0, 1.0), verbose=False)
    assert check("ex-05-steps", (1.998, 1.0), verbose=False)


def test_book_only_text_is_left_out_of_the_student_edition():
    from ltdd.book.student import BOOK_ONLY

    book = nbformat.read(Path(__file__).resolve().parent.parent / "chapters" / "00_how_to_use.ipynb", as_version=4)
    assert any(BOOK_ONLY.search(cell.source) for cell in book.cells if cell.cell_type == "markdown")
    student, _ = student_notebook(book)
    text = "\n".join(cell.source for cell in student.cells if cell.cell_type == "markdown")
    assert "Solutions are folded" not in text and "book-only" not in text
    assert "Chapters end with exercises." in text  # only the marked lines go
