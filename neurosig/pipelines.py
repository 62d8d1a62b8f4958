"""YAML pipeline files (MOABB's schema) -> scikit-learn pipelines.

A file looks like::

    name: TS+SVM
    paradigms: [LeftRightImagery, MotorImagery]
    citations: [...]
    tags: [default]            # neurosig extension: "default" = fast set
    pipeline:
      - name: Covariances
        from: pyriemann.estimation
        parameters: {estimator: oas}
      - name: TangentSpace
        from: pyriemann.tangentspace
      - name: SVC
        from: sklearn.svm
        parameters: {kernel: linear}
    param_grid: {...}          # optional, GridSearchCV over the steps
    calibration: unlabeled     # neurosig extension, transfer pipelines only: they need target-domain
                               # trials ("unlabeled" or "labeled") and run only under a calibration
                               # protocol (``neurosig benchmark --calibration-trials K``)

Files are read with ``yaml.safe_load`` and every class is looked up in the
allow-list :data:`REGISTRY`; a file naming any other class is refused with a
clear error. Nothing is imported from a path written in a file.
"""
from __future__ import annotations

import copy
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sklearn.pipeline import Pipeline, make_pipeline

from ._io import read_yaml
from ._resources import resource_dir
from .contracts import stable_hash

#: Allow-list: "module:Class" -> import path. The ``from`` of a YAML step must match.
REGISTRY: dict[str, str] = {
    # scikit-learn
    "sklearn.discriminant_analysis:LinearDiscriminantAnalysis": "sklearn.discriminant_analysis",
    "sklearn.svm:SVC": "sklearn.svm",
    "sklearn.linear_model:LogisticRegression": "sklearn.linear_model",
    "sklearn.preprocessing:StandardScaler": "sklearn.preprocessing",
    "sklearn.decomposition:PCA": "sklearn.decomposition",
    # pyRiemann
    "pyriemann.estimation:Covariances": "pyriemann.estimation",
    "pyriemann.estimation:XdawnCovariances": "pyriemann.estimation",
    "pyriemann.estimation:ERPCovariances": "pyriemann.estimation",
    "pyriemann.tangentspace:TangentSpace": "pyriemann.tangentspace",
    "pyriemann.classification:MDM": "pyriemann.classification",
    "pyriemann.classification:TSClassifier": "pyriemann.classification",
    "pyriemann.spatialfilters:CSP": "pyriemann.spatialfilters",
    # MNE
    "mne.decoding:CSP": "mne.decoding",
    # neurosig
    "neurosig.features:BandPower": "neurosig.features",
    "neurosig.features:Connectivity": "neurosig.features",
    "neurosig.features:PowerAndConnectivity": "neurosig.features",
    "neurosig.features:FilterBank": "neurosig.features",
    "neurosig.features:SSVEPCCA": "neurosig.features",
    "neurosig.features:FilterBankCCA": "neurosig.features",
    "moabb.pipelines.features:ExtendedSSVEPSignal": "moabb.pipelines.features",
    "neurosig.models.cnn:EEGNet": "neurosig.models.cnn",
    "neurosig.models.cnn:ShallowConvNet": "neurosig.models.cnn",
    "neurosig.models.cnn:DeepConvNet": "neurosig.models.cnn",
    "neurosig.models.token_transformer:TokenTransformerClassifier": "neurosig.models.token_transformer",
    "neurosig.models.ridge:FastRidgeCV": "neurosig.models.ridge",
    "neurosig.models.foundation:FoundationClassifier": "neurosig.models.foundation",
    # neurosig (later work adds its estimators here)
    "neurosig.riemann.augmented:AugmentedCovariances": "neurosig.riemann.augmented",
    "neurosig.riemann.acm:ACMClassifier": "neurosig.riemann.acm",
    "neurosig.riemann.transfer:EuclideanAlignment": "neurosig.riemann.transfer",
    "neurosig.riemann.transfer:RiemannianRecentering": "neurosig.riemann.transfer",
}

#: what a transfer pipeline may require of the target domain (YAML key ``calibration``)
CALIBRATION_NEEDS: tuple[str, ...] = ("unlabeled", "labeled")


class PipelineFileError(ValueError):
    """A pipeline YAML file is malformed or names a class outside the allow-list."""


@dataclass
class PipelineSpec:
    """A parsed pipeline file."""

    name: str
    steps: list[dict]
    paradigms: list[str]
    tags: list[str] = field(default_factory=list)
    citations: list[str] = field(default_factory=list)
    param_grid: dict | None = None
    path: Path | None = None
    #: None for ordinary pipelines; "unlabeled" / "labeled" for transfer pipelines that need
    #: that many target-domain calibration trials (see the benchmark's ``calibration``)
    calibration: str | None = None

    @property
    def config_hash(self) -> str:
        """Stable hash of what defines the pipeline (steps, parameters, grid), not of any repr."""
        return stable_hash({"steps": self.steps, "param_grid": self.param_grid})

    def build(self) -> Any:
        """A fresh, unfitted scikit-learn estimator (a GridSearchCV when ``param_grid`` is set)."""
        estimators = []
        for step in self.steps:
            cls = resolve_class(step["from"], step["name"], self.path)
            params = step.get("parameters") or {}
            try:
                estimators.append(cls(**params))
            except TypeError as exc:
                raise PipelineFileError(f"{_where(self.path)}step {step['name']!r}: invalid parameters "
                                        f"{params}: {exc}") from None
        pipe: Pipeline = make_pipeline(*estimators)
        if self.param_grid:
            from sklearn.model_selection import GridSearchCV
            return GridSearchCV(pipe, self.param_grid, error_score="raise")
        return pipe


def _where(path: Path | None) -> str:
    return f"Pipeline file {str(path)!r}: " if path else ""


def resolve_class(module: str, name: str, path: Path | None = None) -> type:
    """Look ``module:name`` up in the allow-list and import it."""
    key = f"{module}:{name}"
    if key not in REGISTRY:
        allowed = sorted(REGISTRY)
        raise PipelineFileError(
            f"{_where(path)}class {key!r} is not in neurosig's allow-list of pipeline classes, so it "
            f"will not be imported. Allowed classes are: {', '.join(allowed)}.")
    mod = importlib.import_module(REGISTRY[key])
    return getattr(mod, name)


def parse_pipeline(data: Any, path: Path | None = None) -> PipelineSpec:
    """Validate a loaded YAML document and return a :class:`PipelineSpec`."""
    if not isinstance(data, dict):
        raise PipelineFileError(f"{_where(path)}expected a YAML mapping with keys 'name', 'paradigms' "
                                f"and 'pipeline', but got a {type(data).__name__}.")
    allowed = {"name", "paradigms", "citations", "pipeline", "param_grid", "tags", "calibration"}
    unknown = set(data) - allowed
    if unknown:
        raise PipelineFileError(f"{_where(path)}unknown keys {sorted(unknown)}; allowed keys are "
                                f"{sorted(allowed)}.")
    for key in ("name", "paradigms", "pipeline"):
        if key not in data:
            raise PipelineFileError(f"{_where(path)}missing the required key {key!r}.")
    steps = copy.deepcopy(data["pipeline"])
    if not isinstance(steps, list) or not steps:
        raise PipelineFileError(f"{_where(path)}'pipeline' must be a non-empty list of steps.")
    for i, step in enumerate(steps):
        if not isinstance(step, dict) or "name" not in step or "from" not in step:
            raise PipelineFileError(f"{_where(path)}step {i} must be a mapping with 'name' and 'from'.")
        extra = set(step) - {"name", "from", "parameters"}
        if extra:
            raise PipelineFileError(f"{_where(path)}step {i} has unknown keys {sorted(extra)}.")
        if step.get("parameters") is not None and not isinstance(step["parameters"], dict):
            raise PipelineFileError(f"{_where(path)}step {i} 'parameters' must be a mapping.")
        resolve_class(step["from"], step["name"], path)  # refuse before any work
    paradigms = data["paradigms"]
    if isinstance(paradigms, str):
        paradigms = [paradigms]
    calibration = data.get("calibration")
    if calibration is not None and calibration not in CALIBRATION_NEEDS:
        raise PipelineFileError(f"{_where(path)}invalid value for 'calibration'. Allowed values are "
                                f"{list(CALIBRATION_NEEDS)} (or leave it out), but got {calibration!r}.")
    if calibration is not None and data.get("param_grid"):
        raise PipelineFileError(f"{_where(path)}a transfer pipeline ('calibration') cannot have a "
                                "'param_grid' (the grid search would not see the domains).")
    return PipelineSpec(name=str(data["name"]), steps=steps, paradigms=list(paradigms),
                        tags=list(data.get("tags") or []), citations=list(data.get("citations") or []),
                        param_grid=data.get("param_grid"), path=path, calibration=calibration)


def load_pipeline_file(path: str | Path) -> PipelineSpec:
    """Read one YAML pipeline file (``yaml.safe_load``) and validate it."""
    path = Path(path)
    data = read_yaml(path, "pipelines", "Pipeline file", error=PipelineFileError, mapping=False)
    return parse_pipeline(data, path)


def load_pipelines(paths: str | Path | list | None = None, tag: str | None = None) -> list[PipelineSpec]:
    """Load pipeline files from files and/or folders (default: the shipped ``pipelines/default``).

    Folders are searched recursively for ``*.yml`` / ``*.yaml``. Names must be unique.
    """
    if paths is None:
        paths = [resource_dir("pipelines") / "default"]
    if isinstance(paths, (str, Path)):
        paths = [paths]
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files.extend(sorted(list(p.rglob("*.yml")) + list(p.rglob("*.yaml"))))
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"Invalid value for the 'pipelines' parameter: {str(p)!r} is neither "
                                    "a YAML file nor a folder of them.")
    specs = [load_pipeline_file(f) for f in files]
    if tag is not None:
        specs = [s for s in specs if tag in s.tags]
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise PipelineFileError(f"Pipeline names must be unique, but {dupes} appear more than once.")
    if not specs:
        raise FileNotFoundError(f"No pipeline files found in {[str(p) for p in paths]}.")
    return specs


def fill_unset(estimator: Any, **values: Any) -> Any:
    """Set every parameter named in ``values`` that is left as ``None`` (in pipeline steps, nested
    too) to its value; ``None`` values are ignored. Returns ``estimator``.

    Pipeline files cannot know the data they will see; steps that need a property of the
    data declare it ``None`` and the benchmark fills it in: ``sfreq`` (band power, filter
    banks, CNN kernel scaling, CCA) from the epochs, ``freqs`` (SSVEP CCA) from class labels
    that are stimulation frequencies.
    """
    params = estimator.get_params(deep=True)
    updates = {}
    for name, value in values.items():
        if value is None:
            continue
        updates.update({k: value for k, v in params.items()
                        if (k == name or k.endswith(f"__{name}")) and v is None})
    if updates:
        estimator.set_params(**updates)
    return estimator


def fill_sfreq(estimator: Any, sfreq: float) -> Any:
    """:func:`fill_unset` for the sampling rate alone."""
    return fill_unset(estimator, sfreq=sfreq)
