"""Generic fMRI input: a 4-D NIfTI run plus a BIDS ``events.tsv`` -> single-trial betas.

Single trials are estimated with nilearn's first-level GLM in the "least squares
all" (LSA) form: every trial gets its own regressor (convolved with the HRF),
all fitted at once together with drift terms, and the effect size of each trial
regressor is that trial's beta. The result has the same shape as the NSD loader's
output (trials x voxels), so it is decoded the same way.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from .._logging import get_logger
from .._validation import check_option, check_path, check_positive_float

logger = get_logger(__name__)

REQUIRED_COLUMNS = ("onset", "duration", "trial_type")


def read_events(events):
    """Read a BIDS events table (``.tsv``, tab-separated) or accept a DataFrame.

    Parameters
    ----------
    events : str | Path | pandas.DataFrame
        Path of a tab-separated BIDS ``events.tsv`` file, or a DataFrame (copied).
        It must have the columns ``onset``, ``duration`` and ``trial_type`` and at
        least one row.

    Returns
    -------
    events : pandas.DataFrame with at least ``onset``, ``duration``, ``trial_type``
    """
    import pandas as pd

    if isinstance(events, pd.DataFrame):
        df, name = events.copy(), "events"
    else:
        path = check_path("events", events, kind="file")
        df, name = pd.read_csv(path, sep="\t"), path.name
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"Invalid value for the 'events' parameter: {name!r} lacks the BIDS column(s) "
                         f"{missing}; required are {list(REQUIRED_COLUMNS)}, found {list(df.columns)}.")
    if len(df) == 0:
        raise ValueError(f"Invalid value for the 'events' parameter: {name!r} has no events.")
    return df.reset_index(drop=True)


def trial_betas(bold, events, t_r=None, mask=None, hrf_model: str = "glover",
                drift_model: str = "cosine", high_pass: float = 0.01, noise_model: str = "ar1",
                smoothing_fwhm=None, signal_scaling=False):
    """Single-trial betas (LSA) of one run with nilearn's ``FirstLevelModel``.

    Parameters
    ----------
    bold : str | Path | nibabel image
        4-D run, shape (x, y, z, n_volumes).
    events : str | Path | pandas.DataFrame
        BIDS events (``onset``, ``duration`` in seconds, ``trial_type``).
    t_r : float | None
        Repetition time in seconds (default: the 4th zoom of the header).
    mask : str | Path | nibabel image | None
        Brain mask (default: nilearn computes an EPI mask).
    hrf_model, drift_model, high_pass, noise_model, smoothing_fwhm, signal_scaling
        Passed to :class:`nilearn.glm.first_level.FirstLevelModel`.

    Returns
    -------
    betas : ndarray, shape (n_trials, n_voxels), float32
    trials : pandas.DataFrame, shape (n_trials, ...)
        The events, with ``regressor`` (the LSA regressor name of each trial).
    masker : nilearn.maskers.NiftiMasker
        Fitted masker (``masker.inverse_transform(betas)`` gives beta images).
    """
    import nibabel as nib
    from nilearn.glm.first_level import FirstLevelModel
    from nilearn.maskers import NiftiMasker

    check_option("noise_model", noise_model, ("ar1", "ols"))
    img = nib.load(str(bold)) if isinstance(bold, (str, Path)) else bold
    if len(img.shape) != 4:
        raise ValueError(f"Invalid value for the 'bold' parameter: a 4-D image is required, but got shape {img.shape}.")
    if t_r is None:
        t_r = float(img.header.get_zooms()[3])
    t_r = check_positive_float("t_r", t_r)
    ev = read_events(events)
    duration = img.shape[3] * t_r
    late = ev.onset >= duration
    if late.any():
        raise ValueError(f"Invalid value for the 'events' parameter: {int(late.sum())} onset(s) lie after the "
                         f"end of the run ({img.shape[3]} volumes x {t_r} s = {duration} s).")
    ev["regressor"] = [f"trial_{i:04d}" for i in range(len(ev))]
    lsa = ev[["onset", "duration"]].assign(trial_type=ev["regressor"])
    if mask is not None:
        mask = nib.load(str(mask)) if isinstance(mask, (str, Path)) else mask
    glm = FirstLevelModel(t_r=t_r, mask_img=mask, hrf_model=hrf_model, drift_model=drift_model,
                          high_pass=high_pass, noise_model=noise_model, smoothing_fwhm=smoothing_fwhm,
                          signal_scaling=signal_scaling, minimize_memory=True)
    with warnings.catch_warnings():
        # nilearn warns that a mask "has been requested" although the given mask is used
        warnings.filterwarnings("ignore", message=".*Generation of a mask has been requested.*")
        glm.fit(img, events=lsa)
    masker = NiftiMasker(mask_img=glm.masker_.mask_img_, standardize=None).fit()
    betas = np.empty((len(ev), int(np.asarray(masker.mask_img_.dataobj).astype(bool).sum())), np.float32)
    for i, name in enumerate(ev["regressor"]):
        eff = glm.compute_contrast(name, output_type="effect_size")
        betas[i] = masker.transform(eff).ravel()
    logger.info("LSA GLM: %d trials x %d voxels from %d volumes (TR %.2f s)", *betas.shape, img.shape[3], t_r)
    return betas, ev, masker
