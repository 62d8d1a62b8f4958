"""Type stub of ``neurosig.evaluation.rsa``: the names it exports lazily, for editors and type checkers."""

from .bootstrap import (
    BootstrapResult as BootstrapResult,
    eval_bootstrap as eval_bootstrap,
    eval_bootstrap_pattern as eval_bootstrap_pattern,
    eval_bootstrap_rdm as eval_bootstrap_rdm,
)
from .brain_sources import load_brain as load_brain
from .comparison import compare as compare
from .grid_job import run_grid as run_grid
from .identification import (
    identification_accuracy as identification_accuracy,
    loso_identification as loso_identification,
    threshold_sweep as threshold_sweep,
)
from .inference import eval_fixed as eval_fixed
from .model_sources import model_patterns as model_patterns
from .noise_ceiling import (
    boot_noise_ceiling as boot_noise_ceiling,
    cv_noise_ceiling as cv_noise_ceiling,
    pool_rdm as pool_rdm,
)
from .rdm import (
    as_square as as_square,
    as_vectors as as_vectors,
    calc_rdm as calc_rdm,
    noise_precision as noise_precision,
)
from .searchlight import (
    searchlight_map as searchlight_map,
    searchlight_rdms as searchlight_rdms,
    sphere_neighbourhoods as sphere_neighbourhoods,
)
from .significance import (
    correct_pvalues as correct_pvalues,
    permutation_test as permutation_test,
)
from .sources import (
    embedding_patterns as embedding_patterns,
    layer_activations as layer_activations,
    model_rdms as model_rdms,
    resolve_layers as resolve_layers,
    sliding_window_rdms as sliding_window_rdms,
)
from .topology import (
    geodesic_transform as geodesic_transform,
    geotopological_transform as geotopological_transform,
    minmax_transform as minmax_transform,
)

__all__ = [
    "BootstrapResult",
    "as_square",
    "as_vectors",
    "boot_noise_ceiling",
    "calc_rdm",
    "compare",
    "correct_pvalues",
    "cv_noise_ceiling",
    "embedding_patterns",
    "eval_bootstrap",
    "eval_bootstrap_pattern",
    "eval_bootstrap_rdm",
    "eval_fixed",
    "geodesic_transform",
    "geotopological_transform",
    "identification_accuracy",
    "layer_activations",
    "load_brain",
    "loso_identification",
    "minmax_transform",
    "model_patterns",
    "model_rdms",
    "noise_precision",
    "permutation_test",
    "pool_rdm",
    "resolve_layers",
    "run_grid",
    "searchlight_map",
    "searchlight_rdms",
    "sliding_window_rdms",
    "sphere_neighbourhoods",
    "threshold_sweep",
]
