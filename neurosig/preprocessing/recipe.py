"""The TUAB / TFM-Tokenizer preprocessing recipe: configuration and the per-recording pass.

Functional core: :func:`preprocess_recording` takes referential signals of the
montage's electrodes (already picked, in microvolts) and returns windows; it
reads no files, so the window store, the benchmark and the tests share it.

Order of operations: pick electrodes (the caller, from normalised names) ->
band-pass -> notch -> resample -> bipolar derivations -> non-overlapping
windows. Filtering and resampling are linear and per channel, so doing them
on the picked referential channels gives the same bipolar signals as doing
them after the subtraction; picking first is what matters.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from .._validation import check_option, check_positive_float
from ..contracts import SignalContract, stable_hash
from .filters import NOTCH_FREQS, bandpass_notch, check_filter_params
from .montage import (
    MONTAGES,
    REFERENCES,
    bipolar_indices,
    montage_channel_names,
    montage_electrodes,
)
from .resample import resample_recording
from .spectral import design_kernel, filter_resample, supports

ENGINES = ("fft", "mne")

#: bump when the numbers a recipe produces change for the same configuration
RECIPE_VERSION = 1


@dataclass(frozen=True)
class PreprocessingConfig:
    """Parameters of the TUAB preprocessing pass.

    The fields are the constructor's keyword arguments.

    Attributes
    ----------
    montage : {"tcp16", "tcp22"}
        16-channel TCP bipolar chain (TFM / BIOT) or FEMBA's 22-channel variant
        (needs A1 and A2).
    l_freq, h_freq : float
        Band-pass edges in Hz (default 0.1-75 Hz).
    notch : {60.0, 50.0} | None
        Mains frequency (60 Hz for TUH, US data; 50 Hz reproduces the TFM code).
    sfreq : float
        Sampling rate of the stored windows (200 Hz by default; 256 Hz with
        read-time FFT resampling to 200 Hz reproduces the TFM code).
    window_s : float
        Window length in seconds (non-overlapping).
    accepted_sfreqs : tuple of float | None
        When given, recordings at any other sampling rate are rejected.
        Recordings below ``2 * h_freq`` are always rejected.
    engine : {"fft", "mne"}
        ``"fft"``: MNE-designed FIR kernels, composed and applied together with
        the FFT resampling in one pass (:mod:`neurosig.preprocessing.spectral`);
        ``"mne"``: the sequential ``filter_data`` -> ``notch_filter`` ->
        ``resample`` calls. They agree to about 1e-6 of the signal's standard
        deviation when ``sfreq * 2**k`` is a multiple of the rate ratio's
        denominator (256 -> 200 Hz); for 250 or 500 -> 200 Hz MNE's FFT
        resampling (``npad="auto"`` pads to a power of two) lands off the
        200 Hz grid by up to half a sample, while ``"fft"`` stays on it.
    """

    montage: str = "tcp16"
    l_freq: float = 0.1
    h_freq: float = 75.0
    notch: float | None = 60.0
    sfreq: float = 200.0
    window_s: float = 10.0
    accepted_sfreqs: tuple[float, ...] | None = None
    engine: str = "fft"

    def validate(self) -> PreprocessingConfig:
        """Raise ValueError on an invalid field (before any work)."""
        check_option("montage", self.montage, MONTAGES)
        check_option("engine", self.engine, ENGINES)
        if self.notch is not None:
            check_option("notch", float(self.notch), NOTCH_FREQS + (None,))
        check_positive_float("sfreq", self.sfreq)
        check_positive_float("window_s", self.window_s)
        check_filter_params(self.sfreq * 1e3, self.l_freq, self.h_freq, self.notch)
        win = self.window_s * self.sfreq
        if abs(win - round(win)) > 1e-9:
            raise ValueError(f"Invalid value for the 'window_s' parameter. Allowed values give a "
                             f"whole number of samples at sfreq={self.sfreq}, but got {self.window_s}.")
        if self.accepted_sfreqs is not None:
            for f in self.accepted_sfreqs:
                check_positive_float("accepted_sfreqs", f)
        return self

    @property
    def window_samples(self) -> int:
        return int(round(self.window_s * self.sfreq))

    @property
    def min_sfreq(self) -> float:
        """Lowest input sampling rate that can carry the pass band (2 x h_freq)."""
        return 2.0 * float(self.h_freq)

    def to_dict(self) -> dict:
        d = asdict(self)
        if d["accepted_sfreqs"] is not None:
            d["accepted_sfreqs"] = [float(f) for f in d["accepted_sfreqs"]]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> PreprocessingConfig:
        d = dict(d)
        if d.get("accepted_sfreqs") is not None:
            d["accepted_sfreqs"] = tuple(d["accepted_sfreqs"])
        return cls(**d)

    def hash(self) -> str:
        """Preprocessing hash (configuration + recipe version)."""
        return stable_hash({"recipe": "tuab-tfm", "version": RECIPE_VERSION, **self.to_dict()})

    def contract(self) -> SignalContract:
        """Signal contract of the windows this configuration produces."""
        return SignalContract(ch_names=tuple(montage_channel_names(self.montage)), sfreq=float(self.sfreq),
                              n_times=self.window_samples, reference=REFERENCES[self.montage],
                              preprocessing_hash=self.hash(), extra={"units": "uV"})

    def electrodes(self) -> list[str]:
        return montage_electrodes(self.montage)

    def sfreq_problem(self, sfreq: float) -> str | None:
        """Reason to reject a recording sampled at ``sfreq``, or None.

        Parameters
        ----------
        sfreq : float
            Sampling rate of the recording in Hz.
        """
        if sfreq < self.min_sfreq:
            return (f"unexpected sampling rate: {sfreq:g} Hz is below {self.min_sfreq:g} Hz "
                    f"(2 x h_freq={self.h_freq:g})")
        if self.accepted_sfreqs is not None and not any(abs(sfreq - f) < 1e-6 for f in self.accepted_sfreqs):
            return (f"unexpected sampling rate: {sfreq:g} Hz is not one of the accepted rates "
                    f"{[float(f) for f in self.accepted_sfreqs]}")
        return None


def preprocess_recording(data: np.ndarray, electrodes: Sequence[str], sfreq: float,
                         config: PreprocessingConfig) -> np.ndarray:
    """Filter, resample, re-reference to the bipolar montage and cut one recording.

    Parameters
    ----------
    data : ndarray, shape (n_electrodes, n_times)
        Referential signals in microvolts, rows ordered like ``electrodes``
        (the montage's electrodes, picked before any re-referencing).
    electrodes : sequence of str
        Canonical electrode names of the rows.
    sfreq : float
        Sampling rate of ``data`` in Hz.
    config : PreprocessingConfig
        The recipe.

    Returns
    -------
    windows : ndarray, shape (n_windows, n_channels, window_samples), float32
        Microvolts; ``n_channels`` is 16 for ``"tcp16"`` and 22 for ``"tcp22"``.
    """
    if config.engine == "fft" and supports(sfreq, config.sfreq):
        kernel = design_kernel(float(sfreq), config.l_freq, config.h_freq, config.notch)
        x = filter_resample(data, sfreq, config.sfreq, kernel)
    else:  # engine="mne", or a rate ratio without a small denominator (e.g. 256.3 Hz)
        x = bandpass_notch(data, sfreq, config.l_freq, config.h_freq, config.notch)
        x = resample_recording(x, sfreq, config.sfreq)
    return bipolar_windows(x, electrodes, config.montage, config.window_samples)


def bipolar_windows(data: np.ndarray, electrodes: Sequence[str], montage: str,
                    window_samples: int) -> np.ndarray:
    """Bipolar derivations cut into windows, in one pass and straight into float32.

    Same numbers as ``cut_windows(apply_bipolar(data, electrodes, montage),
    window_samples).astype(np.float32)`` without the full-size temporaries.

    Parameters
    ----------
    data : ndarray, shape (n_electrodes, n_times)
    electrodes : sequence of str
    montage : {"tcp16", "tcp22"}
    window_samples : int

    Returns
    -------
    windows : ndarray, shape (n_windows, n_pairs, window_samples), float32
    """
    anode, cathode = bipolar_indices(electrodes, montage)
    n_win = data.shape[1] // window_samples
    out = np.empty((n_win, len(anode), window_samples), dtype=np.float32)
    stop = n_win * window_samples
    for k, (a, b) in enumerate(zip(anode, cathode)):
        out[:, k, :] = (data[a, :stop] - data[b, :stop]).reshape(n_win, window_samples)
    return out
