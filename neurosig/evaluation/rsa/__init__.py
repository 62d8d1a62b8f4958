"""RSA and topological RSA (tRSA): RDMs, comparisons, noise ceilings, bootstrap, identification.

Names follow rsatoolbox where both packages offer the same thing (``calc_rdm``,
``compare``, ``boot_noise_ceiling``, ``cv_noise_ceiling``, ``eval_bootstrap_*``);
RDMs are plain arrays, square (n_rdms, n_conditions, n_conditions) or condensed
(n_rdms, n_pairs).
"""
from neurosig._lazy import lazy_exports

_EXPORTS = {
    # rdm.py
    "calc_rdm": "rdm",
    "noise_precision": "rdm",
    "as_vectors": "rdm",
    "as_square": "rdm",
    # compare.py
    "compare": "comparison",  # module not named compare: it would shadow the function
    # topology.py
    "geotopological_transform": "topology",
    "geodesic_transform": "topology",
    "minmax_transform": "topology",
    # inference.py
    "pool_rdm": "inference",
    "boot_noise_ceiling": "inference",
    "cv_noise_ceiling": "inference",
    "eval_fixed": "inference",
    "eval_bootstrap": "inference",
    "eval_bootstrap_rdm": "inference",
    "eval_bootstrap_pattern": "inference",
    "BootstrapResult": "inference",
    # significance.py
    "permutation_test": "significance",
    "correct_pvalues": "significance",
    # identification.py
    "identification_accuracy": "identification",
    "loso_identification": "identification",
    "threshold_sweep": "identification",
    # searchlight.py
    "searchlight_rdms": "searchlight",
    "searchlight_map": "searchlight",
    "sphere_neighbourhoods": "searchlight",
    # sources.py
    "sliding_window_rdms": "sources",
    "layer_activations": "sources",
    "model_rdms": "sources",
    "embedding_patterns": "sources",
    "resolve_layers": "sources",
    # brain x model grid jobs
    "load_brain": "brain_sources",
    "model_patterns": "model_sources",
    "run_grid": "grid_job",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
