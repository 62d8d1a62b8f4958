"""The benchmark fills data-dependent pipeline parameters (sfreq, SSVEP freqs) left unset in YAML."""
from __future__ import annotations

import numpy as np

from neurosig.evaluation.bci import benchmark, epochs_sfreq
from neurosig.pipelines import fill_unset, load_pipeline_file


def test_epochs_sfreq_from_window_and_length():
    from moabb.paradigms import LeftRightImagery

    from neurosig.datasets import SimulatedMotorImagery

    ds = SimulatedMotorImagery(n_subjects=1, n_runs=1)
    X, _, _ = LeftRightImagery().get_data(ds, subjects=[1])
    assert epochs_sfreq(ds, LeftRightImagery(), X.shape[-1]) == 250.0


def test_fill_unset_leaves_set_values_alone():
    from sklearn.pipeline import make_pipeline

    from neurosig.features import BandPower, FilterBank
    pipe = make_pipeline(FilterBank(sfreq=None), BandPower(sfreq=128.0))
    fill_unset(pipe, sfreq=250.0, freqs=None)
    assert pipe.steps[0][1].sfreq == 250.0 and pipe.steps[1][1].sfreq == 128.0


def test_benchmark_runs_pipelines_that_need_sfreq_and_freqs(tmp_path):
    from neurosig._resources import resource_dir

    root = resource_dir("pipelines")
    specs = [load_pipeline_file(root / "ssvep" / "CCA.yml")]
    df = benchmark(datasets=["SimulatedSSVEP"], paradigm="SSVEP", subjects=[2], pipelines=specs,
                   results=tmp_path / "r.sqlite", out=tmp_path, n_permutations=20, plots=False,
                   verbose=False)
    assert len(df) >= 1 and np.all(df["score"] > 1 / 3)  # 3 stimulation frequencies
    psd = [load_pipeline_file(root / "full" / "PSD_LDA.yml")]
    df = benchmark(subjects=[1], pipelines=psd, results=tmp_path / "r2.sqlite", out=tmp_path,
                   n_permutations=20, plots=False, verbose=False)
    assert len(df) == 2 and df["score"].notna().all()
