"""One schema mechanism for every YAML file neurosig reads (pipelines, jobs, configs).

A file's layout is a :class:`Schema` (a pydantic model: declared keys, types, bounds and
defaults; unknown keys refused). :func:`load` reads a file through
:func:`neurosig._io.read_yaml` and :func:`validate` checks a mapping against a schema;
both raise :class:`SchemaError`, whose message always has the same shape::

    <What> '<file>': invalid value for '<key.path>'. Allowed values are <allowed>, but got <given> instead.
    <What> '<file>': unknown key(s) ['colour'] in 'job'. Allowed keys are [...].
    <What> '<file>': missing the required key 'results' in 'job'.

Checks a type annotation cannot express (a value that depends on another key, a class
looked up in an allow-list) use :func:`fail`, which words its message the same way.
:func:`check_estimator_params` checks an estimator's parameters against its signature and
declared constraints (scikit-learn's own where the estimator has them).
:func:`render_markdown` writes the reference page ``docs/schemas.md`` from the schemas.

To put a new file type under this mechanism: declare its layout as ``Schema`` subclasses
(one per section, ``Field(description=...)`` on each key), read it with
``load(MySchema, path, what="My job file", top="job")`` and add it to :data:`DOCUMENTED`.
"""
from __future__ import annotations

import difflib
import importlib
import inspect
import os
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, ValidationError

_MISSING = object()


class SchemaError(ValueError):
    """A YAML file (or the mapping it holds) does not match its schema.

    Parameters
    ----------
    message : str
        The whole message.
    source, key, allowed, given
        Stored as the attributes below.

    Attributes
    ----------
    source : str or None
        The file, or None for a mapping given from Python.
    key : str
        Dotted path of the offending key (``"cv.n_splits"``, ``"pipeline[1].parameters"``).
    allowed : str
        What the key accepts.
    given : object
        What the file holds there.
    """

    def __init__(self, message: str, source: str | None = None, key: str = "", allowed: str = "",
                 given: Any = None):
        super().__init__(message)
        self.source, self.key, self.allowed, self.given = source, key, allowed, given


class Schema(BaseModel):
    """Base of every file schema: unknown keys refused, no silent type coercion."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True, arbitrary_types_allowed=True)


def prefix(what: str, source: str | os.PathLike | None) -> str:
    """``"Job file 'x.yml': "`` (or ``"Job file: "`` for a mapping given from Python).

    Parameters
    ----------
    what : str
        What the file is.
    source : path-like or None
        The file.

    Returns
    -------
    text : str
        The start of an error message.
    """
    return f"{what} {str(source)!r}: " if source is not None else f"{what}: "


def _short(value: Any, n: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= n else text[: n - 3] + "..."


def fail(what: str, source, key: str, allowed: str, given: Any, error: type = SchemaError,
         hint: str = "") -> SchemaError:
    """A :class:`SchemaError` (or subclass ``error``) worded like every other schema error.

    Parameters
    ----------
    what : str
        What the file is ("Pipeline file", "Job file", ...).
    source : path-like or None
        The file (None for a mapping given from Python).
    key : str
        Dotted path of the offending key.
    allowed : str
        What is allowed there, in words.
    given : object
        The offending value.
    error : type
        The exception class to build (a :class:`SchemaError` subclass).
    hint : str
        Optional sentence appended to the message (what to use instead).

    Returns
    -------
    exc : SchemaError
        The exception, for the caller to raise.
    """
    msg = (f"{prefix(what, source)}invalid value for '{key}'. Allowed values are {allowed}, "
           f"but got {_short(given)} instead.")
    if hint:
        msg += f" {hint}"
    return error(msg, None if source is None else str(source), key, allowed, given)


# ---------------------------------------------------------------------------- describing types

def _unwrap(tp: Any, meta: list) -> tuple[Any, list]:
    """Strip ``Annotated`` (collecting its metadata) and ``X | None`` down to the core type."""
    while True:
        if typing.get_origin(tp) is typing.Annotated:
            args = typing.get_args(tp)
            tp, meta = args[0], meta + list(args[1:])
            continue
        return tp, meta


def _union_args(tp: Any) -> tuple | None:
    if typing.get_origin(tp) in (Union, types.UnionType):
        return typing.get_args(tp)
    return None


def _bounds(meta: list) -> str:
    words = []
    for m in meta:
        for attr, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            v = getattr(m, attr, None)
            if v is not None:
                words.append(f"{sym} {v}")
    return " and ".join(words)


def describe(tp: Any, meta: list | None = None, plural: bool = True) -> str:
    """Plain-words description of a type annotation (what a key allows).

    Parameters
    ----------
    tp : type or annotation
        The annotation (``int``, ``list[str]``, ``Literal[...]``, a schema, ...).
    meta : list or None
        Constraints from ``Annotated`` / ``Field`` (``Ge``, ``Gt``, ``MinLen``, ...).
    plural : bool
        "integers" (for messages: "Allowed values are integers") or "an integer".

    Returns
    -------
    text : str
        The description.
    """
    tp, meta = _unwrap(tp, list(meta or []))
    bounds = _bounds(meta)
    min_len = next((getattr(m, "min_length", None) for m in meta if getattr(m, "min_length", None)), None)
    args = _union_args(tp)
    if args is not None:
        parts = [describe(a, plural=plural) for a in args if a is not type(None)]
        text = " or ".join(parts)
        return text + " or null" if type(None) in args else text
    origin = typing.get_origin(tp)
    if origin is Literal:
        values = ", ".join(repr(a) for a in typing.get_args(tp))
        return values if plural or len(typing.get_args(tp)) == 1 else f"one of {values}"
    if origin is list:
        inner = describe(typing.get_args(tp)[0]) if typing.get_args(tp) else "values"
        return f"{'a non-empty' if min_len else 'a'} list of {inner}"
    if origin is dict:
        inner = describe(typing.get_args(tp)[1]) if typing.get_args(tp) else "values"
        return f"{'mappings' if plural else 'a mapping'} of names to {inner}"
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return f"{'mappings' if plural else 'a mapping'} with keys {_keys_of(tp)}"
    nouns = {bool: ("true or false", "true or false"), int: ("integers", "an integer"),
             float: ("numbers", "a number"), str: ("strings", "a string")}
    if tp not in nouns:
        return ("any values" if plural else "any value") if tp is Any else getattr(tp, "__name__", str(tp))
    base = nouns[tp][0 if plural else 1]
    return f"{base} {bounds}" if bounds else base


def _keys_of(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _field(model: type[BaseModel], key: Any):
    for name, f in model.model_fields.items():
        if key in (name, f.alias):
            return f.alias or name, f
    return None, None


# ---------------------------------------------------------------------------- validation errors

def _walk(model: type[BaseModel], data: Any, loc: tuple) -> tuple[str, Any, list, Any, type | None]:
    """Follow a pydantic error location through the schema and the data.

    Returns (dotted key, annotation there, its metadata, the given value, the enclosing schema).
    Stops at a union (its alternatives are described together).
    """
    tp, meta, value, parts, parent = model, [], data, [], None
    for item in loc:
        tp, meta = _unwrap(tp, meta)
        if _union_args(tp) is not None and not (
                len([a for a in _union_args(tp) if a is not type(None)]) == 1):
            break
        if _union_args(tp) is not None:  # X | None with a non-null value
            tp = next(a for a in _union_args(tp) if a is not type(None))
            tp, meta = _unwrap(tp, meta)
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            name, f = _field(tp, item)
            parent = tp
            parts.append(str(item))
            value = value.get(item, _MISSING) if isinstance(value, dict) else _MISSING
            if f is None:
                return ".".join(parts), None, [], value, parent
            tp, meta = f.annotation, list(f.metadata)
        elif origin is list and isinstance(item, int):
            parts[-1:] = [f"{parts[-1] if parts else ''}[{item}]"]
            value = value[item] if isinstance(value, list) and item < len(value) else _MISSING
            tp, meta = typing.get_args(tp)[0], []
        elif origin is dict and not (isinstance(item, str) and item.startswith("[")):
            parts.append(str(item))
            value = value.get(item, _MISSING) if isinstance(value, dict) else _MISSING
            tp, meta = typing.get_args(tp)[1], []
        else:
            break
    return ".".join(parts), tp, meta, value, parent


def _join(root: str, key: str) -> str:
    return key if not root else (f"{root}.{key}" if key and not key.startswith("[") else f"{root}{key}")


def _from_validation(exc: ValidationError, model: type[BaseModel], data: Any, what: str, source,
                     root: str, error: type, top: str) -> SchemaError:
    errors = exc.errors(include_url=False)
    extra = [e for e in errors if e["type"] == "extra_forbidden"]
    if extra:
        first_parent = extra[0]["loc"][:-1]
        keys = [str(e["loc"][-1]) for e in extra if e["loc"][:-1] == first_parent]
        section, _, _, _, _ = _walk(model, data, first_parent)
        parent = _walk(model, data, extra[0]["loc"])[4] or model
        allowed = _keys_of(parent)
        close = sorted({c for k in keys for c in difflib.get_close_matches(k, allowed, n=2)})
        msg = (f"{prefix(what, source)}unknown key(s) {keys} in '{_join(root, section) or top}'. "
               f"Allowed keys are {allowed}." + (f" Did you mean {close}?" if close else ""))
        return error(msg, None if source is None else str(source), _join(root, section), str(allowed), keys)
    e = errors[0]
    key, tp, meta, value, parent = _walk(model, data, e["loc"])
    full = _join(root, key)
    if e["type"] == "missing" and value is _MISSING:
        section = full.rpartition(".")[0] or top
        name = full.rpartition(".")[2]
        return error(f"{prefix(what, source)}missing the required key '{name}' in '{section}'.",
                     None if source is None else str(source), full, "", None)
    if e["type"] == "value_error":  # a validator's own sentence
        return fail(what, source, full, str(e["ctx"]["error"]), value, error)
    allowed = describe(tp, meta) if tp is not None else e["msg"].lower()
    given = e.get("input") if value is _MISSING else value
    return fail(what, source, full, allowed, given, error, hint=_number_hint(given))


def _number_hint(given: Any) -> str:
    """YAML 1.1 reads ``1e-3`` (no dot) as text: say how to write it as a number."""
    if isinstance(given, str):
        try:
            float(given)
        except ValueError:
            return ""
        return f"YAML reads {given!r} as text; write it with a dot (e.g. 1.0e-3) or without quotes."
    return ""


def validate(model: type[Schema], data: Any, *, what: str, source=None, root: str = "",
             error: type = SchemaError, top: str = "file") -> Schema:
    """Check ``data`` (a mapping) against ``model``; return the validated instance.

    Parameters
    ----------
    model : type of Schema
        The schema.
    data : object
        What the file holds (or a part of it).
    what : str
        What the file is ("Job file", ...), starts every message.
    source : path-like or None
        The file, named in every message (None for a mapping given from Python).
    root : str
        Key path of ``data`` inside the file ("" for the whole file, "dataset" for a section).
    error : type
        The exception class (a :class:`SchemaError` subclass).
    top : str
        What the top level is called in "unknown key(s) [...] in 'job'" messages.

    Returns
    -------
    instance : Schema
        The validated model, defaults filled in.
    """
    if not isinstance(data, dict):
        where = root or "(top level)"
        allowed = f"a YAML mapping with keys {_keys_of(model)}"
        raise error(f"{prefix(what, source)}invalid value for '{where}': expected {allowed}, but got a "
                    f"{type(data).__name__} ({_short(data)}) instead.", None if source is None else str(source),
                    where, allowed, data)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _from_validation(exc, model, data, what, source, root, error, top) from None


def load(model: type[Schema], path: str | os.PathLike, *, what: str, parameter: str = "config",
         root: str = "", error: type = SchemaError, top: str = "file") -> tuple[Schema, dict]:
    """Read a YAML file with :func:`neurosig._io.read_yaml` and validate it against ``model``.

    Parameters
    ----------
    model : type of Schema
        The schema.
    path : path-like
        The file.
    what : str
        What the file is, starts every message.
    parameter : str
        Name of the argument that gave ``path`` (named when the file does not exist).
    root, error, top
        As in :func:`validate`.

    Returns
    -------
    instance : Schema
        The validated file.
    raw : dict
        The mapping as read (for callers that keep working on plain dicts).
    """
    from ._io import read_yaml

    data = read_yaml(path, parameter, what, error=error, mapping=False)
    return validate(model, data, what=what, source=Path(path), root=root, error=error, top=top), data


# ---------------------------------------------------------------------------- estimator parameters

def check_estimator_params(cls: type, params: dict, *, what: str, source, key: str,
                           constraints: dict | None = None, error: type = SchemaError, hint: str = "",
                           key_of=None) -> Any:
    """Refuse parameters ``cls`` does not take or values its constraints refuse; return the estimator.

    Names are checked against the signature of ``cls.__init__`` (close names suggested);
    values against ``cls._parameter_constraints`` (scikit-learn's declared constraints)
    merged with ``constraints`` (neurosig's, for classes that declare none), through
    scikit-learn's own constraint validation; then the estimator is built and, when it has
    one, its own ``_check_params`` runs.

    Parameters
    ----------
    cls : type
        The estimator class.
    params : dict
        Parameters from the file.
    what, source, key : str, path-like, str
        Named in the error message (see :func:`fail`); ``key`` is the parameters' key path.
    constraints : dict or None
        Extra ``{parameter: [constraint, ...]}`` in scikit-learn's constraint vocabulary.
    error : type
        Exception class.
    hint : str
        Sentence added to every error (what to use instead).
    key_of : callable or None
        Key path named for a parameter (default ``f"{key}.{name}"``).

    Returns
    -------
    estimator : object
        ``cls(**params)``, unfitted.
    """
    from sklearn.utils._param_validation import (
        InvalidParameterError,
        validate_parameter_constraints,
    )

    if key_of is None:
        def key_of(name):
            return f"{key}.{name}"

    sig = inspect.signature(cls.__init__)
    names = [n for n, p in sig.parameters.items()
             if n != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    if not takes_kwargs or names:
        for name in params:
            if name not in names:
                close = difflib.get_close_matches(str(name), names, n=3)
                said = " ".join(([f"Did you mean {close}?"] if close else []) + ([hint] if hint else []))
                raise fail(what, source, key_of(name), f"parameters of {cls.__name__}: {names}",
                           name, error, hint=said)
    declared = {**(getattr(cls, "_parameter_constraints", None) or {}), **(constraints or {})}
    relevant = {k: v for k, v in declared.items() if k in params}
    try:
        validate_parameter_constraints(relevant, dict(params), caller_name=cls.__name__)
    except InvalidParameterError as exc:
        name = next((k for k in relevant if f"'{k}' parameter" in str(exc)), "")
        raise fail(what, source, key_of(name) if name else key, _allowed_of(str(exc)),
                   params.get(name), error, hint=hint) from None
    try:
        est = cls(**params)
        check = getattr(est, "_check_params", None)
        if check is not None and not any(p.default is p.empty for p in inspect.signature(check).parameters.values()):
            check()  # the estimator's own checks that need no data
    except (TypeError, ValueError) as exc:
        said = " ".join(str(exc.args[0]).split()) if exc.args else type(exc).__name__
        reworded = reword(said, params, what=what, source=source, key_of=key_of, error=error, hint=hint)
        if reworded is not None:
            raise reworded from None
        raise fail(what, source, key, f"parameters {cls.__name__} accepts", params, error,
                   hint=f"({said}) {hint}".strip()) from None
    return est


def reword(message: str, params: dict, *, what: str, source, key_of, error: type = SchemaError,
           hint: str = "") -> SchemaError | None:
    """An MNE-style "Invalid value for the 'x' parameter. Allowed values are A, but got G instead."
    message from an estimator's own check, reworded as a schema error naming the file and key
    (None when ``message`` is not of that form or names no key of ``params``).

    Parameters
    ----------
    message : str
        The estimator's message.
    params : dict
        The parameters it was given (the key must be one of them).
    what, source
        As in :func:`fail`.
    key_of : callable
        Parameter name -> key path in the file.
    error, hint
        As in :func:`fail`.

    Returns
    -------
    exc : SchemaError or None
        The reworded error, for the caller to raise.
    """
    found = re.search(r"the '(\w+)' parameter\. Allowed values are (.*), but got (.*) instead", message)
    if not found or found.group(1) not in params:
        return None
    return fail(what, source, key_of(found.group(1)), found.group(2), params[found.group(1)], error, hint=hint)


def _allowed_of(sklearn_message: str) -> str:
    """The allowed part of scikit-learn's "The 'x' parameter of Y must be ... Got z instead."."""
    text = sklearn_message.split(" must be ", 1)[-1].rsplit(". Got ", 1)[0]

    def ordered(match):  # scikit-learn prints option sets in hash order: sort them
        return "{" + ", ".join(sorted(part.strip() for part in match.group(1).split(","))) + "}"

    return re.sub(r"\{([^{}]*)\}", ordered, text)


# ---------------------------------------------------------------------------- reference page

#: the schemas documented in docs/schemas.md: (title, "module:attribute", short description)
DOCUMENTED: tuple[tuple[str, str, str], ...] = (
    ("Pipeline file", "neurosig.pipelines:PipelineFileSchema",
     "`neurosig benchmark --pipelines`, `neurosig pipelines check` (MOABB's pipeline schema)."),
    ("Pipeline step", "neurosig.pipelines:PipelineStepSchema", "One entry of a pipeline file's `pipeline` list."),
    ("decode-fmri job", "neurosig.evaluation.fmri_job:FmriJobSchema", "`neurosig decode-fmri JOB.yml`."),
    ("decode-fmri dataset (type: nsd)", "neurosig.evaluation.fmri_job:NsdDatasetSchema", ""),
    ("decode-fmri dataset (type: nifti)", "neurosig.evaluation.fmri_job:NiftiDatasetSchema", ""),
    ("decode-fmri target (type: coco)", "neurosig.evaluation.fmri_job:CocoTargetSchema", ""),
    ("decode-fmri target (type: features)", "neurosig.evaluation.fmri_job:FeaturesTargetSchema", ""),
    ("decode-fmri target (type: events)", "neurosig.evaluation.fmri_job:EventsTargetSchema", ""),
    ("decode-fmri model: ridge", "neurosig.evaluation.fmri_job:RidgeModelSchema", ""),
    ("decode-fmri model: logistic", "neurosig.evaluation.fmri_job:LogisticModelSchema", ""),
    ("decode-fmri model: svm", "neurosig.evaluation.fmri_job:SvmModelSchema", ""),
    ("decode-fmri model: decoder", "neurosig.evaluation.fmri_job:DecoderModelSchema", ""),
    ("decode-fmri cv", "neurosig.evaluation.fmri_job:CvSchema", ""),
    ("decode-fmri preprocessing", "neurosig.evaluation.fmri_job:PrepSchema", ""),
    ("pretrain config", "neurosig.cli._jobfile:PretrainFileSchema", "`neurosig pretrain CONFIG.yml`."),
    ("finetune config", "neurosig.cli._jobfile:FinetuneFileSchema", "`neurosig finetune CONFIG.yml`."),
    ("data section (pretrain, finetune)", "neurosig.cli._jobfile:DataSchema", ""),
    ("BIDS event map", "neurosig.datasets.bids:EventMapSchema",
     "`neurosig benchmark --datasets bids:PATH --event-map FILE` and `BIDSDataset(event_map=FILE)`: a YAML "
     "or JSON file whose top level is the event map itself (`imagery/left: left_hand`, one line per event "
     "name)."),
    ("RSA job (RDM files)", "neurosig.evaluation.rsa.job:RdmJobSchema",
     "`neurosig rsa JOB.yml` for a job without a `brain` section: precomputed RDM files."),
    ("RSA job data", "neurosig.evaluation.rsa.job:RdmDataSchema", ""),
    ("RSA job models", "neurosig.evaluation.rsa.job:RdmModelsSchema", ""),
    ("RSA job transform", "neurosig.evaluation.rsa.job:RdmTransformSchema", ""),
    ("RSA job bootstrap", "neurosig.evaluation.rsa.job:BootstrapSchema", ""),
    ("RSA job output (both forms)", "neurosig.evaluation.rsa.job:OutputSchema", ""),
    ("RSA grid job", "neurosig.evaluation.rsa.grid_job:GridJobSchema",
     "`neurosig rsa JOB.yml` for a job with a `brain` section: brain source against model layers."),
    ("RSA grid brain (kind: eeg)", "neurosig.evaluation.rsa.grid_job:EegBrainSchema", ""),
    ("RSA grid brain (kind: nsd)", "neurosig.evaluation.rsa.grid_job:NsdBrainSchema", ""),
    ("RSA grid brain (kind: fmri)", "neurosig.evaluation.rsa.grid_job:FmriBrainSchema", ""),
    ("RSA grid brain (kind: rdms)", "neurosig.evaluation.rsa.grid_job:RdmsBrainSchema", ""),
    ("RSA grid model (kind: encoder)", "neurosig.evaluation.rsa.grid_job:EncoderModelSchema", ""),
    ("RSA grid model (kind: torch)", "neurosig.evaluation.rsa.grid_job:TorchModelSchema", ""),
    ("RSA grid model (kind: tfm)", "neurosig.evaluation.rsa.grid_job:TfmModelSchema", ""),
    ("RSA grid model (kind: features)", "neurosig.evaluation.rsa.grid_job:FeaturesModelSchema", ""),
    ("RSA grid transforms", "neurosig.evaluation.rsa.grid_job:TransformsSchema", ""),
    ("RSA grid bootstrap", "neurosig.evaluation.rsa.grid_job:GridBootstrapSchema", ""),
)


def _default(f) -> str:
    import json

    if f.is_required():
        return "required"
    d = f.get_default(call_default_factory=True)
    if isinstance(d, BaseModel):
        d = d.model_dump()
    return f"`{json.dumps(d)}`"


def render_markdown() -> str:
    """The schema reference page (``docs/schemas.md``), generated from :data:`DOCUMENTED`."""
    out = ["# File schemas", "",
           "Generated from the schemas in the code (`python -m neurosig._schema > docs/schemas.md`); "
           "a test fails when this page is stale.", "",
           "Every YAML file is read with `yaml.safe_load` (a `!!python/...` tag is refused) and checked "
           "before any work: unknown keys are refused, and every error names the file, the key, what is "
           "allowed and what was given.", ""]
    for title, target, note in DOCUMENTED:
        module, _, attr = target.partition(":")
        model = getattr(importlib.import_module(module), attr)
        out += [f"## {title}", ""]
        if note:
            out += [note, ""]
        out += ["| key | allowed | default | description |", "|---|---|---|---|"]
        for name, f in model.model_fields.items():
            allowed = describe(f.annotation, list(f.metadata), plural=False).replace("|", "\\|")
            desc = (f.description or "").replace("|", "\\|")
            out.append(f"| `{f.alias or name}` | {allowed} | {_default(f)} | {desc} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover
    print(render_markdown(), end="")
