"""RSA and topological RSA (tRSA): RDMs, comparisons, noise ceilings, bootstrap, identification.

Names follow rsatoolbox where both packages offer the same thing (``calc_rdm``,
``compare``, ``boot_noise_ceiling``, ``cv_noise_ceiling``, ``eval_bootstrap_*``);
RDMs are plain arrays, square (n_rdms, n_conditions, n_conditions) or condensed
(n_rdms, n_pairs).
"""
import lazy_loader as _lazy

# names and their modules are listed in __init__.pyi (read by editors and type checkers too)
__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
