"""Type stub of ``neurosig.datasets``: the names it exports lazily, for editors and type checkers."""

from .bids import BIDSDataset as BIDSDataset
from .moabb import (
    check_evaluation_supported as check_evaluation_supported,
    check_subjects as check_subjects,
    data_folder as data_folder,
    get_dataset as get_dataset,
)
from .nsd import NSD as NSD
from .simulated import SimulatedMotorImagery as SimulatedMotorImagery
from .simulated_p300 import SimulatedP300 as SimulatedP300
from .simulated_ssvep import SimulatedSSVEP as SimulatedSSVEP
from .synthetic_tuab import make_synthetic_tuab as make_synthetic_tuab
from .tuab import TUAB as TUAB
from .window_dataset import WindowDataset as WindowDataset

__all__ = [
    "BIDSDataset",
    "NSD",
    "SimulatedMotorImagery",
    "SimulatedP300",
    "SimulatedSSVEP",
    "TUAB",
    "WindowDataset",
    "check_evaluation_supported",
    "check_subjects",
    "data_folder",
    "get_dataset",
    "make_synthetic_tuab",
]
