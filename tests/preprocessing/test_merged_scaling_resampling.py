"""The one percentile scaler and the one FFT resampler give what each former copy gave."""
import numpy as np
import pytest
import scipy.signal
import torch

from neurosig.preprocessing import tfm_resample
from neurosig.preprocessing.resample import fft_resample, resample_windows
from neurosig.preprocessing.scaling import percentile_scale
from neurosig.tokenizers.tfm import scale_p95


@pytest.mark.parametrize("q", [0.0, 37.5, 95.0, 100.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_percentile_scale_equals_np_percentile_for_arrays_and_tensors(q, dtype):
    rng = np.random.default_rng(0)
    x = (30 * rng.standard_normal((3, 4, 257))).astype(dtype)
    x[0, 1] = 0.0  # a flat channel stays finite
    ref = x / (np.percentile(np.abs(x.astype(np.float64)), q, axis=-1, keepdims=True) + 1e-8)
    out = percentile_scale(x, q)
    assert isinstance(out, np.ndarray) and out.dtype == dtype and np.isfinite(out).all()
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
    out_t = percentile_scale(torch.from_numpy(x), q)
    assert isinstance(out_t, torch.Tensor) and out_t.dtype == torch.from_numpy(x).dtype
    np.testing.assert_allclose(out_t.numpy(), ref, rtol=1e-5, atol=1e-6)


def test_scale_p95_is_percentile_scale_at_95():
    x = torch.randn(5, 2, 400)
    torch.testing.assert_close(scale_p95(x), percentile_scale(x, 95.0), rtol=0, atol=0)
    torch.testing.assert_close(scale_p95(x, eps=1e-3), percentile_scale(x, 95.0, eps=1e-3), rtol=0, atol=0)


def test_percentile_scale_refuses_bad_q():
    with pytest.raises(ValueError, match="'q' parameter.*\\[0, 100\\], but got 101"):
        percentile_scale(np.ones((2, 10)), 101)
    with pytest.raises(ValueError, match="'q' parameter"):
        percentile_scale(torch.ones(2, 10), "95")


def test_fft_resample_equals_resample_windows_and_scipy():
    x = np.random.default_rng(1).standard_normal((2, 3, 512)).astype(np.float32)
    by_rate = fft_resample(x, 256.0, 200.0)
    assert by_rate.shape == (2, 3, 400) and by_rate.dtype == np.float32
    np.testing.assert_array_equal(by_rate, resample_windows(x, 400))
    np.testing.assert_allclose(by_rate, scipy.signal.resample(x, 400, axis=-1), rtol=1e-4, atol=1e-5)
    x64 = x.astype(np.float64)
    out64 = resample_windows(x64, 400)  # the window reader keeps the dtype
    assert out64.dtype == np.float64
    np.testing.assert_allclose(out64, scipy.signal.resample(x64, 400, axis=-1), rtol=1e-12, atol=1e-12)
    assert tfm_resample.fft_resample is fft_resample  # the TFM import path is the same function
    assert fft_resample(x, 200.0, 200.0) is x and resample_windows(x, 512) is x
