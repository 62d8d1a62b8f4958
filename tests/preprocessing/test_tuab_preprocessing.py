"""TUAB preprocessing pieces: channel names, TCP montages, filters, resampling, windows, scaling."""
from __future__ import annotations

import mne
import numpy as np
import pytest
from scipy.signal import welch

from neurosig.preprocessing.channels import normalize_channel_name, normalize_channel_names
from neurosig.preprocessing.filters import bandpass_notch
from neurosig.preprocessing.montage import (
    apply_bipolar,
    missing_electrodes,
    montage_channel_names,
    montage_electrodes,
)
from neurosig.preprocessing.recipe import PreprocessingConfig, preprocess_recording
from neurosig.preprocessing.resample import resample_recording, resample_windows
from neurosig.preprocessing.scaling import percentile_scale
from neurosig.preprocessing.windows import cut_windows, n_windows


@pytest.mark.parametrize("name, expected", [
    ("EEG FP1-REF", "Fp1"), ("EEG FP1-LE", "Fp1"), ("EEG Fp1", "Fp1"), ("FP1", "Fp1"),
    ("EEG CZ-REF", "Cz"), ("EEG FZ-LE", "Fz"), ("EEG A1-REF", "A1"), ("EEG T3-REF", "T3"),
    ("EEG T7", "T3"), ("EEG P8-REF", "T6"), ("EEG T1-REF", "T1"), ("  EEG O2-REF ", "O2"),
    ("EEG EKG1-REF", None), ("PHOTIC-REF", None), ("IBI", None), ("BURSTS", None),
    ("ECG ECG", None), ("EEG A2-A1", None), ("EEG 26-REF", None), ("EEG FP1-F7", None),
])
def test_channel_name_mapping(name, expected):
    assert normalize_channel_name(name) == expected


def test_channel_names_first_duplicate_wins_and_extras_dropped():
    names = ["EEG FP1-REF", "EEG EKG1-REF", "EEG FP1-LE", "EEG Fz", "PHOTIC-REF"]
    assert normalize_channel_names(names) == {"EEG FP1-REF": "Fp1", "EEG Fz": "Fz"}


def test_montage_definitions():
    tcp16 = montage_channel_names("tcp16")
    assert tcp16 == ["FP1-F7", "F7-T3", "T3-T5", "T5-O1", "FP2-F8", "F8-T4", "T4-T6", "T6-O2",
                     "FP1-F3", "F3-C3", "C3-P3", "P3-O1", "FP2-F4", "F4-C4", "C4-P4", "P4-O2"]
    tcp22 = montage_channel_names("tcp22")
    assert len(tcp22) == 22 and set(tcp16) < set(tcp22)
    assert {"A1-T3", "T4-A2", "C3-CZ", "CZ-C4"} <= set(tcp22)
    assert len(montage_electrodes("tcp16")) == 16
    assert set(montage_electrodes("tcp22")) == set(montage_electrodes("tcp16")) | {"A1", "A2", "Cz"}
    with pytest.raises(ValueError, match="'montage' parameter.*'tcp16', 'tcp22'.*'tcp99'"):
        montage_electrodes("tcp99")


@pytest.mark.parametrize("montage", ["tcp16", "tcp22"])
def test_bipolar_matches_direct_subtraction_and_mne(montage):
    rng = np.random.default_rng(0)
    electrodes = montage_electrodes(montage) + ["Pz", "O2x"]
    order = rng.permutation(len(electrodes))
    electrodes = [electrodes[i] for i in order]
    data = rng.standard_normal((len(electrodes), 300))
    out = apply_bipolar(data, electrodes, montage)
    for k, name in enumerate(montage_channel_names(montage)):
        a, b = name.split("-")
        ia = [e.upper() for e in electrodes].index(a)
        ib = [e.upper() for e in electrodes].index(b)
        np.testing.assert_array_equal(out[k], data[ia] - data[ib])
    # independent reference: MNE's set_bipolar_reference
    info = mne.create_info(electrodes, 100.0, "eeg")
    raw = mne.io.RawArray(data, info, verbose="error")
    pairs = [name.split("-") for name in montage_channel_names(montage)]
    canon = {e.upper(): e for e in electrodes}
    ref = mne.set_bipolar_reference(raw, [canon[a] for a, _ in pairs], [canon[b] for _, b in pairs],
                                    ch_name=montage_channel_names(montage), drop_refs=True,
                                    verbose="error")
    np.testing.assert_allclose(out, ref.get_data(picks=montage_channel_names(montage)), atol=1e-12)


def test_missing_electrodes_named():
    eegmat = ["Fp1", "Fp2", "F3", "F4", "F7", "F8", "T3", "T4", "C3", "C4", "T5", "T6", "P3", "P4",
              "O1", "O2", "Fz", "Cz", "Pz"]
    assert missing_electrodes(eegmat, "tcp16") == []
    assert missing_electrodes(eegmat, "tcp22") == ["A1", "A2"]
    with pytest.raises(ValueError, match=r"lacks the electrodes \['A1', 'A2'\]"):
        apply_bipolar(np.zeros((19, 10)), eegmat, "tcp22")


def _psd_at(x, sfreq, f):
    freqs, p = welch(x, sfreq, nperseg=int(4 * sfreq))
    return p[..., np.argmin(np.abs(freqs - f))]


def test_bandpass_notch_matches_raw_methods_and_attenuates():
    sfreq = 256.0
    t = np.arange(int(120 * sfreq)) / sfreq
    rng = np.random.default_rng(1)
    x = np.stack([10 * np.sin(2 * np.pi * 10 * t) + 20 * np.sin(2 * np.pi * 60 * t)
                  + 20 * np.sin(2 * np.pi * 100 * t) + 50 * t / t[-1] + rng.standard_normal(t.size)
                  for _ in range(3)])
    y = bandpass_notch(x, sfreq, 0.1, 75.0, 60.0)
    raw = mne.io.RawArray(x.copy(), mne.create_info(3, sfreq, "eeg"), verbose="error")
    raw.filter(0.1, 75.0, verbose="error").notch_filter(60.0, verbose="error")
    np.testing.assert_allclose(y, raw.get_data(), rtol=1e-10, atol=1e-10)
    mid = slice(int(20 * sfreq), int(100 * sfreq))  # away from the edges
    before, after = _psd_at(x[:, mid], sfreq, 60), _psd_at(y[:, mid], sfreq, 60)
    assert np.all(10 * np.log10(before / after) > 30)           # notch
    assert np.all(10 * np.log10(_psd_at(x[:, mid], sfreq, 100) / _psd_at(y[:, mid], sfreq, 100)) > 30)
    ratio = _psd_at(y[:, mid], sfreq, 10) / _psd_at(x[:, mid], sfreq, 10)
    np.testing.assert_allclose(ratio, 1.0, rtol=0.05)           # pass band
    assert abs(np.mean(y[:, mid])) < 1.0                         # drift / offset removed


def test_filter_params_rejected_before_work():
    with pytest.raises(ValueError, match="'h_freq'.*Nyquist"):
        bandpass_notch(np.zeros((1, 100)), 100.0, 0.1, 75.0, 60.0)
    with pytest.raises(ValueError, match="'l_freq'"):
        bandpass_notch(np.zeros((1, 100)), 500.0, 80.0, 75.0, 60.0)
    with pytest.raises(ValueError, match="'notch'.*50.0, 60.0.*55"):
        PreprocessingConfig(notch=55.0).validate()


def test_resample_recording_matches_raw_resample():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 256 * 30))
    raw = mne.io.RawArray(x.copy(), mne.create_info(2, 256.0, "eeg"), verbose="error")
    y = resample_recording(x, 256.0, 200.0)
    assert y.shape == (2, 200 * 30)
    np.testing.assert_allclose(y, raw.resample(200.0, verbose="error").get_data(), atol=1e-10)


def test_resample_windows_matches_direct_fourier_formula():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 2, 2560)).astype(np.float64)
    y = resample_windows(x, 2000)
    # slow reference: keep the lowest 1000 frequencies of the full DFT; the new Nyquist bin
    # gathers the +/-1000 bins of the old spectrum (scipy's documented convention)
    X = np.fft.fft(x, axis=-1)
    Y = np.zeros(x.shape[:-1] + (2000,), dtype=complex)
    Y[..., :1000] = X[..., :1000]
    Y[..., 1001:] = X[..., -999:]
    Y[..., 1000] = X[..., 1000] + X[..., -1000]
    ref = np.real(np.fft.ifft(Y, axis=-1)) * 2000 / 2560
    np.testing.assert_allclose(y, ref, atol=1e-10)


@pytest.mark.parametrize("n_times, win, expected", [(2000, 2000, 1), (3999, 2000, 1), (4000, 2000, 2),
                                                    (1999, 2000, 0), (36400, 2000, 18)])
def test_window_count_and_content(n_times, win, expected):
    x = np.arange(3 * n_times, dtype=float).reshape(3, n_times)
    w = cut_windows(x, win)
    assert n_windows(n_times, win) == expected and w.shape == (expected, 3, win)
    for k in range(expected):
        np.testing.assert_array_equal(w[k], x[:, k * win:(k + 1) * win])


def test_percentile_scale_matches_loop_and_handles_flat_channels():
    rng = np.random.default_rng(4)
    w = (50 * rng.standard_normal((4, 3, 500))).astype(np.float32)
    w[1, 2] = 0.0
    s = percentile_scale(w, 95.0)
    assert s.dtype == np.float32 and np.all(np.isfinite(s))
    for i in range(4):
        for c in range(3):
            q = np.quantile(np.abs(w[i, c].astype(np.float64)), 0.95, method="linear")
            np.testing.assert_allclose(s[i, c], w[i, c] / (q + 1e-8), rtol=1e-5)
    with pytest.raises(ValueError, match="'q' parameter"):
        percentile_scale(w, 120)


def test_recipe_picks_before_rereferencing_and_units():
    """A huge extra channel must not leak into the derivations (it is never part of the input)."""
    cfg = PreprocessingConfig(sfreq=200.0)
    rng = np.random.default_rng(5)
    el = cfg.electrodes()
    data = 30 * rng.standard_normal((len(el), 256 * 25))
    w = preprocess_recording(data, el, 256.0, cfg)
    assert w.shape == (2, 16, 2000) and w.dtype == np.float32
    # equivalent order: bipolar first, then filter + resample (linear, per channel)
    bip = apply_bipolar(data, el, "tcp16")
    ref = resample_recording(bandpass_notch(bip, 256.0), 256.0, 200.0)
    np.testing.assert_allclose(w, cut_windows(ref, 2000), rtol=0, atol=1e-3 * ref.std())
    exact = preprocess_recording(data, el, 256.0, PreprocessingConfig(engine="mne"))
    np.testing.assert_allclose(exact, cut_windows(ref, 2000), rtol=1e-5, atol=1e-4)


def test_config_hash_and_contract():
    a, b = PreprocessingConfig(), PreprocessingConfig(notch=50.0)
    assert a.hash() != b.hash() and a.hash() == PreprocessingConfig().hash()
    c = a.contract()
    assert c.n_times == 2000 and c.sfreq == 200.0 and len(c.ch_names) == 16
    assert c.reference == "bipolar-tcp16" and c.preprocessing_hash == a.hash()
    assert PreprocessingConfig(montage="tcp22").contract().ch_names[-2:] == ("A1-T3", "T4-A2")
    assert a.sfreq_problem(100.0).startswith("unexpected sampling rate")
    assert PreprocessingConfig(accepted_sfreqs=(250.0, 256.0)).sfreq_problem(512.0) is not None
    assert a.sfreq_problem(256.0) is None


# ------------------------------------------------------------------ one-pass engine (spectral.py)

from neurosig.preprocessing.spectral import design_kernel, filter_resample, supports  # noqa: E402


def test_one_pass_filter_equals_mne_filters():
    rng = np.random.default_rng(6)
    x = np.cumsum(rng.standard_normal((3, 250 * 40)), axis=1)
    got = filter_resample(x, 250.0, 250.0, design_kernel(250.0, 0.1, 75.0, 60.0))
    ref = bandpass_notch(x, 250.0, 0.1, 75.0, 60.0)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10 * ref.std())


def test_one_pass_matches_mne_chain_at_256_to_200():
    rng = np.random.default_rng(7)
    t = np.arange(256 * 120) / 256.0
    x = np.cumsum(rng.standard_normal((2, t.size)), axis=1) + 20 * np.sin(2 * np.pi * 60 * t)
    got = filter_resample(x, 256.0, 200.0, design_kernel(256.0, 0.1, 75.0, 60.0))
    ref = resample_recording(bandpass_notch(x, 256.0, 0.1, 75.0, 60.0), 256.0, 200.0)
    assert got.shape == ref.shape == (2, 200 * 120)
    # MNE pads each stage's output (and its FFT resampling rings from the wrap-around of its
    # padded buffer, decaying as 1/t); the one-pass engine pads the input once and filters
    # before truncating the spectrum. Away from the ends they agree to ~1e-4 of the std.
    edge = 6 * 200
    np.testing.assert_allclose(got[:, edge:-edge], ref[:, edge:-edge], rtol=0, atol=2e-4 * ref.std())
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-3 * ref.std())


@pytest.mark.parametrize("sfreq", [250.0, 256.0, 500.0, 512.0])
def test_one_pass_resampling_lands_on_the_new_grid(sfreq):
    """Analytic reference: a 37.3 Hz sine sampled at 200 Hz."""
    n = int(sfreq * 61)
    x = np.sin(2 * np.pi * 37.3 * np.arange(n) / sfreq)[None]
    y = filter_resample(x, sfreq, 200.0, np.array([1.0]))[0]
    truth = np.sin(2 * np.pi * 37.3 * np.arange(y.size) / 200.0)
    assert y.size == int(round(n * 200.0 / sfreq))
    assert np.abs(y - truth)[1000:-1000].max() < 1e-3


def test_one_pass_rate_support_and_kernel():
    assert supports(256.0, 200.0) and supports(250.0, 200.0) and supports(500.0, 256.0)
    assert not supports(256.3317, 200.0)
    with pytest.raises(ValueError, match="engine='mne'"):
        filter_resample(np.zeros((1, 100)), 256.3317, 200.0, np.array([1.0]))
    k = design_kernel(256.0, 0.1, 75.0, 60.0)
    assert k.size % 2 == 1 and np.allclose(k, k[::-1])
    # unity gain in the pass band, notch and low-pass in the stop bands
    H = np.abs(np.fft.rfft(k, 2 ** 18))
    f = np.fft.rfftfreq(2 ** 18, 1 / 256.0)
    assert abs(H[np.argmin(np.abs(f - 10))] - 1) < 1e-3
    assert H[np.argmin(np.abs(f - 60))] < 1e-2 and H[np.argmin(np.abs(f - 100))] < 1e-2


def test_fused_bipolar_windows_equal_the_two_steps():
    from neurosig.preprocessing.recipe import bipolar_windows

    rng = np.random.default_rng(8)
    el = montage_electrodes("tcp22")[::-1]
    x = rng.standard_normal((len(el), 4567))
    got = bipolar_windows(x, el, "tcp22", 1000)
    ref = cut_windows(apply_bipolar(x, el, "tcp22"), 1000).astype(np.float32)
    assert got.dtype == np.float32 and got.shape == (4, 22, 1000)
    np.testing.assert_array_equal(got, ref)
