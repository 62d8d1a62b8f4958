"""Tables that pipeline files are checked against (see :mod:`neurosig.pipelines`).

- :data:`ALIASES`: other public spellings of allow-listed classes (a package that re-exports
  the class), mapped to the allow-list key; a test checks that each is the same object.
- :data:`CONSTRAINTS`: parameter constraints, in scikit-learn's constraint vocabulary, for
  allow-listed classes that declare none themselves (pyRiemann, MNE, MOABB).
- :data:`REFUSED`: classes that are not allowed, with what to use instead.
- :data:`INSTEAD`: a hint added to parameter errors of a class (what to use instead).
"""
from __future__ import annotations

from numbers import Integral, Real

from sklearn.utils._param_validation import Interval, StrOptions

#: "module:Class" a file may write -> the allow-list key it means
ALIASES: dict[str, str] = {
    "moabb.pipelines:ExtendedSSVEPSignal": "moabb.pipelines.features:ExtendedSSVEPSignal",
    "moabb.pipelines:LogVariance": "moabb.pipelines.features:LogVariance",
    "moabb.pipelines:SSVEP_CCA": "moabb.pipelines.classification:SSVEP_CCA",
    "moabb.pipelines:SSVEP_TRCA": "moabb.pipelines.classification:SSVEP_TRCA",
    "moabb.pipelines:SSVEP_MsetCCA": "moabb.pipelines.classification:SSVEP_MsetCCA",
    "mne.decoding.csp:CSP": "mne.decoding:CSP",
    "mne.decoding.transformer:Vectorizer": "mne.decoding:Vectorizer",
}

# pyRiemann 0.12's covariance estimators and metrics (pyriemann.geometry.*_functions)
_COV = StrOptions({"corr", "cov", "hub", "lwf", "mcd", "oas", "sch", "scm", "stu", "tyl"})
_MEAN_DIST = StrOptions({"chol", "euclid", "harmonic", "kullback_sym", "logchol", "logdet", "logeuclid",
                         "riemann", "thompson", "wasserstein"})
_TANGENT = StrOptions({"euclid", "logchol", "logeuclid", "riemann", "wasserstein"})
_MEAN = StrOptions({"ale", "alm", "bmp", "cheap", "chol", "euclid", "harmonic", "kullback_sym", "logchol",
                    "logdet", "logeuclid", "power", "poweuclid", "riemann", "thompson", "wasserstein"})
_POS_INT = Interval(Integral, 1, None, closed="left")
_JOBS = [Integral, None]

#: allow-list key -> {parameter: [constraint, ...]} (scikit-learn's vocabulary)
CONSTRAINTS: dict[str, dict[str, list]] = {
    "pyriemann.estimation:Covariances": {"estimator": [_COV]},
    "pyriemann.estimation:XdawnCovariances": {
        "nfilter": [_POS_INT], "applyfilters": ["boolean"], "classes": [list, None], "estimator": [_COV],
        "xdawn_estimator": [_COV], "baseline_cov": [None]},
    "pyriemann.estimation:ERPCovariances": {"classes": [list, None], "estimator": [_COV],
                                            "svd": [_POS_INT, None]},
    "pyriemann.spatialfilters:CSP": {"nfilter": [_POS_INT], "metric": [_MEAN], "log": ["boolean"],
                                     "ajd_method": [StrOptions({"ajd_pham", "rjd", "uwedge"})]},
    "pyriemann.spatialfilters:Xdawn": {"nfilter": [_POS_INT], "classes": [list, None], "estimator": [_COV],
                                       "baseline_cov": [None]},
    "pyriemann.classification:MDM": {"metric": [_MEAN_DIST, dict], "n_jobs": _JOBS},
    "pyriemann.classification:FgMDM": {"metric": [_MEAN_DIST, dict], "tsupdate": ["boolean"], "n_jobs": _JOBS},
    "pyriemann.classification:TSClassifier": {"metric": [_TANGENT, dict], "tsupdate": ["boolean"]},
    "pyriemann.tangentspace:TangentSpace": {"metric": [_TANGENT, dict], "tsupdate": ["boolean"]},
    "mne.decoding:CSP": {
        "n_components": [_POS_INT], "log": ["boolean", None],
        "reg": [None, Interval(Real, 0, 1, closed="both"),
                StrOptions({"empirical", "ledoit_wolf", "oas", "shrunk", "pca", "factor_analysis",
                            "shrinkage", "diagonal_fixed"})],
        "cov_est": [StrOptions({"concat", "epoch"})],
        "transform_into": [StrOptions({"average_power", "csp_space"})], "norm_trace": ["boolean"],
        "component_order": [StrOptions({"mutual_info", "alternate"})]},
    "moabb.pipelines.classification:SSVEP_CCA": {"n_harmonics": [_POS_INT], "freq_map": [dict, None]},
    "moabb.pipelines.classification:SSVEP_TRCA": {
        "n_fbands": [_POS_INT], "is_ensemble": ["boolean"],
        "method": [StrOptions({"original", "riemann", "logeuclid"})], "estimator": [_COV]},
    "moabb.pipelines.classification:SSVEP_MsetCCA": {"n_filters": [_POS_INT], "n_jobs": _JOBS},
    "neurosig.riemann.augmented:AugmentedCovariances": {
        "order": [_POS_INT], "lag": [_POS_INT], "estimator": [_COV],
        "embedding": [StrOptions({"moabb", "textbook"})],
        "on_rank_deficient": [StrOptions({"shrink", "raise"})], "rcond": [Interval(Real, 0, None,
                                                                                      closed="left")]},
    "neurosig.riemann.transfer:EuclideanAlignment": {"shrinkage": [Interval(Real, 0, 1, closed="both")]},
    "neurosig.riemann.transfer:RiemannianRecentering": {"metric": [StrOptions({"riemann", "logeuclid",
                                                                               "euclid"})]},
}

_SSVEP = ("The file's parameters are those of an older MOABB release (MOABB 1.7's class refuses them too). "
          "neurosig's SSVEP classifiers read the stimulation frequencies from the class labels: "
          "use neurosig.features:SSVEPCCA or neurosig.features:FilterBankCCA (see the shipped "
          "pipelines/ssvep/CCA.yml and FBCCA.yml).")

#: classes refused, with what to use instead
REFUSED: dict[str, str] = {
    "moabb.pipelines.features:AugmentedDataset": (
        "Its exact neurosig equivalent is neurosig.riemann.augmented:AugmentedCovariances (parameters "
        "order, lag, estimator; embedding 'moabb' is MOABB's AugmentedDataset followed by pyRiemann's "
        "Covariances), and the whole AUG_TANG_SVM_grid pipeline with its order x lag x C x kernel grid is "
        "the shipped pipelines/full/ACM_TS_SVM_fastgrid.yml (neurosig.riemann.acm:ACMClassifier)."),
}

#: allow-list key -> hint added to its parameter errors
INSTEAD: dict[str, str] = {
    "moabb.pipelines.classification:SSVEP_CCA": _SSVEP,
    "moabb.pipelines.classification:SSVEP_TRCA": _SSVEP,
    "moabb.pipelines.classification:SSVEP_MsetCCA": _SSVEP,
}
