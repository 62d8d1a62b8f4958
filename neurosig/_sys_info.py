"""``neurosig.sys_info()``: what a bug report needs (versions, device, threads, data folders)."""
from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path

#: distributions reported, in order: the runtime dependencies, then the optional ones
RUNTIME = ("numpy", "scipy", "pandas", "scikit-learn", "mne", "mne-bids", "moabb", "pyriemann", "torch",
           "nibabel", "nilearn", "h5py", "pyarrow", "pyyaml", "matplotlib", "tqdm", "threadpoolctl",
           "safetensors")
OPTIONAL = ("dask", "distributed", "mamba-ssm", "rsatoolbox", "himalaya", "pybv", "pytest")


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _torch_device() -> str:
    try:
        import torch
    except ImportError:
        return "torch not importable"
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        return f"cuda ({names}; CUDA {torch.version.cuda})"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return f"cpu ({torch.get_num_threads()} intra-op threads)"


def _blas() -> list[str]:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return ["threadpoolctl not installed"]
    return [f"{p.get('internal_api', '?')} {p.get('version', '?')}: {p.get('num_threads')} threads "
            f"({Path(p.get('filepath', '?')).name})" for p in threadpool_info()]


def _data_folders() -> list[str]:
    rows = []
    env = os.environ.get("NEUROSIG_DATA")
    candidates = [("NEUROSIG_DATA", env)] if env else []
    candidates.append(("default", str(Path.home() / "neurosig_data")))
    try:
        import mne
        candidates.append(("MNE_DATA", mne.get_config("MNE_DATA")))
    except ImportError:
        pass
    for label, folder in candidates:
        if folder:
            state = "found" if Path(folder).expanduser().is_dir() else "absent"
            rows.append(f"{label}: {folder} ({state})")
        else:
            rows.append(f"{label}: not set")
    return rows


def sys_info(show: bool = True) -> str:
    """Versions of neurosig and its dependencies, the torch device, BLAS threads and data folders.

    Parameters
    ----------
    show : bool
        Also print the report.

    Returns
    -------
    report : str
        The report, one ``key: value`` line per item, ready to paste into a bug report.
    """
    lines = [f"neurosig: {_version('neurosig')}",
             f"python: {sys.version.split()[0]} ({platform.python_implementation()})",
             f"platform: {platform.platform()}",
             f"cpus: {os.cpu_count()}",
             f"torch device: {_torch_device()}", "", "dependencies:"]
    lines += [f"  {d}: {_version(d)}" for d in RUNTIME]
    lines += ["", "optional:"] + [f"  {d}: {_version(d)}" for d in OPTIONAL]
    lines += ["", "BLAS / OpenMP threads:"] + [f"  {b}" for b in _blas() or ["none loaded"]]
    lines += ["", "data folders:"] + [f"  {r}" for r in _data_folders()]
    report = "\n".join(lines)
    if show:
        print(report)
    return report
