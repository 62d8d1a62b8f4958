"""The CLI says what the Python API says: every option of every subcommand is a parameter name
of the function (or job-file key) it feeds, with dashes for underscores; former names still work."""
from __future__ import annotations

import argparse
import inspect

import pytest

from neurosig.cli.main import SUBCOMMANDS, build_parser, main


def _sources():
    """(subcommand path) -> the callables (or file schemas) whose parameter names the options use."""
    from neurosig.datasets import get_dataset
    from neurosig.datasets.bids import BIDSDataset
    from neurosig.datasets.cards import check_dataset, data_root
    from neurosig.datasets.tuab import TUAB, save_index
    from neurosig.datasets.window_store import store_info
    from neurosig.evaluation.bci import benchmark
    from neurosig.evaluation.fmri import decode_fmri
    from neurosig.evaluation.fmri_job import FmriJobSchema, NsdDatasetSchema
    from neurosig.evaluation.html_report import write_html_report
    from neurosig.evaluation.rsa.job import run_config
    from neurosig.models.pretrain import pretrain
    from neurosig.pipelines import check_pipeline_files
    from neurosig.preprocessing.recipe import PreprocessingConfig
    from neurosig.tokenizers.tfm import TFMTokenizer, TFMTokenizerEstimator

    return {
        ("benchmark",): [benchmark, BIDSDataset],
        ("rsa",): [run_config],
        ("tuab", "index"): [TUAB, save_index],
        ("tuab", "prepare"): [TUAB, TUAB.prepare, PreprocessingConfig],
        ("tuab", "info"): [store_info],
        ("tokenize", "fit"): [TFMTokenizerEstimator, get_dataset],
        ("tokenize", "transform"): [TFMTokenizerEstimator, TFMTokenizerEstimator.load, TFMTokenizer.load,
                                    get_dataset],
        ("decode-fmri",): [decode_fmri, FmriJobSchema, NsdDatasetSchema],
        ("datasets", "list"): [data_root],
        ("datasets", "check"): [check_dataset],
        ("pretrain",): [pretrain],
        ("finetune",): [],
        ("pipelines", "check"): [check_pipeline_files],
        ("pipelines", "list"): [],
        ("report",): [write_html_report],
        ("info",): [],
    }


#: options with no parameter of that name in the Python function, and why
EXCEPTIONS = {
    # every subcommand: argparse's own, and Dask's local cluster size (-> backend="dask", n_jobs=N)
    "*": {"help", "dask_workers"},
    # the negation of a True default (plots=, verify=, notch=None), and a CLI-only filter of files
    ("benchmark",): {"no_plots", "skip_unsupported",
                     # calibration={"n_trials": K, "labeled": bool}: one dict parameter, two options
                     "calibration_trials", "calibration_labeled",
                     # BIDSDataset(task=): "--task" alone would be ambiguous next to the benchmark's others
                     "bids_task"},
    ("tuab", "index"): {"out"},  # save_index(index, path): where the index table goes
    ("tuab", "prepare"): {"no_notch"},
    # the input source (a file, an HDF5 key, a dataset name) and the output checkpoint
    ("tokenize", "fit"): {"input", "key", "out"},
    # the checkpoint to load (TFMTokenizer.load(path)), the output file, recompute an existing one
    ("tokenize", "transform"): {"input", "key", "out", "checkpoint", "overwrite"},
    ("decode-fmri",): {"check"},  # validate the job and open its inputs, then stop
    ("datasets", "check"): {"no_checksums"},
    ("pretrain",): {"dry_run"},
    ("finetune",): {"dry_run"},
    ("pipelines", "check"): {"skip_unsupported"},
}


def _parsers():
    """(subcommand path, its parser) for every leaf subcommand."""
    def walk(parser, path):
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            yield path, parser
            return
        for name, sub in subs[0].choices.items():
            yield from walk(sub, path + (name,))

    yield from walk(build_parser(), ())


def _names(source) -> set[str]:
    if hasattr(source, "model_fields"):  # a job-file schema: the option overrides that key
        return set(source.model_fields)
    # a parameter kept under its former name for one release (default "deprecated") does not count
    return {n for n, p in inspect.signature(source).parameters.items() if p.default != "deprecated"}


def _options(parser) -> dict[str, str]:
    """Visible option string (long form) -> destination, without the hidden former names."""
    out = {}
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or not action.option_strings:
            continue
        out[max(action.option_strings, key=len)] = action.dest
    return out


def test_every_subcommand_is_mapped():
    leaves = {path for path, _ in _parsers()}
    assert leaves == set(_sources())
    assert {p[0] for p in leaves} == set(SUBCOMMANDS)


@pytest.mark.parametrize("path", sorted(_sources()), ids=" ".join)
def test_options_are_python_parameter_names(path):
    parser = dict(_parsers())[path]
    allowed = set().union(*(_names(s) for s in _sources()[path])) if _sources()[path] else set()
    skip = EXCEPTIONS["*"] | EXCEPTIONS.get(path, set())
    wrong = {}
    for option, dest in _options(parser).items():
        name = option.lstrip("-").replace("-", "_")
        assert name == dest, f"{option} stores into {dest!r}: the destination is not the option name"
        if name not in allowed and name not in skip:
            wrong[option] = sorted(allowed)
    assert not wrong, f"neurosig {' '.join(path)}: options without a Python parameter of that name: {wrong}"
    unused = (EXCEPTIONS.get(path, set())) - {d for d in _options(parser).values()}
    assert not unused, f"stale exceptions for {path}: {unused}"


RENAMED = [  # (subcommand, former option, option, value): the former name still parses the same
    (("benchmark",), "--permutations", "--n-permutations", "7"),
    (("tokenize", "fit"), "--epochs", "--max-epochs", "3"),
    (("tokenize", "fit"), "--seed", "--random-state", "5"),
    (("tuab", "prepare"), "--window", "--window-s", "4"),
    (("tuab", "prepare"), "--accept-sfreq", "--accepted-sfreqs", "250"),
]

_REQUIRED = {("benchmark",): [], ("tokenize", "fit"): ["--input", "x.npy", "--out", "t.pt"],
             ("tuab", "prepare"): ["root", "--cache", "c"]}


@pytest.mark.parametrize("path, old, new, value", RENAMED, ids=[r[1] for r in RENAMED])
def test_former_option_names_still_work(path, old, new, value, capsys):
    parser = build_parser()
    base = list(path) + _REQUIRED[path]
    via_new = parser.parse_args(base + [new, value])
    assert not capsys.readouterr().err
    via_old = parser.parse_args(base + [old, value])
    err = capsys.readouterr().err
    assert vars(via_old) == vars(via_new)
    assert "FutureWarning" in err and old in err and new in err and len(err.strip().splitlines()) == 1
    default = parser.parse_args(base)
    dest = new.lstrip("-").replace("-", "_")
    assert getattr(default, dest) != getattr(via_new, dest)  # the former name does not hide the default
    help_text = dict(_parsers())[path].format_help()
    assert new in help_text and f"{old} " not in help_text


def test_former_benchmark_option_runs_the_same(tmp_path, capsys):
    """``--permutations`` (former) and ``--n-permutations`` give the same rows."""
    import pandas as pd

    from neurosig._resources import resource_dir

    pipe = str(resource_dir("pipelines") / "default" / "mdm.yml")
    frames = []
    for i, opt in enumerate(("--permutations", "--n-permutations")):
        out = tmp_path / str(i)
        assert main(["-q", "benchmark", "--subjects", "1", "--pipelines", pipe, opt, "5", "--no-plots",
                     "--results", str(out / "r.sqlite"), "--out", str(out)]) == 0
        frames.append(pd.read_csv(out / "results.csv"))
    err = capsys.readouterr().err
    assert err.count("FutureWarning") == 1
    cols = ["subject", "session", "pipeline", "score", "chance_level", "p_value"]
    cols = [c for c in cols if c in frames[0]]
    pd.testing.assert_frame_equal(frames[0][cols], frames[1][cols])
