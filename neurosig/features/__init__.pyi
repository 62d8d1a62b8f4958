"""Type stub of ``neurosig.features``: the names it exports lazily, for editors and type checkers."""

from .cca import (
    SSVEPCCA as SSVEPCCA,
    FilterBankCCA as FilterBankCCA,
)
from .combined import PowerAndConnectivity as PowerAndConnectivity
from .connectivity import Connectivity as Connectivity
from .filterbank import FilterBank as FilterBank
from .spectral import BandPower as BandPower

__all__ = [
    "BandPower",
    "Connectivity",
    "FilterBank",
    "FilterBankCCA",
    "PowerAndConnectivity",
    "SSVEPCCA",
]
