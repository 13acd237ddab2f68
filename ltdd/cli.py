"""Command line: ``python -m ltdd info | data | distill | evaluate | bias-sweep | rebalance | experts | tm-ablation |
compare | longtail-effect | convergence | student-edition | colab-edition | set-repository`` (also the ``ltdd``
console script).

The contract (the README's "Command line" section) is stable: tests and users rely on it.

* ``info`` — profile, device, versions, data root.
* ``data NAME`` — a JSON summary: counts per class, totals.
* ``distill METHOD --dataset NAME --ipc K --seed S --out DIR [--iterations N] [--resume | --overwrite]
  [--option KEY=VALUE ...]`` — writes ``DIR/synthetic.pt`` and ``DIR/run.json`` (config, seed, iterations,
  seconds of every run segment, iterations per second, peak memory); checkpoints go to ``DIR/checkpoint.pt``
  atomically every ``--checkpoint-every`` iterations, at the end and on Ctrl-C, and ``--resume`` continues from
  there to the same result.
* ``evaluate DIR [--model NAME] [--seeds N] [--profile P]`` — the last stdout line is a JSON object with
  ``mean``, ``std``, ``per_class`` and the per-run numbers.
* ``bias-sweep METHOD|LABEL=METHOD[:KEY=VALUE,...] ... --dataset NAME --ratios R,... --severities S,...
  --seeds K,... --out FILE.json`` — distil and evaluate every method at every bias ratio and severity
  (:func:`ltdd.studies.biased.bias_sweep`), with the full-set control; writes the rows and the provenance (command,
  commit, device, versions) to ``FILE.json`` after every distilled set (atomically); ``--resume`` runs only
  what the file lacks. Prints the table.
* ``rebalance PLAN ... --dataset NAME --imbalance B [--method dm] [--simclr] [--seeds 0,1,2] --out DIR`` —
  CRLT-DD's plans (:mod:`ltdd.studies.rebalance`; ``table-iii`` runs every row of its Table III): builds each plan's
  training set, trains the evaluation networks on it (from a SimCLR encoder with ``--simclr``), and writes the
  rows (overall, per-class, shot-group and head/tail accuracy, size report) with the provenance to
  ``DIR/study.json`` after every row, atomically; ``--resume`` runs only what the file lacks. Prints the table;
  the last stdout line is JSON.
* ``experts --dataset NAME --out DIR [--experts N] [--shard I/N] [--stage classifier --representation DIR]
  [--preset METHOD:IPC] [--option KEY=VALUE ...]`` — train expert trajectories for trajectory matching
  (:mod:`ltdd.distill.experts`) into ``DIR`` (one file per expert, written atomically; a rerun trains only the
  missing ones). The last stdout line is JSON. ``distill mtt|datm|ltdd --option buffer=DIR`` uses them;
  ``--preset`` on either command fills the published settings (:mod:`ltdd.distill.tm_presets`); under
  ``--profile paper``, ``distill mtt|datm|ltdd`` takes them without ``--preset`` where they exist.

* ``tm-ablation --dataset NAME --seeds 0,1,2 --out DIR [--resume]`` — LTDD's ablation (MTT, base, +DAM,
  +DAM+ED; :func:`ltdd.studies.tm_study.tm_ablation`) at the profile's scale: experts per seed under ``DIR/buffers``,
  the rows with provenance in ``DIR/study.json`` after every row. Prints the table; the last line is JSON.

* ``compare --dataset NAME --seeds 0,1,2 --out DIR [--protocol ours|papers] [--rows LABEL,...] [--iterations N]
  [--eval-epochs N] [--networks N] [--resume]`` —
  every method of the book on one long-tailed set under one evaluation protocol
  (:func:`ltdd.studies.comparison.compare_methods`): experts under ``DIR/buffers``, the rows with provenance in
  ``DIR/study.json`` after every row, a distillation row's run in ``DIR/study_<row>_seed<S>.pt`` every few
  iterations (``--resume`` continues it there). Prints the table; the last line is JSON.

* ``convergence METHOD --checkpoints K1,K2,... --out DIR [--ipc K] [--seed S] [--networks N] [--eval-epochs N]
  [--option KEY=VALUE ...] [--resume]`` — one distillation run evaluated after each of the iteration counts
  (:func:`ltdd.studies.convergence.accuracy_against_iterations`): the rows with provenance in ``DIR/study.json``,
  the run's state in ``DIR/checkpoint.pt`` before each evaluation, so ``--resume`` continues it. Prints the
  accuracy per checkpoint; the last line is JSON.

* ``student-edition OUT`` — every chapter without its solutions, a stub cell after each exercise
  (:mod:`ltdd.book.student`), in ``OUT/chapters``; prints the exercises per chapter as JSON.
* ``colab-edition [OUT]`` — every chapter (and its student edition, in ``OUT/student``) in the plain Markdown that
  Colab renders (:mod:`ltdd.book.colab`); OUT defaults to the checkout's ``colab/``, which the launch buttons open.
* ``set-repository URL`` — a fork's repository (``https://github.com/OWNER/REPO``) in ``_config.yml`` and every
  place that repeats it (install cells, ``pyproject.toml``, README), and the Colab edition again.

Every command that loads data takes ``--profile``, ``--device``, ``--data-root`` and ``--download`` /
``--no-download`` (:func:`add_run_flags`), every study also ``--seeds``, ``--out``, ``--resume``, ``--overwrite``
and ``--quiet`` (:func:`add_study_flags`); all but ``longtail-effect`` take ``--zca EPS`` (ZCA-whiten train
and test images, as MTT/DATM's ``--zca``).

Nothing finished is lost (:mod:`ltdd.files`): an ``--out`` that already holds results needs ``--resume`` or
``--overwrite``; the output is checked before the first iteration; a diverging run stops with the iteration
and its step sizes named; every error is one line (exit 2 for a bad request, 3 for a diverged run, 1 for a
system error, 130 for Ctrl-C).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import signal
import sys
import threading
import time
import warnings
from pathlib import Path

import torch

from . import __version__
from .checks import positive_int
from .config import available_profiles, default_data_root, download_allowed, get_device, get_profile
from .data import available_datasets, counts_only, dataset_options, load_dataset
from .data.longtail import DEFAULT_IMBALANCE
from .distill import (PAPER_ITERATIONS, SyntheticSet, available_methods, make_distiller, method_config,
                      paper_settings)
from .files import (atomic_save, atomic_write_text, check_output_file, check_output_folder, read_json,
                    refuse_to_replace)
from .models import available_models
from .studies import eval_config
from .train import evaluate_synthetic


def _print_json(payload: dict) -> None:
    print(json.dumps(payload, default=float))


def _download_flag(args: argparse.Namespace, profile) -> bool:
    return download_allowed(profile) if args.download is None else args.download


def cmd_info(args: argparse.Namespace) -> int:
    """``python -m ltdd info``: print the profile, device, versions, data root and registries as JSON."""
    profile = get_profile(args.profile)
    device = get_device(args.device)
    import torchvision

    _print_json({
        "ltdd": __version__, "python": platform.python_version(), "torch": torch.__version__,
        "torchvision": torchvision.__version__, "cuda_available": torch.cuda.is_available(),
        "device": str(device), "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "profile": profile.as_dict(), "data_root": str(default_data_root()),
        "download_allowed": download_allowed(profile), "datasets": available_datasets(),
        "models": available_models(), "methods": available_methods(), "profiles": available_profiles(),
    })
    return 0


def _options(args: argparse.Namespace) -> dict:
    return dataset_options(args.imbalance, args.bias_ratio, args.severity, getattr(args, "zca", None))


def _run_record(args: argparse.Namespace, device: torch.device) -> dict:
    """The provenance a study file records: device (and GPU), command, commit, versions."""
    record = {"device": str(device), **_provenance(args.argv)}
    if device.type == "cuda":
        record["gpu"] = torch.cuda.get_device_name(device)
    return record


def _print_study_summary(path: Path, study) -> None:
    """The last stdout line of a study command: where it is, how many rows, the mean accuracy of each."""
    _print_json({"out": str(path), "rows": len(study.rows),
                 "accuracy": {label: study.mean_std(label)[0] for label in study.labels()}})


def cmd_data(args: argparse.Namespace) -> int:
    """``python -m ltdd data NAME``: print a dataset's counts per class and totals as JSON."""
    if args.counts_only:
        if not args.name.lower().endswith("-lt"):
            raise ValueError(f"--counts-only is for a long-tailed set (a name ending in -lt), got {args.name!r}")
        ignored = [flag for flag, value in (("--bias-ratio", args.bias_ratio), ("--severity", args.severity),
                                            ("--zca", args.zca)) if value is not None]
        if ignored:
            raise ValueError(f"--counts-only prints class counts only; {', '.join(ignored)} would be ignored")
        counts = counts_only(args.name, args.imbalance)
        lt_name = args.name.lower().removesuffix("-lt") + "-lt"
        imbalance = args.imbalance if args.imbalance is not None else DEFAULT_IMBALANCE.get(lt_name)
        _print_json({"name": lt_name, "imbalance": imbalance, "per_class": counts,
                     "total": sum(counts), "num_classes": len(counts)})
        return 0
    profile = get_profile(args.profile)
    dataset = load_dataset(args.name, data_root=args.data_root, download=_download_flag(args, profile),
                           device="cpu", **_options(args))
    _print_json(dataset.summary())
    return 0


def _tm_preset(args: argparse.Namespace, profile, dataset, ipc: int):
    """The published setting a distillation runs: the ``--preset`` (an error when there is none), and under the
    ``paper`` profile a trajectory-matching method's published setting for this dataset, IPC and β when there is
    one (otherwise ``None``, with a note: the method's own defaults run)."""
    from .distill.tm_presets import TM_METHODS, find_preset, tm_preset

    imbalance = dataset.info.get("imbalance")
    if args.preset:
        return tm_preset(args.method, dataset.name, ipc, imbalance)
    if profile.name != "paper" or args.method not in TM_METHODS:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # find_preset warns below when it returns a corrected config
        preset = find_preset(args.method, dataset.name, ipc, imbalance)
    if preset is None:
        print(f"note: no published {args.method} setting for {dataset.name} at IPC {ipc}"
              + (f", beta {imbalance:g}" if imbalance else "") + f"; the {args.method} defaults run", file=sys.stderr)
    elif preset.flag:
        print(f"warning: the published setting is a corrected config: {preset.flag}", file=sys.stderr)
    return preset


DISTILL_OUTPUTS = ("synthetic.pt", "checkpoint.pt", "run.json")
"""The files ``distill`` writes into ``--out``; an existing one needs ``--resume`` or ``--overwrite``."""


def check_outputs(args: argparse.Namespace, folder: Path, names: tuple[str, ...]) -> list[Path]:
    """Before a long run: ``folder`` is a writable folder where none of ``names`` is a folder, and the results
    already there are kept unless ``--resume`` or ``--overwrite`` says otherwise (``ValueError``)."""
    check_output_folder(folder, "--out", names)
    outputs = [folder / name for name in names]
    refuse_to_replace(outputs, args.resume, args.overwrite)
    return outputs


def cmd_distill(args: argparse.Namespace) -> int:
    """``python -m ltdd distill METHOD``: distil a set (resumable); write ``synthetic.pt`` and ``run.json``."""
    profile = get_profile(args.profile)
    device = get_device(args.device)
    if args.checkpoint_every < 0:
        raise ValueError(f"--checkpoint-every must be an int >= 0 (0: only at the end), got {args.checkpoint_every}")
    out = Path(args.out)
    outputs = check_outputs(args, out, DISTILL_OUTPUTS)
    dataset = load_dataset(args.dataset or profile.dataset, data_root=args.data_root,
                           download=_download_flag(args, profile), device=device, **_options(args))
    settings = {"ipc": args.ipc if args.ipc is not None else profile.ipc}
    preset = _tm_preset(args, profile, dataset, settings["ipc"])
    if preset is not None:
        settings.update(preset.settings)
        print(f"preset: {preset.source}" + (f" (corrected: {preset.flag})" if preset.flag else ""), file=sys.stderr)
    elif profile.name == "paper":  # each method's own setting, not one profile-wide iteration count
        settings.update(paper_settings(args.method, dataset.name, settings["ipc"]))
    options = parse_options(args.option, method_config(args.method))
    if "ipc" in options and args.ipc is not None and options["ipc"] != args.ipc:
        raise ValueError(f"--option ipc={options['ipc']} contradicts --ipc {args.ipc}; give one of them")
    settings.update(options)
    if preset is not None:
        default_iterations = preset.iterations
    elif profile.name == "paper":
        default_iterations = PAPER_ITERATIONS.get(args.method.lower(), profile.iterations)
    else:
        default_iterations = profile.iterations
    target = args.iterations if args.iterations is not None else default_iterations
    positive_int("--iterations", target)
    distiller = make_distiller(args.method, dataset, seed=args.seed, profile=profile, **settings)
    checkpoint = out / "checkpoint.pt"
    segments: list[dict] = []
    if args.resume:
        segments = resume(distiller, checkpoint, out)
    if distiller.iteration > target:
        raise ValueError(f"--iterations={target} is fewer than the {distiller.iteration} the checkpoint has run")
    if not distiller.iterative:
        target = 0
    if args.resume and _finished(distiller, target, out):
        print(f"{out} already holds this run at iteration {distiller.iteration}: nothing to do", file=sys.stderr)
        _print_json(read_json(out / "run.json"))
        return 0
    if args.overwrite:
        remove_outputs(outputs)

    started = time.perf_counter()
    done_before = distiller.iteration

    def record_segments(seconds: float | None = None) -> list[dict]:
        """The earlier runs' segments and this one's so far (``seconds``: its time, default until now)."""
        seconds = time.perf_counter() - started if seconds is None else seconds
        return segments + [{"from_iteration": done_before, "to_iteration": distiller.iteration,
                            "seconds": seconds, "device": str(device)}]

    def save(d, seconds: float | None = None) -> None:
        atomic_save({**d.state_dict(), "run_segments": record_segments(seconds)}, checkpoint)

    with InterruptAfterStep() as interrupt:
        def save_checkpoint(d, _metrics) -> None:
            if interrupt.requested:
                save(d)
                raise RunInterrupted(f"interrupted: iteration {d.iteration} is saved in {checkpoint}; "
                                     f"--resume continues from there")
            if args.checkpoint_every and d.iteration % args.checkpoint_every == 0:
                save(d)

        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        synthetic = distiller.run(max(0, target - distiller.iteration), callbacks=(save_checkpoint,),
                                  progress=not args.quiet)
    seconds = time.perf_counter() - started
    if distiller.iterative:
        save(distiller, seconds)  # the final state: --resume with more iterations goes on
    segments = record_segments(seconds)
    synthetic.config = distiller.describe()
    synthetic.save(out / "synthetic.pt")
    ran = distiller.iteration - done_before
    record = {"method": args.method, "dataset": dataset.name, "seed": args.seed, "profile": profile.name,
              "config": synthetic.config, "iterations": distiller.iteration, "iterations_this_run": ran,
              "seconds": sum(segment["seconds"] for segment in segments), "seconds_this_run": seconds,
              "iterations_per_second": ran / seconds if ran and seconds > 0 else None, "segments": segments,
              "device": str(device), "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
              "synthetic": str(out / "synthetic.pt"), "num_images": len(synthetic),
              "class_counts": synthetic.class_counts(), **peak_memory(device)}
    atomic_write_text(json.dumps(record, indent=2, default=float), out / "run.json")
    _print_json(record)
    return 0


def _finished(distiller, target: int, out: Path) -> bool:
    """Whether ``out`` already holds this run's results at ``target`` iterations (a ``--resume`` with nothing to
    do, which leaves the files as they are)."""
    if distiller.iteration != target or not (out / "run.json").is_file() or not (out / "synthetic.pt").is_file():
        return False
    if distiller.iterative:
        return True
    saved = SyntheticSet.load(out / "synthetic.pt")
    if distiller.synthetic is None:
        distiller.init()
    if saved.config != distiller.describe():
        raise ValueError(f"--resume: {out / 'synthetic.pt'} was made with other settings; pass --overwrite to "
                         f"replace it")
    return True


def remove_outputs(outputs: list[Path]) -> None:
    """``--overwrite``: remove the earlier results, so that no stale file outlives the new run."""
    for path in outputs:
        if path.is_file():
            path.unlink()


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run, after the state of the last finished step was saved (the message says where)."""


class InterruptAfterStep:
    """A ``with`` block in which Ctrl-C (SIGINT) only sets ``requested``: the run finishes its step, saves a
    checkpoint and stops (a callback checks the flag). A second Ctrl-C stops at once."""

    def __init__(self):
        self.requested = False
        self.previous = None

    def _handle(self, signum, frame) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, self.previous)

    def __enter__(self) -> "InterruptAfterStep":
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def parse_options(pairs: list[str] | None, config_class) -> dict:
    """``["lr_img=0.5", "step_per_class=false"]`` → typed settings of ``config_class`` (by its field types)."""
    fields = {f.name: f for f in dataclasses.fields(config_class)}
    settings = {}
    for pair in pairs or []:
        key, sep, text = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in fields:
            raise ValueError(f"--option {pair!r} must be KEY=VALUE with KEY one of {sorted(fields)}")
        settings[key] = _typed(key, text.strip(), fields[key].default, "None" in str(fields[key].type))
    return settings


def _typed(key: str, text: str, default, optional: bool = True):
    if text.lower() in {"none", "null"}:
        if not optional and default is not None:
            raise ValueError(f"--option {key}={text!r}: {key} needs a value (default {default!r}), not none")
        return None
    if isinstance(default, bool):
        if text.lower() not in {"true", "false", "1", "0", "yes", "no"}:
            raise ValueError(f"--option {key}={text!r} must be true or false")
        return text.lower() in {"true", "1", "yes"}
    try:
        if isinstance(default, int) or (default is None and text.lstrip("-").isdigit()):
            return int(text)
        if isinstance(default, float):
            return float(text)
    except ValueError as error:
        raise ValueError(f"--option {key}={text!r} must be a {type(default).__name__}") from error
    return text


def resume(distiller, checkpoint: Path, out: Path | None = None) -> list[dict]:
    """Load ``checkpoint`` into ``distiller`` (a missing file starts afresh, unless ``out`` holds a set of an
    iterative method without it); any other method, dataset or setting is a ``ValueError`` naming the
    difference. Returns the run segments the checkpoint records (iterations and seconds of each earlier run)."""
    if not checkpoint.is_file():
        if distiller.iterative and out is not None and (out / "synthetic.pt").is_file():
            raise ValueError(f"--resume: {out} holds a synthetic set but no checkpoint.pt to continue; pass "
                             f"--overwrite to replace it")
        print(f"no checkpoint at {checkpoint}: starting from iteration 0", file=sys.stderr)
        return []
    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"--resume: {checkpoint} is not a readable checkpoint: {error}") from error
    if not isinstance(state, dict) or "method" not in state:
        raise ValueError(f"--resume: {checkpoint} is not an ltdd checkpoint")
    try:
        distiller.load_state_dict(state)
    except (KeyError, RuntimeError, TypeError, AttributeError) as error:
        raise ValueError(f"--resume: {checkpoint} does not fit this run: {error}") from error
    print(f"resumed {distiller.name} at iteration {distiller.iteration} from {checkpoint}", file=sys.stderr)
    return list(state.get("run_segments", []))


def peak_memory(device: torch.device) -> dict:
    """Peak memory of this run: CUDA's peak allocation on a GPU, the process's peak resident size on a CPU."""
    if device.type == "cuda":
        return {"peak_memory_bytes": torch.cuda.max_memory_allocated(device), "peak_memory_kind": "cuda allocated"}
    try:
        import resource
    except ImportError:  # Windows
        return {"peak_memory_bytes": None, "peak_memory_kind": "unavailable"}
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return {"peak_memory_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale,
            "peak_memory_kind": "process max RSS"}


def cmd_evaluate(args: argparse.Namespace) -> int:
    """``python -m ltdd evaluate DIR``: train fresh networks on a distilled set; print the report as JSON."""
    profile = get_profile(args.profile)
    device = get_device(args.device)
    path = Path(args.dir)
    path = path / "synthetic.pt" if path.is_dir() else path
    synthetic = SyntheticSet.load(path)
    name = args.dataset or synthetic.config.get("dataset")
    if not name:
        raise ValueError(f"{path} does not record its dataset; pass --dataset NAME")
    recorded = synthetic.config.get("dataset_options", {})
    if args.zca is not None and recorded.get("zca") != args.zca and "dataset_options" in synthetic.config:
        raise ValueError(f"--zca {args.zca} differs from the set's own zca={recorded.get('zca')} (its images live "
                         f"in that space); leave --zca out")
    options = {**recorded, **_options(args)}
    dataset = load_dataset(name, data_root=args.data_root, download=_download_flag(args, profile), device=device,
                           **options)
    # DM's recipe (EVAL_PROTOCOLS["dm"]); a set that learned its step size trains at it (MTT's, ["mtt"])
    config = eval_config("mtt" if synthetic.learned_lr else "dm", profile, args.epochs, synthetic.learned_lr)
    if args.lr is not None:
        config = dataclasses.replace(config, lr=args.lr)
    model = args.model or profile.model
    options = profile.replace(model=model).model_options()
    report = evaluate_synthetic(synthetic, dataset, model=model,
                                seeds=args.seeds if args.seeds is not None else profile.eval_seeds,
                                config=config, progress=not args.quiet, model_options=options)
    print(report, file=sys.stderr)
    _print_json({**report.as_dict(), "dataset": dataset.name, "profile": profile.name, "path": str(path)})
    return 0


def parse_method_spec(spec: str) -> tuple[str, dict]:
    """``"dedm"`` or ``"DeDM (GCE)=dedm:bias_source=gce,push_weight=0.3"`` → ``(label, settings)``."""
    label, sep, rest = spec.partition("=")
    if not sep or ":" in label:
        label, rest = "", spec
    method, _, options = rest.partition(":")
    method = method.strip()
    settings = parse_options([o for o in options.split(",") if o.strip()], method_config(method))
    return label.strip() or method, {"method": method, **settings}


def _number_list(text: str, kind, flag: str) -> list:
    try:
        values = [kind(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise ValueError(f"{flag} must be a comma-separated list of {kind.__name__}s, got {text!r}") from error
    if not values:
        raise ValueError(f"{flag} must name at least one value, got {text!r}")
    return values


def _long_tailed_name(args: argparse.Namespace) -> str:
    """``--dataset`` of a long-tailed study (default ``digits-lt``); a balanced set is refused."""
    name = args.dataset or "digits-lt"
    if not name.endswith("-lt"):
        raise ValueError(f"--dataset must be a long-tailed set (a name ending in -lt), got {name!r}")
    return name


def _comparison_name(args: argparse.Namespace) -> str:
    """``--dataset`` of ``compare`` (default ``digits-lt``): a long-tailed set, or a balanced one such as
    ``cifar10``, where the distribution-matching papers compare their methods with the coresets."""
    return args.dataset or "digits-lt"


def _positive(*flags: tuple[str, int | None]) -> None:
    """Every given flag (``None``: not given) is a positive int."""
    for flag, value in flags:
        if value is not None:
            positive_int(flag, value)


def _study_outputs(args: argparse.Namespace, names: tuple[str, ...] = ("study.json",)) -> Path:
    """A study's ``--out`` folder, checked before the first row (:func:`~ltdd.cli.check_outputs`); ``--overwrite``
    removes the earlier results."""
    out = Path(args.out)
    outputs = check_outputs(args, out, names)
    if args.overwrite:
        remove_outputs(outputs)
    return out


def _provenance(argv: list[str]) -> dict:
    import subprocess

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).resolve().parent, check=False).stdout.strip() or None
    except OSError:
        commit = None
    return {"command": "python -m ltdd " + " ".join(argv), "commit": commit,
            "date": time.strftime("%Y-%m-%d"), "torch": torch.__version__, "python": platform.python_version(),
            "threads": torch.get_num_threads(), "machine": platform.machine()}


def cmd_bias_sweep(args: argparse.Namespace) -> int:
    """``python -m ltdd bias-sweep``: distil and evaluate methods at every bias ratio and severity."""
    from .studies.biased import bias_sweep, check_bias_ratios, sweep_table

    profile = get_profile(args.profile)
    device = get_device(args.device)
    specs = [parse_method_spec(spec) for spec in args.methods]
    labels = [label for label, _ in specs]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise ValueError(f"METHOD labels must differ, {repeated} given more than once; name them LABEL=METHOD")
    methods = dict(specs)
    ratios = check_bias_ratios(_number_list(args.ratios, float, "--ratios"))
    severities, seeds = _number_list(args.severities, int, "--severities"), _number_list(args.seeds, int, "--seeds")
    _positive(("--ipc", args.ipc), ("--iterations", args.iterations), ("--full-epochs", args.full_epochs))
    out = Path(args.out)
    check_output_file(out)
    refuse_to_replace([out], args.resume, args.overwrite)
    if args.overwrite:
        remove_outputs([out])
    record = _run_record(args, device)
    load_options = {"data_root": args.data_root, "download": _download_flag(args, profile)}
    if args.zca is not None:
        load_options["zca"] = args.zca
    sweep = bias_sweep(methods, args.dataset, ratios, severities, profile, args.ipc, args.iterations, seeds,
                       full_set=not args.no_full_set, device=device, progress=not args.quiet, out=out,
                       resume=args.resume, record=record, load_options=load_options, full_epochs=args.full_epochs)
    for severity in sweep.severities():
        print(f"severity {severity}: accuracy (%) on the all-conflicting test set", file=sys.stderr)
        print(sweep_table(sweep, severity), file=sys.stderr)
    _print_json({"out": str(args.out), "rows": len(sweep.rows), "full": len(sweep.full)})
    return 0


def rebalance_rows(plans: list[str], simclr: bool) -> dict[str, dict]:
    """``["table-iii"]`` → CRLT-DD's Table III rows; plan names → one row each (``+ SimCLR`` with ``simclr``)."""
    from .studies.rebalance import TABLE_III_ROWS, check_plan

    if [p.lower() for p in plans] in (["table-iii"], ["table3"]):
        if simclr:
            raise ValueError("--simclr does not combine with table-iii, which has its own SimCLR rows")
        return dict(TABLE_III_ROWS)
    rows = {}
    for plan in plans:
        plan = check_plan(plan)
        rows[plan.replace("-", " ") + (" + SimCLR" if simclr else "")] = {"plan": plan, "simclr": simclr}
    return rows


def cmd_rebalance(args: argparse.Namespace) -> int:
    """``python -m ltdd rebalance PLAN ...``: build and evaluate CRLT-DD's rebalanced training sets."""
    from .studies.rebalance import rebalance_study, study_table

    profile = get_profile(args.profile)
    device = get_device(args.device)
    _positive(("--eval-epochs", args.eval_epochs))
    if args.eval_epochs is not None:
        if profile.name == "paper":
            raise ValueError("--eval-epochs does not combine with --profile paper, whose evaluation is CRLT-DD's")
        profile = profile.replace(eval_epochs=args.eval_epochs)
    rows = rebalance_rows(args.plans, args.simclr)
    name = _long_tailed_name(args)
    seeds = _number_list(args.seeds, int, "--seeds")
    _positive(("--iterations", args.iterations), ("--networks", args.networks),
              ("--simclr-epochs", args.simclr_epochs), ("--ipc", args.ipc))
    out = _study_outputs(args, ("study.json", "table.md"))
    dataset = load_dataset(name, data_root=args.data_root, download=_download_flag(args, profile), device=device,
                           **_options(args))
    record = _run_record(args, device)
    study = rebalance_study(dataset, rows, profile, seeds, args.method,
                            args.iterations, args.ipc, args.simclr_epochs, args.networks, out / "study.json",
                            args.resume, record, progress=not args.quiet, vanilla_protocol=args.vanilla_protocol)
    table = study_table(study)
    if not (out / "table.md").is_file() or (out / "table.md").read_text() != table + "\n":
        atomic_write_text(table + "\n", out / "table.md")
    print(table, file=sys.stderr)
    _print_study_summary(out / "study.json", study)
    return 0


def _shard(text: str) -> tuple[int, int]:
    index, sep, count = text.partition("/")
    if not sep or not index.isdigit() or not count.isdigit() or not int(index) < int(count):
        raise ValueError(f"--shard must be I/N with 0 <= I < N (e.g. 0/4), got {text!r}")
    return int(index), int(count)


def launcher_shard() -> tuple[int, int]:
    """The shard of a process started by ``torchrun`` (``RANK`` of ``WORLD_SIZE``); ``(0, 1)`` otherwise."""
    if "WORLD_SIZE" not in os.environ:
        return 0, 1
    try:
        rank, world = int(os.environ.get("RANK", "0")), int(os.environ["WORLD_SIZE"])
    except ValueError as error:
        raise ValueError(f"RANK and WORLD_SIZE must be ints (torchrun sets them): {error}") from error
    if not 0 <= rank < world:
        raise ValueError(f"RANK={rank} must lie in [0, WORLD_SIZE={world})")
    return rank, world


def launcher_device(requested: str | None) -> str | None:
    """``--device``, else under ``torchrun`` on a machine with GPUs the process's own: ``cuda:LOCAL_RANK``."""
    if requested is None and "LOCAL_RANK" in os.environ and torch.cuda.is_available():
        return f"cuda:{int(os.environ['LOCAL_RANK'])}"
    return requested


def cmd_experts(args: argparse.Namespace) -> int:
    """``python -m ltdd experts``: train expert trajectories for trajectory matching into a buffer folder.

    Started by ``torchrun`` (one process per GPU or CPU, on one host or several), each process trains its shard
    (``RANK`` of ``WORLD_SIZE``) on its own GPU (``LOCAL_RANK``), unless ``--shard``/``--device`` say otherwise."""
    from .distill.tm_presets import tm_preset
    from .distill.experts import ExpertConfig, train_buffer

    profile = get_profile(args.profile)
    device = get_device(launcher_device(args.device))
    dataset = load_dataset(args.dataset or profile.dataset, data_root=args.data_root,
                           download=_download_flag(args, profile), device=device, **_options(args))
    settings = {"stage": args.stage}
    preset = None
    if args.preset:
        method, _, ipc = args.preset.partition(":")
        if not ipc.isdigit():
            raise ValueError(f"--preset must be METHOD:IPC (e.g. ltdd:10), got {args.preset!r}")
        preset = tm_preset(method, dataset.name, int(ipc), dataset.info.get("imbalance"))
        if args.stage not in preset.experts:
            raise ValueError(f"the {method} preset has no {args.stage} experts (it has {sorted(preset.experts)})")
        settings.update(preset.experts[args.stage])
        if preset.dataset_options.get("zca") != dataset.options.get("zca"):
            print(f"note: the published experts use zca={preset.dataset_options.get('zca')}; "
                  f"this run uses zca={dataset.options.get('zca')}", file=sys.stderr)
    settings.update(parse_options(args.option, ExpertConfig))
    config = ExpertConfig(**settings)
    positive_int("--experts", args.experts)
    if args.stage == "representation" and args.representation is not None:
        raise ValueError("--representation is for --stage classifier (the buffer its experts start from); "
                         "representation experts start from random weights")
    model = args.model or (preset.model if preset is not None else profile.model)
    options = profile.replace(model=model).model_options()
    started = time.perf_counter()
    shard = _shard(args.shard) if args.shard is not None else launcher_shard()
    check_output_folder(args.out, "--out", ("buffer.json",))
    buffer = train_buffer(dataset, args.out, args.experts, config, model, options, args.seed,
                          representation=args.representation, progress=not args.quiet, shard=shard)
    record = {"out": str(buffer.path), "experts": len(buffer), "epochs": buffer.epochs, "stage": config.stage,
              "dataset": dataset.name, "dataset_options": dict(dataset.options), "model": model,
              "model_options": options, "seed": args.seed, "shard": list(shard),
              "seconds": time.perf_counter() - started, "device": str(device)}
    _print_json(record)
    return 0


def cmd_tm_ablation(args: argparse.Namespace) -> int:
    """``python -m ltdd tm-ablation``: run LTDD's ablation (MTT, base, +DAM, +DAM+ED) and print its table."""
    from .studies.tm_study import ablation_table, tm_ablation

    profile = get_profile(args.profile)
    device = get_device(args.device)
    name = _long_tailed_name(args)
    seeds = _number_list(args.seeds, int, "--seeds")
    out = _study_outputs(args)
    dataset = load_dataset(name, data_root=args.data_root,
                           download=_download_flag(args, profile), device=device, **_options(args))
    record = _run_record(args, device)
    study = tm_ablation(dataset, profile, seeds, workdir=out / "buffers",
                        out=out / "study.json", resume=args.resume, record=record, progress=not args.quiet)
    table = ablation_table(study)
    print(table, file=sys.stderr)
    _print_study_summary(out / "study.json", study)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """``python -m ltdd compare``: build and evaluate every method's set on one long-tailed set, one protocol."""
    from .studies.comparison import COMPARISON_ROWS, compare_methods, comparison_table

    profile = get_profile(args.profile)
    device = get_device(args.device)
    rows = COMPARISON_ROWS
    if args.rows:
        labels = [label.strip() for label in args.rows.split(",") if label.strip()]
        unknown = [label for label in labels if label not in COMPARISON_ROWS]
        if unknown:
            raise ValueError(f"--rows names unknown rows {unknown}; choose from {list(COMPARISON_ROWS)}")
        rows = {label: COMPARISON_ROWS[label] for label in labels}
    name = _comparison_name(args)
    seeds = _number_list(args.seeds, int, "--seeds")
    _positive(("--ipc", args.ipc), ("--iterations", args.iterations), ("--eval-epochs", args.eval_epochs),
              ("--networks", args.networks))
    out = _study_outputs(args)
    dataset = load_dataset(name, data_root=args.data_root,
                           download=_download_flag(args, profile), device=device, **_options(args))
    if args.eval_epochs is not None:
        profile = profile.replace(eval_epochs=args.eval_epochs)
    study = compare_methods(dataset, profile, seeds, rows, args.protocol,
                            args.ipc, args.iterations, args.networks, workdir=out / "buffers",
                            out=out / "study.json", resume=args.resume,
                            record=_run_record(args, device), progress=not args.quiet)
    print(comparison_table(study), file=sys.stderr)
    _print_study_summary(out / "study.json", study)
    return 0


def cmd_convergence(args: argparse.Namespace) -> int:
    """``python -m ltdd convergence``: one distillation run evaluated at several iteration counts."""
    from .studies.convergence import accuracy_against_iterations, check_checkpoints

    profile = get_profile(args.profile)
    device = get_device(args.device)
    checkpoints = check_checkpoints(_number_list(args.checkpoints, int, "--checkpoints"))
    _positive(("--ipc", args.ipc), ("--eval-epochs", args.eval_epochs), ("--networks", args.networks))
    settings = parse_options(args.option, method_config(args.method))
    out = _study_outputs(args, ("study.json", "checkpoint.pt"))
    dataset = load_dataset(args.dataset or profile.dataset, data_root=args.data_root,
                           download=_download_flag(args, profile), device=device, **_options(args))
    if args.eval_epochs is not None:
        profile = profile.replace(eval_epochs=args.eval_epochs)
    study = accuracy_against_iterations(dataset, args.method, checkpoints, profile, args.ipc, args.seed,
                                        args.networks, out, args.resume, _run_record(args, device),
                                        not args.quiet, **settings)
    for row in study.rows:
        print(f"{row['iterations']:>7} iterations: {100 * row['accuracy']:.2f} %", file=sys.stderr)
    _print_study_summary(out / "study.json", study)
    return 0


def cmd_longtail_effect(args: argparse.Namespace) -> int:
    """``python -m ltdd longtail-effect``: a long-tailed set against a balanced subset of the same size."""
    from .studies.longtail_effect import longtail_effect, weight_norm_slope

    profile = get_profile(args.profile)
    device = get_device(args.device)
    _positive(("--epochs", args.epochs), ("--networks", args.networks))
    seeds = _number_list(args.seeds, int, "--seeds")
    out = _study_outputs(args)
    balanced = load_dataset(args.dataset, data_root=args.data_root, download=_download_flag(args, profile),
                            device=device)
    study = longtail_effect(balanced, args.imbalance, args.epochs or profile.full_epochs, seeds, args.networks,
                            profile.model,
                            profile.model_options(), out=out / "study.json", resume=args.resume,
                            record=_run_record(args, device), progress=not args.quiet)
    for label in study.labels():
        print(f"{label}: weight-norm slope against log(count) {weight_norm_slope(study, label):+.4f}",
              file=sys.stderr)
    _print_study_summary(out / "study.json", study)
    return 0


def cmd_student_edition(args: argparse.Namespace) -> int:
    """``python -m ltdd student-edition OUT``: write the chapters without solutions, with exercise stubs."""
    from .book.student import student_edition

    written = student_edition(args.out, args.chapters)
    _print_json({"out": str(Path(args.out) / "chapters"), "exercises": written})
    return 0


def cmd_colab_edition(args: argparse.Namespace) -> int:
    """``python -m ltdd colab-edition [OUT]``: write the Colab edition (plain Markdown) of every chapter."""
    from .book.colab import colab_edition
    from .config import repository_root

    root = repository_root()
    if root is None:
        raise ValueError("colab-edition runs from a checkout of the book (a folder with _config.yml)")
    out = Path(args.out) if args.out else root / "colab"
    _print_json({"out": str(out), **colab_edition(out, root)})
    return 0


def cmd_set_repository(args: argparse.Namespace) -> int:
    """``python -m ltdd set-repository URL``: make a fork's repository the book's (launch links, install cells)."""
    from .book.colab import set_repository

    _print_json({"repository": args.url, "changed": set_repository(args.url)})
    return 0


class _UnbrokenNamesFormatter(argparse.HelpFormatter):
    """Help text wrapped at spaces only, so a command name such as ``colab-edition`` is never split at its hyphen."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        import textwrap

        return textwrap.fill(" ".join(text.split()), width, initial_indent=indent, subsequent_indent=indent,
                             break_on_hyphens=False)


DATASET_FLAGS = ("imbalance", "bias-ratio", "zca", "severity")
"""The flags that shape a loaded dataset (:func:`add_run_flags` adds those a subcommand takes)."""


def add_run_flags(p: argparse.ArgumentParser, data: bool = True,
                  dataset_flags: tuple[str, ...] = DATASET_FLAGS) -> None:
    """The flags every running subcommand shares: ``--profile`` and ``--device``; with ``data`` (every subcommand
    that loads a dataset) ``--data-root`` and ``--download/--no-download``; and the ``dataset_flags`` that shape
    the dataset (of :data:`DATASET_FLAGS`)."""
    p.add_argument("--profile", choices=available_profiles(), default=None,
                   help="settings profile (default: $LTDD_PROFILE, else gpu with CUDA, else cpu)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    if not data:
        return
    p.add_argument("--data-root", default=None, help="dataset folder (default: data/cache)")
    p.add_argument("--download", action=argparse.BooleanOptionalAction, default=None,
                   help="allow downloading missing datasets (default: the profile's setting)")
    unknown = set(dataset_flags) - set(DATASET_FLAGS)
    if unknown:
        raise ValueError(f"dataset_flags {sorted(unknown)} are unknown; choose from {list(DATASET_FLAGS)}")
    if "imbalance" in dataset_flags:
        p.add_argument("--imbalance", type=float, default=None,
                       help="imbalance factor β >= 1 of a long-tailed set (*-lt; default: the dataset's)")
    if "bias-ratio" in dataset_flags:
        p.add_argument("--bias-ratio", type=float, default=None,
                       help="fraction in [0, 1] of bias-aligned training images (cdigits, cmnist-dd)")
    if "zca" in dataset_flags:
        p.add_argument("--zca", type=float, default=None, metavar="EPS",
                       help="ZCA-whiten train and test images with regulariser EPS (trajectory matching: 0.1)")
    if "severity" in dataset_flags:
        p.add_argument("--severity", type=int, default=None, help="bias severity in {1, 2, 3, 4} (cdigits, cmnist-dd)")


def add_study_flags(p: argparse.ArgumentParser, out_help: str, seeds_help: str | None = None,
                    resume_help: str = "continue OUT/study.json: run only what is missing") -> None:
    """The flags of a study subcommand (``bias-sweep``, ``rebalance``, ``tm-ablation``, ``compare``,
    ``longtail-effect``): ``--seeds`` (comma-separated, when ``seeds_help`` is given), ``--out``, ``--resume``,
    ``--overwrite`` and ``--quiet``. :func:`add_run_flags` adds the rest."""
    if seeds_help is not None:
        p.add_argument("--seeds", default="0", help=seeds_help)
    p.add_argument("--out", required=True, help=out_help)
    p.add_argument("--resume", action="store_true", help=resume_help)
    p.add_argument("--overwrite", action="store_true", help="replace the results already in OUT (default: refuse)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def add_evaluation_flags(p: argparse.ArgumentParser) -> None:
    """``--eval-epochs`` and ``--networks``: how every set of a study is evaluated (``compare``, ``convergence``)."""
    p.add_argument("--eval-epochs", type=int, default=None,
                   help="epochs of every evaluation network (default: the profile's)")
    p.add_argument("--networks", type=int, default=None,
                   help="evaluation networks per set (default: the profile's eval_seeds)")


def build_parser() -> argparse.ArgumentParser:
    """The ``argparse`` parser of every subcommand (each sets ``func`` to its ``cmd_*`` function)."""
    parser = argparse.ArgumentParser(prog="ltdd", description=" ".join(__doc__.split("\n\n")[0].split()),
                                     formatter_class=_UnbrokenNamesFormatter)
    parser.add_argument("--version", action="version", version=f"ltdd {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="profile, device, versions")
    add_run_flags(p, data=False)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("data", help="JSON summary of a dataset")
    p.add_argument("name", help=f"one of {available_datasets()}")
    p.add_argument("--counts-only", action="store_true",
                   help="print a long-tailed set's class counts without loading images")
    add_run_flags(p)
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("distill", help="distil a dataset; writes OUT/synthetic.pt and OUT/run.json")
    p.add_argument("method", help=f"one of {available_methods()}")
    p.add_argument("--dataset", default=None, help="dataset name (default: the profile's)")
    p.add_argument("--ipc", type=int, default=None, help="images per class (default: the profile's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--iterations", type=int, default=None, help="(default: the profile's)")
    add_study_flags(p, "output folder", resume_help="continue from OUT/checkpoint.pt if present")
    p.add_argument("--checkpoint-every", type=int, default=100, help="iterations between checkpoints")
    p.add_argument("--preset", action="store_const", const=True, default=False,
                   help="mtt/datm/ltdd: the published settings for this dataset, IPC and imbalance, and "
                        "their iteration count unless --iterations is given (--option overrides them)")
    p.add_argument("--option", action="append", metavar="KEY=VALUE",
                   help="a method setting, e.g. --option lr_img=0.5 --option step_per_class=false (repeatable)")
    add_run_flags(p)
    p.set_defaults(func=cmd_distill)

    p = sub.add_parser("evaluate", help="train fresh networks on a synthetic set; last line is JSON")
    p.add_argument("dir", help="a folder written by `distill`, or a synthetic.pt file")
    p.add_argument("--model", default=None, help=f"one of {available_models()} (default: the profile's)")
    p.add_argument("--seeds", type=int, default=None, help="networks to train (default: the profile's)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default: the profile's)")
    p.add_argument("--dataset", default=None, help="override the dataset recorded in the set")
    p.add_argument("--lr", type=float, default=None,
                   help="training learning rate (default: the step size the set learned, if any, else 0.01)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_run_flags(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("bias-sweep", help="distil and evaluate methods across bias ratios and severities")
    p.add_argument("methods", nargs="+", metavar="METHOD",
                   help="a method name, or LABEL=METHOD[:KEY=VALUE,...], e.g. 'DeDM (GCE)=dedm:bias_source=gce'")
    p.add_argument("--dataset", default="cdigits", help="a biased dataset (default: cdigits)")
    p.add_argument("--ratios", default="0,0.1,0.5,0.8,0.95,1", help="bias ratios in [0, 1], comma-separated")
    p.add_argument("--severities", default="4", help="severities in 1..4, comma-separated")
    p.add_argument("--ipc", type=int, default=None, help="images per class (default: the profile's)")
    p.add_argument("--iterations", type=int, default=None, help="(default: the profile's)")
    p.add_argument("--no-full-set", action="store_true", help="skip the full-set control")
    p.add_argument("--full-epochs", type=int, default=None,
                   help="epochs of the full-set control (default: the profile's full_epochs)")
    add_study_flags(p, "JSON file for the rows and their provenance, rewritten after every distilled set",
                    seeds_help="distillation seeds, comma-separated",
                    resume_help="continue the sweep in OUT: run only what is missing")
    add_run_flags(p, dataset_flags=("zca",))  # the ratios and severities are the sweep's own flags
    p.set_defaults(func=cmd_bias_sweep)

    p = sub.add_parser("rebalance", help="CRLT-DD: rebalance a long-tailed set by distillation and evaluate it")
    p.add_argument("plans", nargs="+", metavar="PLAN",
                   help="vanilla, sample-all, distill-all, distill-all-aug, sample-head, distill-head, "
                        "or table-iii (every row of CRLT-DD's Table III)")
    p.add_argument("--dataset", default=None, help="a long-tailed dataset (default: digits-lt)")
    p.add_argument("--method", default="dm", help=f"condensing method, one of {available_methods()} (default: dm)")
    p.add_argument("--simclr", action="store_true", help="start every classifier from a SimCLR encoder")
    p.add_argument("--simclr-epochs", type=int, default=None,
                   help="SimCLR epochs (default: the profile's full_epochs; 100 under --profile paper)")
    p.add_argument("--ipc", type=int, default=None,
                   help="images per head class of the head plans (default: the median class size; under --profile "
                        "paper the paper's 500 for cifar10-lt, 50 for cifar100-lt)")
    p.add_argument("--iterations", type=int, default=None,
                   help="distillation iterations (default: the profile's; 4000 under --profile paper)")
    p.add_argument("--vanilla-protocol", choices=("crlt", "baseline.py"), default="crlt",
                   help="how the vanilla row trains: crlt, the evaluation of every row (default); baseline.py, the "
                        "code's baseline script (300 epochs, batch 256, no augmentation)")
    p.add_argument("--eval-epochs", type=int, default=None,
                   help="epochs of every evaluation network (default: the profile's; 500 under --profile paper)")
    p.add_argument("--networks", type=int, default=None,
                   help="evaluation networks per set (default: the profile's eval_seeds)")
    add_study_flags(p, "output folder (study.json, table.md)",
                    seeds_help="seeds, comma-separated; each builds and evaluates its own set")
    add_run_flags(p)
    p.set_defaults(func=cmd_rebalance)

    p = sub.add_parser("experts", help="train expert trajectories for trajectory matching (mtt, datm, ltdd)")
    p.add_argument("--dataset", default=None, help="dataset name (default: the profile's)")
    p.add_argument("--out", required=True, help="buffer folder (buffer.json, expert_000.pt, ...)")
    p.add_argument("--experts", type=int, default=5, help="number of experts (default: 5; the papers train 100)")
    p.add_argument("--stage", choices=["representation", "classifier"], default="representation",
                   help="classifier: retrain the final layer class-balanced from --representation's experts")
    p.add_argument("--representation", default=None, help="the representation buffer classifier experts start from")
    p.add_argument("--seed", type=int, default=0, help="expert k uses seed SEED + k")
    p.add_argument("--model", default=None, help=f"one of {available_models()} (default: the profile's)")
    p.add_argument("--shard", default=None, metavar="I/N",
                   help="train only experts k with k %% N == I (N processes fill one folder side by side; "
                        "default: torchrun's RANK/WORLD_SIZE, else 0/1)")
    p.add_argument("--preset", default=None, metavar="METHOD:IPC",
                   help="the published expert settings of a preset, e.g. ltdd:10 (--option overrides them)")
    p.add_argument("--option", action="append", metavar="KEY=VALUE",
                   help="an ExpertConfig setting (epochs, lr, optimizer=gsam, weight_decay, batch_size, ...)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_run_flags(p)
    p.set_defaults(func=cmd_experts)

    p = sub.add_parser("tm-ablation", help="LTDD's ablation: MTT, base, +DAM, +DAM+ED at the profile's scale")
    p.add_argument("--dataset", default=None, help="a long-tailed dataset (default: digits-lt)")
    add_study_flags(p, "output folder (study.json, buffers/)",
                    seeds_help="seeds, comma-separated; each trains its own experts")
    add_run_flags(p)
    p.set_defaults(func=cmd_tm_ablation)

    p = sub.add_parser("compare", help="every method on one long-tailed set under one evaluation protocol")
    p.add_argument("--dataset", default=None,
                   help="a long-tailed dataset, or a balanced one such as cifar10 (default: digits-lt)")
    p.add_argument("--protocol", choices=("ours", "papers"), default="ours",
                   help="ours: one recipe for every set; papers: each family's own evaluation")
    p.add_argument("--ipc", type=int, default=None, help="images per class of the coresets and distilled sets")
    p.add_argument("--iterations", type=int, default=None,
                   help="iterations of the matching methods and CRLT-DD's DM (default: the profile's)")
    add_evaluation_flags(p)
    p.add_argument("--rows", default=None, help="comma-separated row labels (default: every row)")
    add_study_flags(p, "output folder (study.json, buffers/)",
                    seeds_help="seeds, comma-separated; each builds every set anew")
    add_run_flags(p)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("convergence", help="one distillation run evaluated at several iteration counts")
    p.add_argument("method", choices=available_methods(), metavar="method",
                   help=f"one of {available_methods()}")
    p.add_argument("--checkpoints", required=True,
                   help="iteration counts to evaluate at, increasing, comma-separated (e.g. 50,100,200,400)")
    p.add_argument("--dataset", default=None, help="dataset name (default: the profile's)")
    p.add_argument("--ipc", type=int, default=None, help="images per class (default: the profile's)")
    p.add_argument("--seed", type=int, default=0)
    add_evaluation_flags(p)
    p.add_argument("--option", action="append", metavar="KEY=VALUE", help="a method setting (repeatable)")
    add_study_flags(p, "output folder (study.json and the run's checkpoint.pt)",
                    resume_help="continue OUT from its checkpoint: evaluate only the iteration counts missing")
    add_run_flags(p)
    p.set_defaults(func=cmd_convergence)

    p = sub.add_parser("longtail-effect", help="a network trained on a long-tailed set against one trained on "
                       "a balanced subset of the same size")
    p.add_argument("--dataset", default="digits", help="the balanced dataset (default: digits)")
    p.add_argument("--imbalance", type=float, required=True, help="imbalance factor β >= 1 of the long-tailed set")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default: the profile's full_epochs)")
    p.add_argument("--networks", type=int, default=1, help="networks per set and seed (default: 1)")
    add_study_flags(p, "output folder (study.json)", seeds_help="seeds, comma-separated")
    add_run_flags(p, dataset_flags=())  # --imbalance is this command's own (required) flag
    p.set_defaults(func=cmd_longtail_effect)

    p = sub.add_parser("student-edition", help="the chapters without solutions, with exercise stubs")
    p.add_argument("out", help="output folder (OUT/chapters/*.ipynb)")
    p.add_argument("--chapters", default=None, help="the chapter notebooks' folder (default: the book's)")
    p.set_defaults(func=cmd_student_edition)

    p = sub.add_parser("colab-edition", help="the chapters in plain Markdown for Colab (and their student edition)")
    p.add_argument("out", nargs="?", default=None, help="output folder (default: colab/ of the checkout)")
    p.set_defaults(func=cmd_colab_edition)

    p = sub.add_parser("set-repository", help="a fork's GitHub URL for the launch links, install cells and README")
    p.add_argument("url", help="https://github.com/OWNER/REPO")
    p.set_defaults(func=cmd_set_repository)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line on ``argv``; return the exit code (2 with a one-line message on a user error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # recorded as provenance
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"ltdd {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except FloatingPointError as error:
        print(f"ltdd {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return 3
    except OSError as error:
        where = f" ({error.filename})" if getattr(error, "filename", None) else ""
        print(f"ltdd {args.command}: error: {error.strerror or error}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as error:
        print(f"ltdd {args.command}: {_one_line(error) or 'interrupted'}", file=sys.stderr)
        return 130


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())
