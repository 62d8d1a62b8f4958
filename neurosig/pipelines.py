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

Files are read with ``yaml.safe_load`` (through :func:`neurosig._io.read_yaml`) and checked
against :class:`PipelineFileSchema` when they are read, before any data is loaded: every class
is looked up in the allow-list :data:`REGISTRY` (re-export spellings such as
``from: moabb.pipelines`` in :data:`ALIASES`), every parameter is checked against the
estimator's signature and declared constraints (scikit-learn's own, or neurosig's in
:data:`CONSTRAINTS` for pyRiemann, MNE and MOABB classes), every step is built, and every
``param_grid`` key and value is checked the same way. Nothing is imported from a path
written in a file, and Python pipeline files (``.py``) are never run.
"""
from __future__ import annotations

import copy
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from annotated_types import MinLen
from pydantic import Field
from sklearn.pipeline import Pipeline, make_pipeline

from ._logging import get_logger
from ._pipeline_rules import ALIASES, CONSTRAINTS, INSTEAD, REFUSED
from ._resources import resource_dir
from ._schema import Schema, SchemaError, check_estimator_params, fail, load, prefix, validate
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
    "pyriemann.classification:FgMDM": "pyriemann.classification",
    "pyriemann.spatialfilters:Xdawn": "pyriemann.spatialfilters",
    # MNE
    "mne.decoding:CSP": "mne.decoding",
    "mne.decoding:Vectorizer": "mne.decoding",
    # MOABB
    "moabb.pipelines.features:LogVariance": "moabb.pipelines.features",
    "moabb.pipelines.classification:SSVEP_CCA": "moabb.pipelines.classification",
    "moabb.pipelines.classification:SSVEP_TRCA": "moabb.pipelines.classification",
    "moabb.pipelines.classification:SSVEP_MsetCCA": "moabb.pipelines.classification",
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
_WHAT = "Pipeline file"
#: suffixes of files a pipeline folder is searched for (YAML is read; Python is refused)
PIPELINE_SUFFIXES: tuple[str, ...] = (".yml", ".yaml", ".py")


class PipelineFileError(SchemaError):
    """A pipeline file is malformed, names a class outside the allow-list or a bad parameter."""


class PipelineStepSchema(Schema):
    """One step of a pipeline file."""

    name: str = Field(description="Class name, looked up in neurosig's allow-list.")
    from_: str = Field(alias="from", description="Module of the class (a public re-export such as "
                                                 "`moabb.pipelines` is accepted).")
    parameters: dict[str, Any] | None = Field(
        None, description="Keyword arguments of the class, checked against its signature and constraints "
                          "when the file is read.")


class PipelineFileSchema(Schema):
    """A pipeline file (MOABB's schema plus neurosig's `tags` and `calibration`)."""

    name: str = Field(description="Pipeline name (unique across the files of one run).")
    paradigms: list[str] | str = Field(description="MOABB paradigms the pipeline suits.")
    citations: list[str] = Field([], description="References.")
    tags: list[str] = Field([], description="neurosig extension: `default` marks the fast set.")
    pipeline: Annotated[list[PipelineStepSchema], MinLen(1)] = Field(
        description="The steps, in order (see Pipeline step).")
    param_grid: dict[str, Annotated[list[Any], MinLen(1)]] | None = Field(
        None, description="Grid search over `<step>__<parameter>` keys (step = lower-case class name).")
    calibration: Literal["unlabeled", "labeled"] | None = Field(
        None, description="Transfer pipelines only: the target-domain trials they need.")


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
        for i, step in enumerate(self.steps):
            cls = resolve_class(step["from"], step["name"], self.path, key=f"pipeline[{i}]")
            params = step.get("parameters") or {}
            try:
                estimators.append(cls(**params))
            except TypeError as exc:
                raise fail(_WHAT, self.path, f"pipeline[{i}].parameters", f"parameters {cls.__name__} accepts",
                           params, PipelineFileError, hint=f"({exc})") from None
        pipe: Pipeline = make_pipeline(*estimators)
        if self.param_grid:
            from sklearn.model_selection import GridSearchCV
            return GridSearchCV(pipe, self.param_grid, error_score="raise")
        return pipe


def _registry_key(module: str, name: str) -> str | None:
    key = f"{module}:{name}"
    key = ALIASES.get(key, key)
    return key if key in REGISTRY else None


def resolve_class(module: str, name: str, path: Path | None = None, key: str = "pipeline") -> type:
    """Look ``module:name`` up in the allow-list (or its re-export spellings) and import it.

    Parameters
    ----------
    module : str
        The step's ``from``.
    name : str
        The step's ``name`` (class name).
    path : Path | None
        The pipeline file, named in the error.
    key : str
        Key path of the step in the file, named in the error.

    Returns
    -------
    cls : type
        The allow-listed class.
    """
    reg = _registry_key(module, name)
    if reg is None:
        given = f"{module}:{name}"
        same = sorted(k for k in REGISTRY if k.endswith(f":{name}"))
        hint = REFUSED.get(given) or (f"Did you mean {same}?" if same else
                                      f"The class {given!r} is not in neurosig's allow-list, so it is not "
                                      "imported.")
        allowed = f"classes in neurosig's allow-list ({', '.join(sorted(REGISTRY))})"
        raise fail(_WHAT, path, key, allowed, given, PipelineFileError, hint=hint)
    mod = importlib.import_module(REGISTRY[reg])
    return getattr(mod, name)


def _check_step(i: int, step: PipelineStepSchema, path: Path | None) -> Any:
    cls = resolve_class(step.from_, step.name, path, key=f"pipeline[{i}]")
    reg = _registry_key(step.from_, step.name)
    return check_estimator_params(cls, dict(step.parameters or {}), what=_WHAT, source=path,
                                  key=f"pipeline[{i}].parameters", constraints=CONSTRAINTS.get(reg),
                                  error=PipelineFileError, hint=INSTEAD.get(reg, ""))


def _check_grid(grid: dict, pipe: Pipeline, steps: list[PipelineStepSchema], path: Path | None) -> None:
    """Refuse ``param_grid`` keys the pipeline does not have and values the estimator refuses."""
    import difflib

    params = pipe.get_params(deep=True)
    names = [n for n, _ in pipe.steps]
    for k, values in grid.items():
        step, _, param = k.partition("__")
        if k not in params or not param:
            if step in names:
                own = sorted(p.partition("__")[2] for p in params if p.startswith(f"{step}__"))
                allowed = f"'{step}__<parameter>' with a parameter of {step!r} ({own})"
            else:
                allowed = f"'<step>__<parameter>' with a step of this pipeline ({names})"
            close = difflib.get_close_matches(k, [p for p in params if "__" in p], n=3)
            raise fail(_WHAT, path, f"param_grid.{k}", allowed, k, PipelineFileError,
                       hint=f"Did you mean {close}?" if close else "")
        if "__" in param:
            continue  # a nested estimator's parameter: checked when the grid sets it
        i = names.index(step)
        reg = _registry_key(steps[i].from_, steps[i].name)
        base = dict(steps[i].parameters or {})
        for v in values:
            check_estimator_params(type(pipe.steps[i][1]), {**base, param: v}, what=_WHAT, source=path,
                                   key=f"param_grid.{k}", constraints=CONSTRAINTS.get(reg),
                                   error=PipelineFileError, key_of=lambda _n, k=k: f"param_grid.{k}")


def parse_pipeline(data: Any, path: Path | None = None) -> PipelineSpec:
    """Validate a loaded YAML document and return a :class:`PipelineSpec`.

    Every step is looked up, its parameters checked and the estimator built; the
    ``param_grid`` keys and values are checked against the built pipeline.

    Parameters
    ----------
    data : object
        The document as read (a mapping).
    path : Path | None
        The file it came from, named in errors.

    Returns
    -------
    spec : PipelineSpec
        The checked pipeline.
    """
    spec = validate(PipelineFileSchema, data, what=_WHAT, source=path, error=PipelineFileError)
    if spec.calibration is not None and spec.param_grid:
        raise fail(_WHAT, path, "param_grid", "no grid for a transfer pipeline ('calibration' set)",
                   spec.param_grid, PipelineFileError,
                   hint="The grid search would not see the domains; leave out 'param_grid'.")
    estimators = [_check_step(i, step, path) for i, step in enumerate(spec.pipeline)]
    if spec.param_grid:
        _check_grid(spec.param_grid, make_pipeline(*estimators), spec.pipeline, path)
    steps = copy.deepcopy(data["pipeline"])
    for step, checked in zip(steps, spec.pipeline):
        step["from"] = _registry_key(checked.from_, checked.name).partition(":")[0]
    paradigms = [spec.paradigms] if isinstance(spec.paradigms, str) else list(spec.paradigms)
    return PipelineSpec(name=spec.name, steps=steps, paradigms=paradigms, tags=list(spec.tags),
                        citations=list(spec.citations), param_grid=copy.deepcopy(data.get("param_grid")),
                        path=path, calibration=spec.calibration)


def load_pipeline_file(path: str | Path) -> PipelineSpec:
    """Read one YAML pipeline file (``yaml.safe_load``) and validate it (see :func:`parse_pipeline`).

    Parameters
    ----------
    path : str | Path
        The file; a ``.py`` file is refused (it would run code).

    Returns
    -------
    spec : PipelineSpec
        The checked pipeline.
    """
    path = Path(path)
    if path.suffix == ".py":
        raise PipelineFileError(f"{prefix(_WHAT, path)}Python pipeline files are not loaded (they run code); "
                                "write the pipeline as YAML (see docs/schemas.md and the shipped pipelines/).",
                                str(path), "", "YAML pipeline files", path.name)
    _, data = load(PipelineFileSchema, path, what=_WHAT, parameter="pipelines", error=PipelineFileError)
    return parse_pipeline(data, path)


@dataclass
class FileVerdict:
    """What :func:`check_pipeline_files` says about one file: a spec, or why it is refused."""

    path: Path
    spec: PipelineSpec | None = None
    reason: str | None = None
    #: True when the file was found in a folder (not named one by one)
    in_folder: bool = False


def _pipeline_files(paths) -> list[tuple[Path, bool]]:
    files: list[tuple[Path, bool]] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in PIPELINE_SUFFIXES)
            files.extend((f, True) for f in found)
        elif p.is_file():
            files.append((p, False))
        else:
            raise FileNotFoundError(f"Invalid value for the 'pipelines' parameter: {str(p)!r} is neither "
                                    "a YAML file nor a folder of them.")
    return files


def check_pipeline_files(paths: str | Path | list) -> list[FileVerdict]:
    """Read and check every pipeline file in ``paths`` (files and folders); load no data.

    Folders are searched recursively for ``*.yml``, ``*.yaml`` and ``*.py`` (Python files are
    refused: they would run code).

    Parameters
    ----------
    paths : str | Path | list
        Pipeline files and/or folders.

    Returns
    -------
    verdicts : list of FileVerdict
        One per file, in order: a spec, or the reason it is refused.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    out = []
    for f, in_folder in _pipeline_files(paths):
        try:
            out.append(FileVerdict(f, spec=load_pipeline_file(f), in_folder=in_folder))
        except (SchemaError, FileNotFoundError) as exc:
            out.append(FileVerdict(f, reason=str(exc), in_folder=in_folder))
    return out


def load_pipelines(paths: str | Path | list | None = None, tag: str | None = None,
                   skip_unsupported: bool = False) -> list[PipelineSpec]:
    """Load pipeline files from files and/or folders (default: the shipped ``pipelines/default``).

    Folders are searched recursively for ``*.yml`` / ``*.yaml`` (and ``*.py``, which are
    refused). Names must be unique. Every file is checked; if any is refused, all refused
    files are listed in one error, unless ``skip_unsupported`` is True: then they are
    skipped with a warning that lists them.

    Parameters
    ----------
    paths : str | Path | list | None
        Pipeline files and/or folders.
    tag : str | None
        Keep only the pipelines with this tag.
    skip_unsupported : bool
        Skip refused files (with a warning) instead of refusing the whole set.

    Returns
    -------
    specs : list of PipelineSpec
        The checked pipelines.
    """
    if paths is None:
        paths = [resource_dir("pipelines") / "default"]
    if isinstance(paths, (str, Path)):
        paths = [paths]
    verdicts = check_pipeline_files(paths)
    refused = [v for v in verdicts if v.spec is None]
    if len(verdicts) == 1 and refused and not skip_unsupported:
        raise PipelineFileError(refused[0].reason, str(refused[0].path))
    if refused and not skip_unsupported:
        lines = "\n".join(f"  - {v.reason}" for v in refused)
        raise PipelineFileError(
            f"Invalid value for the 'pipelines' parameter: {len(refused)} of {len(verdicts)} pipeline files "
            f"cannot be used:\n{lines}\nFix or remove them, or skip them with --skip-unsupported "
            "(skip_unsupported=True).", None, "pipelines", "supported pipeline files", [str(v.path) for v in refused])
    if refused:
        get_logger(__name__).warning("skipped %d unsupported pipeline file(s): %s", len(refused),
                                            "; ".join(v.reason for v in refused))
    specs = [v.spec for v in verdicts if v.spec is not None]
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

    Parameters
    ----------
    estimator : estimator
        A pipeline or estimator (changed in place).
    **values
        Parameter name -> value to set where the parameter is ``None``.

    Returns
    -------
    estimator : estimator
        The same object.
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
    """:func:`fill_unset` for the sampling rate alone.

    Parameters
    ----------
    estimator : estimator
        A pipeline or estimator (changed in place).
    sfreq : float
        Sampling rate in Hz.

    Returns
    -------
    estimator : estimator
        The same object.
    """
    return fill_unset(estimator, sfreq=sfreq)
