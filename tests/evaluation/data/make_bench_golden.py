"""Reference rows of the BCI benchmark, recorded from the implementation before the typed
benchmark core (commit 2c5e51a), for the row-by-row comparison in ``test_bench_golden.py``.

Run from the repository root to regenerate ``bench_golden_rows.json`` (only when a change of
the scores is intended and explained)::

    PYTHONPATH=$PWD python tests/evaluation/data/make_bench_golden.py

Each configuration is small (MOABB's ``FakeDataset``) but exercises one path of the
benchmark: within-session with the shared first step and fixed-prediction permutations,
refit permutations, cross-session, cross-subject with an unlabeled calibration protocol and
a transfer pipeline, cross-session with labeled calibration, a ``param_grid`` pipeline, and
peak-to-peak epoch rejection on a 3-class paradigm.
"""
from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "bench_golden_rows.json"
#: columns that change from run to run and are not compared
VOLATILE = ("time", "created", "versions")
#: keys of ``extra`` compared as numbers (to 1e-12); every other key must be equal
FLOAT_TOL = 1e-12


def _fake(n_subjects=2, n_sessions=2, events=("left_hand", "right_hand")):
    """The benchmark tests' FakeDataset (``tests/evaluation/conftest.py``'s ``make_fake``)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_bench_conftest", HERE.parent / "conftest.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.make_fake(n_subjects=n_subjects, n_sessions=n_sessions, events=events)


def _pipes(*names):
    from neurosig.pipelines import resource_dir

    root = resource_dir("pipelines")
    return [root / n for n in names]


def configurations() -> dict[str, dict]:
    """name -> keyword arguments of :func:`neurosig.benchmark` (without ``results``/``out``)."""
    default = _pipes("default/csp_lda.yml", "default/mdm.yml", "default/ts_svm.yml")
    three = ("left_hand", "right_hand", "feet")
    return {
        "within-session": dict(datasets=[_fake()], pipelines=default, n_permutations=20),
        "within-refit-permutations": dict(datasets=[_fake(n_subjects=1, n_sessions=1)],
                                          pipelines=_pipes("default/mdm.yml"), n_permutations=0,
                                          refit_permutations=2, n_folds=3),
        "cross-session": dict(datasets=[_fake()], pipelines=default, evaluation="cross-session",
                              n_permutations=20),
        "cross-subject-calibration": dict(
            datasets=[_fake(n_subjects=3, n_sessions=1)], evaluation="cross-subject",
            pipelines=_pipes("default/mdm.yml", "transfer/RC_MDM.yml", "transfer/EA_CSP_LDA.yml"),
            calibration=8, n_permutations=20),
        "cross-session-labeled-calibration": dict(
            datasets=[_fake()], evaluation="cross-session",
            pipelines=_pipes("default/csp_lda.yml", "transfer/RC_TS_SVM.yml"),
            calibration={"n_trials": 6, "labeled": True}, n_permutations=20),
        "grid": dict(datasets=[_fake(n_subjects=1)], pipelines=_pipes("full/ts_svm_grid.yml"),
                     n_permutations=20),
        "rejection": dict(datasets=[_fake(events=three)], paradigm="imagery",
                          pipelines=_pipes("default/mdm.yml", "default/csp_lda.yml"),
                          n_permutations=20, reject_ptp="quantile-0.8"),
    }


def _threshold(kw: dict) -> float:
    """The peak-to-peak threshold that rejects the top 20 % of the epochs of these data."""
    from neurosig.evaluation.bci import load_data, resolve_paradigm

    ds = kw["datasets"][0]
    X, _, _ = load_data(ds, resolve_paradigm(kw.get("paradigm", "LeftRightImagery")), ds.subject_list)
    return float(np.quantile(np.ptp(X, axis=-1).max(axis=1), 0.8))


def run(name: str, kw: dict, folder: Path) -> list[dict]:
    """Run one configuration; its rows as JSON-able dicts in a fixed order."""
    from neurosig import benchmark

    kw = dict(kw)
    if kw.get("reject_ptp") == "quantile-0.8":
        kw["reject_ptp"] = _threshold(kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = benchmark(results=folder / f"{name}.sqlite", out=None, verbose=False, **kw)
    df = df.drop(columns=[c for c in VOLATILE if c in df.columns])
    df = df.sort_values(["dataset", "subject", "session", "pipeline"]).reset_index(drop=True)
    return json.loads(json.dumps(df.to_dict(orient="records"), default=_plain))


def _plain(obj):
    """numpy scalars and arrays as Python numbers and lists (full precision)."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot store {type(obj).__name__} in the golden file")


def main() -> None:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, kw in configurations().items():
            out[name] = run(name, kw, Path(tmp))
            print(f"{name}: {len(out[name])} rows", flush=True)
    GOLDEN.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")


if __name__ == "__main__":
    main()
