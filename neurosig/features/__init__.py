"""Hand-crafted feature transformers: band power, functional connectivity, filter banks, SSVEP CCA."""
from neurosig._lazy import lazy_exports

_EXPORTS = {
    "BandPower": "spectral",
    "Connectivity": "connectivity",
    "FilterBank": "filterbank",
    "PowerAndConnectivity": "combined",
    "SSVEPCCA": "cca",
    "FilterBankCCA": "cca",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
