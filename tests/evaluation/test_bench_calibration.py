"""Calibration protocol, transfer pipelines, confusion matrices, artifact rejection and the
pipeline/paradigm refusal in the benchmark."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from neurosig.cli.main import main
from neurosig.evaluation import bci
from neurosig.pipelines import load_pipeline_file, load_pipelines, resource_dir

TRANSFER = resource_dir("pipelines") / "transfer"


@pytest.fixture
def no_work(monkeypatch):
    calls = []
    monkeypatch.setattr(bci, "evaluate_task", lambda task: calls.append(task) or [])
    monkeypatch.setattr(bci, "load_data", lambda *a, **k: calls.append(a))
    return calls


def _spec(name):
    return [s for s in load_pipelines() if s.name == name]


def test_transfer_pipeline_refused_without_calibration(fake_factory, tmp_path, no_work, capsys):
    ds = fake_factory(n_subjects=2)
    db = tmp_path / "r.sqlite"
    with pytest.raises(ValueError, match=r"'RC\+MDM'.*transfer pipeline.*--calibration-trials K"):
        bci.benchmark([ds], pipelines=[TRANSFER / "RC_MDM.yml"], evaluation="cross-session",
                      results=db, out=None)
    labeled_only = tmp_path / "lab.yml"
    labeled_only.write_text((TRANSFER / "RC_MDM.yml").read_text().replace(
        "calibration: unlabeled", "calibration: labeled").replace("RC+MDM", "RC+MDM-lab"))
    with pytest.raises(ValueError, match="needs labeled calibration trials.*--calibration-labeled"):
        bci.benchmark([ds], pipelines=[labeled_only], evaluation="cross-session", results=db,
                      out=None, calibration=5)
    with pytest.raises(ValueError, match="'calibration' parameter.*'within-session'"):
        bci.benchmark([ds], pipelines=[TRANSFER / "RC_MDM.yml"], results=db, out=None, calibration=5)
    with pytest.raises(ValueError, match="unknown keys \\['n'\\]"):
        bci.benchmark([ds], evaluation="cross-session", results=db, out=None, calibration={"n": 5})
    with pytest.raises(ValueError, match="'calibration n_trials' parameter.*got -3"):
        bci.benchmark([ds], evaluation="cross-session", results=db, out=None, calibration=-3)
    assert no_work == [] and not db.exists()
    # CLI: one line naming the pipeline and the flag
    rc = main(["benchmark", "--pipelines", str(TRANSFER / "EA_TS_SVM.yml"), "--evaluation",
               "cross-session", "--results", str(db), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc != 0 and "EA+TS+SVM" in err and "--calibration-trials" in err
    assert no_work == []


def test_explicit_file_with_other_paradigm_is_refused(fake_factory, tmp_path, no_work, caplog, capsys):
    ds = fake_factory(n_subjects=1, events=("left_hand", "right_hand", "feet"))
    lr_only = tmp_path / "lr.yml"
    lr_only.write_text("name: LR-only\nparadigms: [LeftRightImagery]\npipeline:\n"
                       "  - {name: Covariances, from: pyriemann.estimation}\n"
                       "  - {name: MDM, from: pyriemann.classification}\n")
    db = tmp_path / "r.sqlite"
    for pipes in ([lr_only], lr_only, [load_pipeline_file(lr_only)]):
        with pytest.raises(ValueError, match=r"named explicitly do not support the paradigm "
                                             r"'MotorImagery'.*'LR-only'.*\['LeftRightImagery'\]"):
            bci.benchmark([ds], paradigm="imagery", pipelines=pipes, results=db, out=None)
    rc = main(["benchmark", "--paradigm", "MotorImagery", "--pipelines", str(lr_only),
               "--results", str(db), "--out", str(tmp_path / "o")])
    assert rc != 0 and "LR-only" in capsys.readouterr().err
    assert no_work == [] and not db.exists()
    # a folder: the pipeline is skipped with a log line, the others run
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "lr.yml").write_text(lr_only.read_text())
    (folder / "mi.yml").write_text(lr_only.read_text().replace("LR-only", "MI").replace(
        "[LeftRightImagery]", "[LeftRightImagery, MotorImagery]"))
    with caplog.at_level(logging.INFO, logger="neurosig.evaluation.bci"):
        specs = bci.resolve_pipelines(folder, "MotorImagery")
    assert [s.name for s in specs] == ["MI"] and "['LR-only'] do not list paradigm" in caplog.text


def test_calibration_trials_are_the_first_of_the_target_and_leave_the_test_set(fake_factory, tmp_path):
    """Cross-session with K=10: every pipeline is scored on the same 30 trials (40 - 10); the
    EA pipeline's score equals a direct computation (EA by formula, fit on the other session)."""
    from pyriemann.estimation import Covariances
    from pyriemann.spatialfilters import CSP
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import LabelEncoder

    ds = fake_factory(n_subjects=1, n_sessions=2)
    specs = [load_pipeline_file(TRANSFER / "EA_CSP_LDA.yml")] + _spec("CSP+LDA")
    df = bci.benchmark([ds], pipelines=specs, evaluation="cross-session", results=tmp_path / "r.sqlite",
                       out=None, verbose=False, n_permutations=20, calibration={"n_trials": 10})
    assert len(df) == 4 and set(df["calibration_trials"]) == {10}
    for _, r in df.iterrows():
        e = r["extra"]
        assert e["n_test_trials"] == 30 and r["params"]["calibration"] == {
            "n_trials": 10, "labeled": False, "selection": "first"}
        assert e["calibration"]["used"] == ("alignment" if r["pipeline"] == "EA+CSP+LDA" else
                                            "not used (the pipeline cannot use unlabeled trials)")
        assert np.asarray(e["confusion_matrix"]).sum() == 30

    X, y, meta = bci.load_data(ds, bci.resolve_paradigm("LeftRightImagery"), [1])
    for test_session in meta["session"].unique():
        tr = np.flatnonzero(meta["session"].to_numpy() != test_session)
        te_all = np.flatnonzero(meta["session"].to_numpy() == test_session)
        cal, te = te_all[:10], te_all[10:]

        def ea(Z):
            R = np.mean([z @ z.T / z.shape[1] for z in Z], axis=0)
            w, V = np.linalg.eigh(R)
            return np.stack([(V / np.sqrt(w)) @ V.T @ z for z in Z]), (V / np.sqrt(w)) @ V.T

        Xtr, _ = ea(X[tr])
        _, P = ea(X[cal])
        Xte = np.stack([P @ z for z in X[te]])
        le = LabelEncoder().fit(y[tr])
        covs = Covariances("oas")
        csp = CSP(nfilter=6).fit(covs.fit_transform(Xtr), le.transform(y[tr]))
        lda = LinearDiscriminantAnalysis(solver="svd").fit(csp.transform(covs.transform(Xtr)),
                                                           le.transform(y[tr]))
        auc = roc_auc_score(le.transform(y[te]), lda.decision_function(csp.transform(covs.transform(Xte))))
        row = df[(df["pipeline"] == "EA+CSP+LDA") & (df["session"] == str(test_session))]
        assert np.isclose(row["score"].iloc[0], auc, atol=1e-10)


def test_labeled_calibration_joins_training_and_is_recorded(fake_factory, tmp_path):
    ds = fake_factory(n_subjects=3, n_sessions=1)
    specs = _spec("MDM") + [load_pipeline_file(TRANSFER / "RC_MDM.yml")]
    kw = dict(evaluation="cross-subject", out=None, verbose=False, n_permutations=0)
    lab = bci.benchmark([ds], pipelines=specs, results=tmp_path / "a.sqlite",
                        calibration={"n_trials": 8, "labeled": True}, **kw)
    unl = bci.benchmark([ds], pipelines=specs, results=tmp_path / "b.sqlite", calibration=8, **kw)
    for df, used_mdm in ((lab, "training"), (unl, "not used (the pipeline cannot use unlabeled trials)")):
        e = df.set_index(["pipeline", "subject"])["extra"]
        assert e[("MDM", "1")]["calibration"]["used"] == used_mdm
        assert e[("RC+MDM", "1")]["calibration"]["used"] in ("alignment+training", "alignment")
        assert all(x["n_test_trials"] == 32 for x in df["extra"])  # 40 - 8 trials of the target
    # the labeled protocol is a different identity (different rows), and it changes MDM's scores
    assert set(lab["row_key"]).isdisjoint(unl["row_key"])
    m_lab = lab[lab["pipeline"] == "MDM"].sort_values("subject")["score"].to_numpy()
    m_unl = unl[unl["pipeline"] == "MDM"].sort_values("subject")["score"].to_numpy()
    assert not np.allclose(m_lab, m_unl)
    # too many calibration trials: the task fails with the parameter named
    big = bci.benchmark([ds], pipelines=_spec("MDM"), results=tmp_path / "c.sqlite", calibration=40,
                        retries=0, **kw)
    assert big.attrs["failures"] and "n_trials=40" in big.attrs["failures"][0]


def test_confusion_matrices_and_rejection(fake_factory, tmp_path, capsys):
    """3 classes, 40 trials per session, 5 folds of 8: trace/total equals the mean fold accuracy;
    peak-to-peak rejection removes exactly the epochs above the threshold (counted directly)."""
    ds = fake_factory(n_subjects=2, n_sessions=1, events=("left_hand", "right_hand", "feet"))
    paradigm = bci.resolve_paradigm("imagery")
    X, y, meta = bci.load_data(ds, paradigm, [1, 2])
    ptp = np.ptp(X, axis=-1).max(axis=1)
    thr = float(np.quantile(ptp, 0.8))
    out = tmp_path / "out"
    df = bci.benchmark([ds], pipelines=_spec("MDM"), paradigm="imagery", results=tmp_path / "r.sqlite",
                       out=out, verbose=False, n_permutations=20, reject_ptp=thr)
    for _, r in df.iterrows():
        e = r["extra"]
        keep = (meta["subject"] == int(r["subject"])).to_numpy()
        n_bad = int((ptp[keep] > thr).sum())
        assert e["epochs_total"] == keep.sum() and e["epochs_rejected"] == n_bad > 0
        assert np.isclose(e["rejected_share"], n_bad / keep.sum())
        assert "peak-to-peak" in e["reject_rule"] and e["n_test_trials"] == keep.sum() - n_bad
        cm = np.asarray(e["confusion_matrix"])
        assert cm.shape == (3, 3) and cm.sum() == keep.sum() - n_bad
        assert e["classes"] == sorted(np.unique(y[keep]).astype(str).tolist())
        ys = y[keep][ptp[keep] <= thr]
        assert [cm[i].sum() for i in range(3)] == [int((ys == c).sum()) for c in e["classes"]]
    # without rejection: 0 rejected, rule "none", and trace/total == score (equal folds of 8)
    df0 = bci.benchmark([ds], pipelines=_spec("MDM"), paradigm="imagery", results=tmp_path / "s.sqlite",
                        out=None, verbose=False, n_permutations=0)
    for _, r in df0.iterrows():
        e = r["extra"]
        cm = np.asarray(e["confusion_matrix"])
        assert e["rejected_share"] == 0 and e["reject_rule"].startswith("none")
        assert np.isclose(np.trace(cm) / cm.sum(), r["score"], atol=1e-12)
    assert (out / "confusion.png").stat().st_size > 1000
    summary = bci.summarize(df)
    assert np.isclose(summary["rejected"].iloc[0], df["rejected_share"].mean())
    report = bci.format_subject_report(df)
    assert "confusion matrices" in report and "rejected" in report and "peak-to-peak" in report
    with pytest.raises(ValueError, match="'reject_ptp' parameter"):
        bci.benchmark([ds], paradigm="imagery", results=tmp_path / "t.sqlite", out=None, reject_ptp=-1)


def test_transfer_example_runs(tmp_path, monkeypatch, capsys):
    import runpy
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    monkeypatch.setattr(sys, "argv", ["zoo_transfer_calibration.py", str(tmp_path / "tr")])
    runpy.run_path(str(root / "examples" / "zoo_transfer_calibration.py"), run_name="__main__")
    out = capsys.readouterr().out
    for name in ("EA+CSP+LDA", "EA+TS+SVM", "RC+TS+SVM", "RC+MDM", "TS+SVM", "confusion matrices"):
        assert name in out
    assert (tmp_path / "tr" / "confusion.png").is_file()


def test_transfer_pipelines_in_a_folder_are_skipped_without_calibration(tmp_path, caplog):
    import shutil

    folder = tmp_path / "mixed"
    shutil.copytree(TRANSFER, folder / "transfer")
    shutil.copy(resource_dir("pipelines") / "default" / "mdm.yml", folder / "mdm.yml")
    with caplog.at_level(logging.WARNING, logger="neurosig.evaluation.bci"):
        specs = bci.resolve_pipelines(folder, "LeftRightImagery", None)
    assert [s.name for s in specs] == ["MDM"] and "transfer pipelines" in caplog.text
    assert "RC+MDM" in caplog.text
    cal = {"n_trials": 5, "labeled": False, "selection": "first"}
    assert len(bci.resolve_pipelines(folder, "LeftRightImagery", cal)) == 5
    with pytest.raises(ValueError, match="transfer pipeline"):  # nothing left to run
        bci.resolve_pipelines(folder / "transfer", "LeftRightImagery", None)
