"""Dataset loaders: simulated MI default, MOABB adapter, TUAB, NSD, dataset cards."""
from neurosig._lazy import lazy_exports

_EXPORTS = {
    "SimulatedMotorImagery": "simulated",
    "SimulatedSSVEP": "simulated_ssvep",
    "SimulatedP300": "simulated_p300",
    "get_dataset": "moabb",
    "data_folder": "moabb",
    "check_evaluation_supported": "moabb",
    "check_subjects": "moabb",
    "BIDSDataset": "bids",
    "TUAB": "tuab",
    "WindowDataset": "window_dataset",
    "make_synthetic_tuab": "synthetic_tuab",
    "NSD": "nsd",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
