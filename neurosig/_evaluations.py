"""The evaluation vocabulary shared by the dataset adapters and the benchmark (core).

Canonical names: ``within-session``, ``cross-session``, ``cross-subject``; common
aliases (``WithinSession``, ``CrossSessionEvaluation``, ``LOSO``, ...) are accepted on
input and the canonical name is returned.
"""
from __future__ import annotations

import re
from typing import Any

#: canonical evaluation names, in the order shown to users
EVALUATIONS: tuple[str, ...] = ("within-session", "cross-session", "cross-subject")

_ALIASES: dict[str, str] = {
    "withinsession": "within-session",
    "withinsessionevaluation": "within-session",
    "within": "within-session",
    "ws": "within-session",
    "crosssession": "cross-session",
    "crosssessionevaluation": "cross-session",
    "losession": "cross-session",
    "leaveonesessionout": "cross-session",
    "cs": "cross-session",
    "crosssubject": "cross-subject",
    "crosssubjectevaluation": "cross-subject",
    "loso": "cross-subject",
    "leaveonesubjectout": "cross-subject",
}


def resolve_evaluation(name: Any) -> str:
    """Return the canonical evaluation name for ``name`` (aliases accepted).

    ``"WithinSession"``, ``"within_session"`` and ``"within-session"`` all give
    ``"within-session"``; ``"LOSO"`` and ``"CrossSubject"`` give ``"cross-subject"``.
    """
    if isinstance(name, str):
        norm = name.strip().lower().replace("_", "-").replace(" ", "-")
        if norm in EVALUATIONS:
            return norm
        squashed = re.sub(r"[^a-z0-9]", "", norm)
        if squashed in _ALIASES:
            return _ALIASES[squashed]
    allowed = ", ".join(repr(e) for e in EVALUATIONS)
    raise ValueError(
        f"Invalid value for the 'evaluation' parameter. Allowed values are {allowed} "
        f"(aliases: WithinSession, CrossSession, CrossSubject, LOSO), but got {name!r} instead.")


def n_sessions_of(dataset: Any) -> int:
    """Sessions per subject that a MOABB-style loader will return (respects a session selection)."""
    selected = getattr(dataset, "_selected_sessions", None)
    return len(selected) if selected is not None else int(dataset.n_sessions)


def check_evaluation_supported(evaluation: str, dataset: Any, subjects: list | None = None) -> str:
    """Refuse, before any work, an evaluation the dataset cannot support.

    Parameters
    ----------
    evaluation : str
        Evaluation name (aliases accepted).
    dataset : moabb.datasets.base.BaseDataset
        The dataset (its ``n_sessions`` and ``subject_list`` are read, nothing is loaded).
    subjects : list | None
        The subjects that will be used (default: all of the dataset's).

    Returns
    -------
    evaluation : str
        The canonical name.
    """
    evaluation = resolve_evaluation(evaluation)
    code = getattr(dataset, "code", None) or type(dataset).__name__
    if evaluation == "cross-session":
        n_sessions = n_sessions_of(dataset)
        if n_sessions < 2:
            raise ValueError(
                f"Invalid value for the 'evaluation' parameter: 'cross-session' needs at least 2 "
                f"sessions per subject, but dataset {code!r} has {n_sessions}; use "
                f"'within-session' or 'cross-subject' for it.")
    if evaluation == "cross-subject":
        n_subjects = len(subjects) if subjects is not None else len(dataset.subject_list)
        if n_subjects < 2:
            raise ValueError(
                f"Invalid value for the 'evaluation' parameter: 'cross-subject' (leave one subject "
                f"out) needs at least 2 subjects, but {n_subjects} subject(s) of dataset {code!r} "
                "were selected; select more subjects or use 'within-session'.")
    return evaluation
