"""Estimator contract on valid 3-D input, 12 checks for every neurosig estimator, plus
scikit-learn's own common checks with each expected failure explained.

The 12 checks: clone keeps parameters; NotFittedError before fit (every inference method);
fit returns self and sets ``n_features_in_``; a different channel count refused at
inference; NaN refused at fit; inf refused at inference; 3-D input declared in the tags;
pickling keeps the outputs; 2-D input refused naming X and its shape; empty input refused;
wrong label count refused (supervised) or labels ignored (unsupervised); fit leaves the
parameters as given.
"""
from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.fixes import parse_version

SFREQ = 128.0


def _signals(n=24, c=4, t=256, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n // 2)
    tt = np.arange(t) / SFREQ
    X = rng.standard_normal((n, c, t))
    X[y == 1, 0] += 1.5 * np.sin(2 * np.pi * 13 * tt)  # class 1: a 13 Hz rhythm on channel 0
    X[y == 0, 1] += 1.5 * np.sin(2 * np.pi * 10 * tt)
    return X * 1e-5, y


def _spd(n=24, c=4, seed=0):
    X, y = _signals(n, c, seed=seed)
    C = np.einsum("nct,ndt->ncd", X, X) / X.shape[2]
    return C + 1e-12 * np.eye(c), y


def _ssvep(n=24, c=4, t=256, seed=0):
    X, y = _signals(n, c, t, seed)
    return X, np.where(y == 1, "13", "10")


def _tabular(n=40, p=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    return X, X @ rng.standard_normal(p) + 0.1 * rng.standard_normal(n)


def _estimators():
    """name -> (factory, data, supervised, channel_checked)."""
    from neurosig.features.cca import SSVEPCCA, FilterBankCCA
    from neurosig.features.combined import PowerAndConnectivity
    from neurosig.features.connectivity import Connectivity
    from neurosig.features.filterbank import FilterBank
    from neurosig.features.spectral import BandPower
    from neurosig.models.cnn import DeepConvNet, EEGNet, ShallowConvNet
    from neurosig.models.foundation import FoundationClassifier
    from neurosig.models.ridge import FastRidgeCV
    from neurosig.models.token_transformer import TokenTransformerClassifier
    from neurosig.riemann import ACMClassifier, AugmentedCovariances
    from neurosig.riemann.tangent import RiemannTangentSpace
    from neurosig.riemann.transfer import EuclideanAlignment, RiemannianRecentering
    from neurosig.tokenizers.tfm import TFMTokenizerEstimator

    torch_kw = dict(max_epochs=1, batch_size=8, val_fraction=0.0, random_state=0)
    tfm_kw = dict(sfreq=SFREQ, model_sfreq=SFREQ, n_codes=16, n_fft=64, hop=32)
    return {
        "EEGNet": (lambda: EEGNet(sfreq=SFREQ, **torch_kw), _signals, True, True),
        "ShallowConvNet": (lambda: ShallowConvNet(sfreq=SFREQ, **torch_kw), _signals, True, True),
        "DeepConvNet": (lambda: DeepConvNet(sfreq=SFREQ, **torch_kw), _signals, True, True),
        "TokenTransformerClassifier": (lambda: TokenTransformerClassifier(
            **tfm_kw, tokenizer_dim=16, tokenizer_max_epochs=1, pretrain_max_epochs=0, dim=16, n_layers=1,
            n_heads=2, **torch_kw), _signals, True, True),
        "FoundationClassifier": (lambda: FoundationClassifier(encoder="transformer", size="nano",
                                                              **torch_kw), _signals, True, True),
        "SSVEPCCA": (lambda: SSVEPCCA(sfreq=SFREQ, n_harmonics=2), _ssvep, True, True),
        "FilterBankCCA": (lambda: FilterBankCCA(sfreq=SFREQ, n_harmonics=2, n_bands=2, low_step=8,
                                                high=40), _ssvep, True, True),
        "EuclideanAlignment": (EuclideanAlignment, _signals, False, True),
        "RiemannianRecentering": (RiemannianRecentering, _spd, False, True),
        "RiemannTangentSpace": (RiemannTangentSpace, _spd, False, True),
        "AugmentedCovariances": (lambda: AugmentedCovariances(order=2, lag=1), _signals, False, True),
        "ACMClassifier": (lambda: ACMClassifier(order=1, lag=1, selection="fixed"), _signals, True, True),
        "BandPower": (lambda: BandPower(sfreq=SFREQ), _signals, False, True),
        "Connectivity": (lambda: Connectivity(sfreq=SFREQ, fmin=8, fmax=30), _signals, False, True),
        "FilterBank": (lambda: FilterBank(transformer="csp", sfreq=SFREQ, bands=[[8, 12], [12, 30]]),
                       _signals, True, True),
        "PowerAndConnectivity": (lambda: PowerAndConnectivity(sfreq=SFREQ), _signals, False, True),
        # channels are tokenized one by one: any channel count is valid at transform
        "TFMTokenizerEstimator": (lambda: TFMTokenizerEstimator(**tfm_kw, dim=16, max_epochs=1, batch_size=8),
                                  _signals, False, False),
        "FastRidgeCV": (lambda: FastRidgeCV(cv=3), _tabular, True, True),
    }


ESTIMATORS = _estimators()
NAMES = sorted(ESTIMATORS)
_INFERENCE = ("predict", "predict_proba", "decision_function", "transform")


def _make(name):
    factory, data, supervised, channels = ESTIMATORS[name]
    X, y = data()
    return factory(), X, y, supervised, channels


def _fit(est, X, y, supervised):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y) if supervised else est.fit(X)


def _methods(est):
    return [m for m in _INFERENCE if hasattr(est, m)]


def _outputs(est, X):
    return {m: np.asarray(getattr(est, m)(X)) for m in _methods(est)}


@pytest.fixture(scope="module")
def fitted():
    """One fitted copy of each estimator (fitting torch models once keeps the module fast)."""
    cache = {}

    def get(name):
        if name not in cache:
            est, X, y, sup, _ = _make(name)
            cache[name] = (_fit(est, X, y, sup), X, y)
        return cache[name]
    return get


def _is_3d(name):
    return name != "FastRidgeCV"


# -- 1 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_clone_keeps_params(name):
    est = _make(name)[0]
    c = clone(est)
    assert c is not est and c.get_params() == est.get_params()


# -- 2 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_not_fitted_error_before_fit(name):
    est, X, *_ = _make(name)
    assert _methods(est)
    for m in _methods(est):
        with pytest.raises(NotFittedError):
            getattr(est, m)(X)


# -- 3 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_fit_returns_self_and_sets_n_features_in(name, fitted):
    est, X, _ = fitted(name)
    assert est.n_features_in_ == X.shape[1]
    fresh, X2, y2, sup, _ = _make(name)
    assert _fit(fresh, X2, y2, sup) is fresh


# -- 4 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_channel_count_checked_at_inference(name, fitted):
    est, X, _ = fitted(name)
    channels = ESTIMATORS[name][3]
    if name in ("RiemannianRecentering", "RiemannTangentSpace"):
        fewer = X[:, :3, :3]
    else:
        fewer = X[:, :3]
    for m in _methods(est):
        if not channels:  # channel-wise tokenizer: fewer channels give fewer token rows
            assert getattr(est, m)(fewer).shape[1] == 3
            continue
        with pytest.raises(ValueError) as ei:
            getattr(est, m)(fewer)
        msg = str(ei.value)
        assert "'X' parameter" in msg or "X has" in msg, msg
        assert str(X.shape[1]) in msg and "3" in msg, msg


# -- 5 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "inf"])
def test_non_finite_refused_at_fit(name, bad):
    est, X, y, sup, _ = _make(name)
    X = X.copy()
    X[(0,) * X.ndim] = bad
    with pytest.raises(ValueError) as ei:
        _fit(est, X, y, sup)
    msg = str(ei.value).lower()
    assert ("nan" in msg or "infinit" in msg or "finite" in msg) and "x" in msg, msg
    assert not hasattr(est, "n_features_in_")  # refused before anything was learned


# -- 6 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_refused_at_inference(name, bad, fitted):
    est, X, _ = fitted(name)
    X = X.copy()
    X[(1,) * X.ndim] = bad
    for m in _methods(est):
        with pytest.raises(ValueError) as ei:
            getattr(est, m)(X)
        msg = str(ei.value).lower()
        assert "nan" in msg or "infinit" in msg or "finite" in msg, (m, msg)


# -- 7 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_tags_declare_input_dimensions(name):
    tags = _make(name)[0].__sklearn_tags__()
    assert tags.input_tags.three_d_array is _is_3d(name)
    # 2-D stays declared so scikit-learn runs its common checks at all (it skips every check
    # of an estimator without two_d_array); 2-D input is refused, see test 9
    assert tags.input_tags.two_d_array


# -- 8 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_pickle_keeps_outputs(name, fitted):
    est, X, _ = fitted(name)
    before = _outputs(est, X)
    again = pickle.loads(pickle.dumps(est))
    after = _outputs(again, X)
    for m in before:
        if before[m].dtype.kind in "fc":
            np.testing.assert_allclose(after[m], before[m], rtol=1e-6, atol=1e-8, err_msg=m)
        else:
            np.testing.assert_array_equal(after[m], before[m], err_msg=m)


# -- 9 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_wrong_dimensionality_refused(name):
    est, X, y, sup, _ = _make(name)
    bad = X.reshape(len(X), -1) if X.ndim == 3 else X[:, :, None]
    with pytest.raises(ValueError) as ei:
        _fit(est, bad, y, sup)
    msg = str(ei.value)
    assert "X" in msg and str(bad.shape) in msg.replace("np.int64(", "").replace(")", ")"), msg


# -- 10 --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_empty_input_refused(name):
    est, X, y, sup, _ = _make(name)
    with pytest.raises(ValueError) as ei:
        _fit(est, X[:0], y[:0], sup)
    msg = str(ei.value).lower()
    assert "empty" in msg or "0 sample" in msg or "minimum" in msg, msg


# -- 11 --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_label_count_checked(name):
    est, X, y, sup, _ = _make(name)
    if not sup:  # unsupervised: labels are accepted and ignored
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = _outputs(clone(est).fit(X, y), X)
            b = _outputs(clone(est).fit(X), X)
        for m in a:
            np.testing.assert_allclose(np.asarray(a[m], float), np.asarray(b[m], float), rtol=1e-6)
        return
    with pytest.raises(ValueError) as ei:
        est.fit(X, y[:-3])
    msg = str(ei.value)
    assert str(len(X)) in msg and str(len(X) - 3) in msg, msg


# -- 12 --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_fit_leaves_params_as_given(name, fitted):
    est, X, y, sup, _ = _make(name)
    before = pickle.dumps(est.get_params())
    _fit(est, X, y, sup)
    assert pickle.dumps(est.get_params()) == before
    public = [a for a in vars(est) if not a.startswith("_") and a.endswith("_")]
    assert public, "fitted attributes end in '_'"


# -- checkpoints: pickled code is refused, naming the file and the safe formats -------------
class _Payload:
    """Would create a marker file if unpickled (it must never be)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _loaders():
    from neurosig.models.checkpoints import load_encoder
    from neurosig.models.cnn import EEGNet
    from neurosig.models.foundation import FoundationClassifier
    from neurosig.models.pretrain import load_pretrained
    from neurosig.tokenizers.tfm import TFMTokenizer, TFMTokenizerEstimator

    return {"load_encoder": load_encoder, "EEGNet.load": EEGNet.load,
            "FoundationClassifier.load": FoundationClassifier.load, "TFMTokenizer.load": TFMTokenizer.load,
            "TFMTokenizerEstimator.load": TFMTokenizerEstimator.load, "load_pretrained": load_pretrained}


@pytest.mark.parametrize("loader", sorted(_loaders()))
def test_pickle_checkpoint_refused_unexecuted(tmp_path, loader):
    import torch

    from neurosig._io import UnsafeCheckpointError

    marker = tmp_path / "executed"
    path = tmp_path / "model.pt"
    torch.save({"format": "neurosig-encoder", "payload": _Payload(marker)}, path)
    with pytest.raises(UnsafeCheckpointError) as ei:
        _loaders()[loader](path)
    msg = str(ei.value)
    assert str(path) in msg and "weights_only=True" in msg and ".safetensors" in msg and "refused" in msg
    assert not marker.exists()  # nothing in the file ran


@pytest.mark.parametrize("loader", sorted(_loaders()))
@pytest.mark.parametrize("content", [b"", b"not a torch file", b"PK\x03\x04broken zip"],
                         ids=["empty", "text", "broken-zip"])
def test_unreadable_checkpoint_named(tmp_path, loader, content):
    path = tmp_path / "model.pt"
    path.write_bytes(content)
    with pytest.raises(ValueError) as ei:
        _loaders()[loader](path)
    assert str(path) in str(ei.value)


def test_pretrain_resume_from_pickle_refused(tmp_path):
    import torch

    from neurosig._io import UnsafeCheckpointError
    from neurosig.models.femba import BiMambaEncoder
    from neurosig.models.pretrain import PretrainConfig, pretrain

    marker = tmp_path / "executed"
    torch.save({"epoch": 1, "payload": _Payload(marker)}, tmp_path / "last.pt")
    X = np.random.default_rng(0).standard_normal((16, 4, 64)).astype(np.float32)
    with pytest.raises(UnsafeCheckpointError) as ei:
        pretrain(BiMambaEncoder("nano", n_channels=4, n_times=64), X, PretrainConfig(max_epochs=1),
                 checkpoint_dir=tmp_path, verbose=False)
    assert str(tmp_path / "last.pt") in str(ei.value) and not marker.exists()


def test_one_seed_reports_no_interval():
    from neurosig.models.foundation import summarize_seeds

    s = summarize_seeds([0.71], [0], "balanced_accuracy")
    assert s.ci_low is None and s.ci_high is None and s.mean == pytest.approx(0.71)
    assert "nan" not in str(s) and "one seed: no confidence interval" in str(s)
    assert s.to_dict()["ci_low"] is None
    two = summarize_seeds([0.7, 0.8], [0, 1], "balanced_accuracy")
    assert two.ci_low < 0.75 < two.ci_high


# -- scikit-learn's common checks ------------------------------------------------------------
_TWO_D = ("scikit-learn's common checks feed 2-D (n_samples, n_features) data; this estimator takes "
          "3-D trials (n_trials, n_channels, n_times) or SPD matrices and refuses 2-D input with an "
          "error naming X and its shape; the 3-D contract is tested above")
_WHAT = {  # what the check meant to test, and where the 3-D equivalent is tested instead
    "check_estimators_nan_inf": "NaN/inf: refused on 3-D input at fit and inference (tests 5, 6)",
    "check_estimators_empty_data_messages": "empty input: refused on 3-D input (test 10)",
    "check_n_features_in": "n_features_in_: set on 3-D input (test 3)",
    "check_n_features_in_after_fitting": "channel count checked on 3-D input (test 4)",
    "check_fit_check_is_fitted": "NotFittedError before fit (test 2)",
    "check_estimators_pickle": "pickling keeps the outputs on 3-D input (test 8)",
    "check_estimators_overwrite_params": "parameters left as given by fit (test 12)",
    "check_dont_overwrite_parameters": "parameters left as given by fit (test 12)",
    "check_estimators_fit_returns_self": "fit returns self (test 3)",
    "check_supervised_y_2d": "label shape and count checked (test 11)",
    "check_requires_y_none": "label count checked (test 11)",
}
_COMMON_2D = [
    "check_complex_data", "check_dict_unchanged", "check_dont_overwrite_parameters", "check_dtype_object",
    "check_estimator_sparse_array", "check_estimator_sparse_matrix", "check_estimator_sparse_tag",
    "check_estimators_dtypes", "check_estimators_empty_data_messages", "check_estimators_fit_returns_self",
    "check_estimators_nan_inf", "check_estimators_overwrite_params", "check_estimators_pickle",
    "check_f_contiguous_array_estimator", "check_fit2d_1feature", "check_fit2d_1sample",
    "check_fit2d_predict1d", "check_fit_check_is_fitted", "check_fit_idempotent", "check_fit_score_takes_y",
    "check_methods_sample_order_invariance", "check_methods_subset_invariance", "check_n_features_in",
    "check_n_features_in_after_fitting", "check_pipeline_consistency", "check_positive_only_tag_during_fit",
    "check_readonly_memmap_input",
]
_TRANSFORMER_2D = ["check_transformer_data_not_an_array", "check_transformer_general",
                   "check_transformer_preserve_dtypes"]
_CLASSIFIER_2D = ["check_classifier_data_not_an_array", "check_classifiers_classes",
                  "check_classifiers_one_label", "check_classifiers_regression_target",
                  "check_classifiers_train", "check_requires_y_none", "check_supervised_y_2d"]


def _sklearn_failures(estimator) -> dict[str, str]:
    """Checks this estimator is expected to fail, each with its reason (none for FastRidgeCV)."""
    from sklearn.base import is_classifier

    if not _is_3d(type(estimator).__name__):
        return {}
    names = list(_COMMON_2D)
    if is_classifier(estimator):
        names += _CLASSIFIER_2D
    if hasattr(estimator, "transform"):
        names += _TRANSFORMER_2D
    return {n: _TWO_D + (f"; {_WHAT[n]}" if n in _WHAT else "") for n in names}


# scikit-learn >= 1.8 runs the expected failures strictly (a listed check that starts passing
# fails the test); on 1.6 and 1.7 such a check is reported as XPASS in the summary
_STRICT = ({"xfail_strict": True} if parse_version(sklearn.__version__) >= parse_version("1.8")
           else {})


@pytest.mark.slow  # about 900 checks (torch models fitted in many of them)
@parametrize_with_checks([ESTIMATORS[n][0]() for n in NAMES], expected_failed_checks=_sklearn_failures,
                         **_STRICT)
def test_sklearn_common_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)
