"""Writing results so that nothing is lost: atomic writes, locks for shared files, output checks.

* :func:`~ltdd.files.atomic_save` / :func:`~ltdd.files.atomic_write_text` write a uniquely named temporary
  file beside the target, then rename it over the target: a reader, a crash or a second writer never sees half
  a file, and a failed write leaves no temporary file behind. The result honours the umask (like any file the
  user creates), and :func:`~ltdd.files.atomic_save` gives the same bytes for the same tensors.
* :func:`~ltdd.files.locked` holds an exclusive lock on a folder while a process reads, merges and rewrites a
  file that several processes update (a study's ``study.json``, an expert buffer's ``buffer.json``).
* :func:`~ltdd.files.check_output_folder` and :func:`~ltdd.files.check_output_file` find an output that
  cannot be written *before* a run starts; :func:`~ltdd.files.refuse_to_replace` keeps earlier results unless
  the user says ``--resume`` or ``--overwrite``.
* :func:`~ltdd.files.read_json` names the file when its JSON is broken; :func:`~ltdd.files.settings_mismatch`
  names the settings in which a saved run differs from the one asked for.

This module imports :mod:`torch` only where it saves a tensor file, so a small process can use it.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence


def _umask_mode() -> int:
    """The mode a new file gets from ``open()``: 0o666 without the process's umask bits."""
    try:  # Linux tells the umask without changing it (setting it, even briefly, races with other threads)
        with open("/proc/self/status") as status:
            mask = next(int(line.split()[1], 8) for line in status if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        mask = os.umask(0)
        os.umask(mask)
    return 0o666 & ~mask


def _atomic_write(path: str | Path, write) -> Path:
    """Call ``write(file)`` on a fresh temporary file beside ``path``, then rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; cannot write a file there")
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, _umask_mode())  # mkstemp makes 0600 files; results are shared like any other file
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise
    return path


def atomic_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` ``obj`` to ``path`` atomically (a uniquely named temporary file, then a rename).

    The archive is written through a file object, so its inner name does not depend on the temporary file's:
    the same tensors give the same bytes.

    Machinery behind chapter 00 (the command line's outputs)."""
    import torch

    return _atomic_write(path, lambda file: torch.save(obj, file))


def atomic_write_text(text: str, path: str | Path) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically: readers see the old file or the new one, never a part.

    Machinery behind chapter 00 (the command line's outputs)."""
    data = text.encode("utf-8")
    return _atomic_write(path, lambda file: file.write(data))


@contextlib.contextmanager
def locked(folder: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (created if missing) for the ``with`` block.

    Processes that update one file in the folder (read, merge, write) take turns; the lock is an advisory
    ``flock`` on the folder itself, so no lock file is left behind. Where ``fcntl`` is missing (Windows) the
    block runs unlocked.

    Machinery behind chapter 00 (the command line's outputs)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    handle = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # closing the descriptor releases the lock


def read_json(path: str | Path) -> Any:
    """Parse the JSON file ``path``; a file that is not valid JSON is a ``ValueError`` naming it.

    Machinery behind chapter 00 (the command line's outputs)."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not a valid JSON file ({error}); repair or remove it") from error


def _first_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path.cwd()


def check_output_folder(folder: str | Path, flag: str = "--out", files: Sequence[str] = ()) -> Path:
    """Make sure results can be written into ``folder`` before a long run starts: it is a writable folder, or
    the nearest folder above it that exists is writable (so it can be made), and none of ``files`` in it is a
    folder. Creates nothing; raises ``ValueError`` naming ``flag`` otherwise.

    Machinery behind chapter 00 (the command line's outputs)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{flag} {str(folder)!r} is a file; it must name a folder")
    existing = _first_existing(folder)
    if not existing.is_dir():
        raise ValueError(f"{flag} {str(folder)!r} cannot be created: {str(existing)!r} is a file, not a folder")
    try:  # a real write: permission bits say nothing about read-only mounts, and root ignores them
        handle, probe = tempfile.mkstemp(dir=existing, prefix=".ltdd-write-check.")
        os.close(handle)
        os.remove(probe)
    except OSError as error:
        where = "" if existing == folder else f" (cannot create it in {str(existing)!r})"
        raise ValueError(f"{flag} {str(folder)!r} is not writable{where}: {error.strerror or error}") from error
    for name in files:
        if (folder / name).is_dir():
            raise ValueError(f"{flag} {str(folder)!r}: {name} there is a folder, so the result cannot be written")
    return folder


def check_output_file(path: str | Path, flag: str = "--out") -> Path:
    """Make sure the file ``path`` can be written before a long run starts (its folder is writable and it is
    not a folder itself); raises ``ValueError`` naming ``flag`` otherwise.

    Machinery behind chapter 00 (the command line's outputs)."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{flag} {str(path)!r} is a folder; it must name a file")
    check_output_folder(path.parent if str(path.parent) else Path("."), flag)
    if path.exists() and not os.access(path, os.W_OK):
        raise ValueError(f"{flag} {str(path)!r} is not writable")
    return path


def settings_mismatch(theirs: Mapping, mine: Mapping, keys: Sequence | None = None) -> str:
    """``"k=<theirs> there, <mine> now, ..."`` for every key (default: all, sorted) whose values differ; ``""``
    when they agree. The message every "written with other settings" refusal uses (a checkpoint, an expert
    buffer, a study's ``study.json``). Machinery behind chapter 00 (``--resume``)."""
    keys = sorted(set(theirs) | set(mine)) if keys is None else keys
    return ", ".join(f"{k}={theirs.get(k)!r} there, {mine.get(k)!r} now" for k in keys if theirs.get(k) != mine.get(k))


def refuse_to_replace(outputs: Sequence[str | Path], resume: bool, overwrite: bool, flag: str = "--out") -> None:
    """Keep earlier results: when any of ``outputs`` exists, a run needs ``resume`` (continue them) or
    ``overwrite`` (replace them); otherwise a ``ValueError`` naming them.

    Machinery behind chapter 00 (the command line's outputs)."""
    if resume and overwrite:
        raise ValueError("--resume and --overwrite exclude each other: continue the results or replace them")
    present = [str(p) for p in outputs if Path(p).exists()]
    if present and not resume and not overwrite:
        raise ValueError(f"{flag} already holds results ({', '.join(present)}); pass --resume to continue them or "
                         f"--overwrite to replace them")


__all__ = ["atomic_save", "atomic_write_text", "check_output_file", "check_output_folder", "locked", "read_json",
           "refuse_to_replace", "settings_mismatch"]
