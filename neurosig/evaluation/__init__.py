"""Evaluation harness: BCI benchmark, results store, fMRI decoding, RSA."""
from neurosig._lazy import lazy_exports

_EXPORTS = {
    "benchmark": "bci",
    "ResultStore": "results",
    "decode_fmri": "fmri",
    "summarize": "bci",
    "WithinSessionSplit": "splitters",
    "CrossSessionSplit": "splitters",
    "CrossSubjectSplit": "splitters",
    "get_splitter": "splitters",
    "resolve_evaluation": "splitters",
    "check_evaluation_supported": "splitters",
    "dataset_statistics": "stats",
    "meta_analysis": "stats",
    "evaluate_pipelines": "token_eval",
    "token_pipelines": "token_eval",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
