"""Type stub of ``neurosig.evaluation``: the names it exports lazily, for editors and type checkers."""

from .bci import (
    benchmark as benchmark,
    summarize as summarize,
)
from .fmri import decode_fmri as decode_fmri
from .results import ResultStore as ResultStore
from .splitters import (
    CrossSessionSplit as CrossSessionSplit,
    CrossSubjectSplit as CrossSubjectSplit,
    WithinSessionSplit as WithinSessionSplit,
    check_evaluation_supported as check_evaluation_supported,
    get_splitter as get_splitter,
    resolve_evaluation as resolve_evaluation,
)
from .stats import (
    dataset_statistics as dataset_statistics,
    meta_analysis as meta_analysis,
)
from .token_eval import (
    evaluate_pipelines as evaluate_pipelines,
    token_pipelines as token_pipelines,
)

__all__ = [
    "CrossSessionSplit",
    "CrossSubjectSplit",
    "ResultStore",
    "WithinSessionSplit",
    "benchmark",
    "check_evaluation_supported",
    "dataset_statistics",
    "decode_fmri",
    "evaluate_pipelines",
    "get_splitter",
    "meta_analysis",
    "resolve_evaluation",
    "summarize",
    "token_pipelines",
]
