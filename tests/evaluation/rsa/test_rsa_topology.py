"""tRSA transforms: paper definition, rsatoolbox differences, geodesic vs Floyd-Warshall, bad input."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from rsa_helpers import rdms_obj
from scipy.sparse.csgraph import csgraph_from_dense, shortest_path

from neurosig.evaluation.rsa import (
    as_square,
    as_vectors,
    geodesic_transform,
    geotopological_transform,
)

TOL = 1e-10


def _gt_direct(v, low, up):
    lo, hi = np.quantile(v, low), np.quantile(v, up)
    out = np.empty_like(v)
    for k, d in enumerate(v):
        out[k] = 0.0 if d <= lo else 1.0 if d >= hi else (d - lo) / (hi - lo)
    return out


def _floyd_warshall_loops(W):
    D = W.copy()
    n = len(D)
    for k in range(n):
        for i in range(n):
            for j in range(n):
                if D[i, k] + D[k, j] < D[i, j]:
                    D[i, j] = D[i, k] + D[k, j]
    return D


def test_geotopological_per_rdm_direct():
    rng = np.random.default_rng(0)
    v = rng.random((4, 45)) * np.array([[1], [3], [10], [0.1]])
    out = geotopological_transform(v, 0.2, 0.7)
    for k in range(4):
        np.testing.assert_allclose(out[k], _gt_direct(v[k], 0.2, 0.7), atol=TOL)
    # pooled thresholds are computed over all RDMs together and differ from per-RDM ones
    pooled = geotopological_transform(v, 0.2, 0.7, pooled=True)
    allv = v.ravel()
    lo, hi = np.quantile(allv, 0.2), np.quantile(allv, 0.7)
    np.testing.assert_allclose(pooled, np.clip((v - lo) / (hi - lo), 0, 1), atol=TOL)
    assert np.abs(pooled - out).max() > 0.1
    # square input keeps its layout
    sq = geotopological_transform(as_square(v), 0.2, 0.7)
    np.testing.assert_allclose(as_vectors(sq), out, atol=TOL)


def test_geotopological_pooled_matches_rsatoolbox(rsatb):
    """rsatoolbox pools quantiles over all RDMs. Its in-place update order also sets linear-part
    values above the upper threshold to 1, so both agree only when the upper threshold is >= 1
    (distances shifted above 1 here); the per-RDM case is checked against the direct formula above."""
    from rsatoolbox.rdm.transform import geotopological_transform as ref_gt

    rng = np.random.default_rng(1)
    v = 1.5 + rng.random((5, 66)) * 3
    ref = ref_gt(rdms_obj(rsatb, v), 0.1, 0.6).get_vectors()
    np.testing.assert_allclose(geotopological_transform(v, 0.1, 0.6, pooled=True), ref, atol=TOL)
    # one RDM: pooled and per-RDM coincide
    ref1 = ref_gt(rdms_obj(rsatb, v[:1]), 0.3, 0.8).get_vectors()
    np.testing.assert_allclose(geotopological_transform(v[:1], 0.3, 0.8), ref1, atol=TOL)


def test_rsatoolbox_in_place_order_difference(rsatb):
    """Documents the difference: with distances in [0, 1], rsatoolbox maps some linear values to 1."""
    from rsatoolbox.rdm.transform import geotopological_transform as ref_gt

    v = np.random.default_rng(2).random((1, 66))
    ref = ref_gt(rdms_obj(rsatb, v), 0.1, 0.5).get_vectors()
    mine = geotopological_transform(v, 0.1, 0.5)
    lo, hi = np.quantile(v, 0.1), np.quantile(v, 0.5)
    clobbered = (v > lo) & (v < hi) & (mine > hi)
    assert clobbered.any()
    np.testing.assert_allclose(ref[clobbered], 1.0)
    np.testing.assert_allclose(ref[~clobbered], mine[~clobbered], atol=TOL)


def test_fixed_points():
    v = np.random.default_rng(3).random((3, 28)) + 0.5
    # all distances at or below the lower threshold -> zeros; all above the upper -> ones
    np.testing.assert_array_equal(geotopological_transform(v, 1.0, 1.0), 0.0)
    np.testing.assert_array_equal(geotopological_transform(v, 2.0, 2.0, thresholds="value"), 0.0)
    np.testing.assert_array_equal(geotopological_transform(v, 0.1, 0.2, thresholds="value"), 1.0)
    # a 0/1 RDM is a fixed point
    b = (v > 1.0).astype(float)
    np.testing.assert_array_equal(geotopological_transform(b, 0.0, 1.0, thresholds="value"), b)


@settings(max_examples=30, deadline=None)
@given(st.floats(0, 0.5), st.floats(0.5, 1.0), st.integers(0, 10_000))
def test_monotone_and_bounded(low, up, seed):
    v = np.random.default_rng(seed).random(36) * 5
    out = geotopological_transform(v, low, up)
    order = np.argsort(v)
    assert np.all(np.diff(out[order]) >= -1e-15)  # order preserving (non-decreasing)
    assert out.min() >= 0 and out.max() <= 1


def test_geodesic_vs_explicit_floyd_warshall_and_scipy():
    rng = np.random.default_rng(4)
    v = geotopological_transform(rng.random((3, 45)), 0.1, 0.6)
    out = geodesic_transform(v)
    for k, s in enumerate(as_square(v)):
        W = np.where(s < 1, s, np.inf)
        np.fill_diagonal(W, 0)
        ref = _floyd_warshall_loops(W)
        np.testing.assert_allclose(as_square(out[k:k + 1], allow_inf=True)[0], ref, atol=TOL)
        # scipy keeps zero-length edges when the graph is built with null_value=inf
        g = csgraph_from_dense(W, null_value=np.inf)
        np.testing.assert_allclose(as_vectors(shortest_path(g, directed=False), allow_inf=True)[0],
                                   out[k], atol=TOL)


def test_zero_length_edges_are_kept():
    # 0-1 at distance 0, 1-2 at 0.5, 0-2 a non-edge (1): 0-2 is reachable with length 0.5
    D = np.array([[0, 0, 1.0], [0, 0, 0.5], [1.0, 0.5, 0]])
    out = geodesic_transform(D)
    np.testing.assert_allclose(out, [[0, 0, 0.5], [0, 0, 0.5], [0.5, 0.5, 0]])
    # a dense csgraph call (and rsatoolbox/networkx) drops the 0 edge: 0 is then disconnected
    dense = shortest_path(np.where(D < 1, D, 0), directed=False)
    assert np.isinf(dense[0, 2])
    old = geodesic_transform(D, zero_edges=False)
    assert np.isinf(old[0, 2]) and np.isinf(old[0, 1])


def test_geodesic_matches_rsatoolbox_with_its_conventions(rsatb):
    from rsatoolbox.rdm.transform import geodesic_transform as ref_geo

    rng = np.random.default_rng(5)
    v = geotopological_transform(rng.random((4, 45)), 0.1, 0.5)
    ref = ref_geo(rdms_obj(rsatb, v)).get_vectors()
    mine = geodesic_transform(v, rescale=True, zero_edges=False)
    assert np.array_equal(np.isinf(ref), np.isinf(mine))
    np.testing.assert_allclose(mine[np.isfinite(mine)], ref[np.isfinite(ref)], atol=TOL)
    # with zero-length edges kept (the default) the results differ
    assert np.abs(geodesic_transform(v) - np.where(np.isinf(ref), np.inf, ref))[np.isfinite(ref)].max() > 0


def test_disconnected_value_and_compare_refusal():
    from neurosig.evaluation.rsa import compare

    D = np.array([[0, 0.2, 1, 1], [0.2, 0, 1, 1], [1, 1, 0, 0.3], [1, 1, 0.3, 0]])
    out = geodesic_transform(D)
    assert np.isinf(out[0, 2])
    with pytest.raises(ValueError, match="disconnected="):
        compare(out, D)
    fin = geodesic_transform(D, disconnected=3.0)
    assert fin[0, 2] == 3.0 and fin[0, 1] == pytest.approx(0.2)


def test_bad_topology_inputs():
    v = np.random.default_rng(6).random((2, 10))
    with pytest.raises(ValueError, match="'low'"):
        geotopological_transform(v, -0.1, 0.5)
    with pytest.raises(ValueError, match="'up'"):
        geotopological_transform(v, 0.1, 1.5)
    with pytest.raises(ValueError, match="'low' quantile .* must not exceed"):
        geotopological_transform(v, 0.6, 0.5)
    with pytest.raises(ValueError, match="'rdms'.*2 conditions.*at least 3"):
        geotopological_transform(np.array([[0, 1.0], [1.0, 0]]), 0.1, 0.5)
    with pytest.raises(ValueError, match="rescale=True"):
        geodesic_transform(v * 3)
    with pytest.raises(ValueError, match="'thresholds'"):
        geotopological_transform(v, 0.1, 0.5, thresholds="percent")
    nan = v.copy()
    nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="'rdms'.*NaN"):
        geotopological_transform(nan, 0.1, 0.5)


def test_compiled_geodesic_identical_to_numpy_floyd_warshall_and_rsatoolbox(rsatb):
    """The compiled kernel (condensed upper triangle, pairs i < j only) gives bit-identical values
    to the vectorised numpy recursion on square matrices and to rsatoolbox (networkx), with pooled
    thresholds on a stack of RDMs, in both layouts and for any block size."""
    from rsatoolbox.rdm.transform import (
        geodesic_transform as ref_geo,
        geotopological_transform as ref_gt,
    )

    from neurosig.evaluation.rsa.topology import floyd_warshall_batch

    rng = np.random.default_rng(7)
    pts = rng.normal(size=(25, 30, 6))
    iu = np.triu_indices(30, k=1)
    v = 1.0 + ((pts[:, :, None] - pts[:, None]) ** 2).mean(-1)[:, iu[0], iu[1]]
    ref = ref_geo(ref_gt(rdms_obj(rsatb, v), 0.1, 0.5)).get_vectors()
    v_before = v.copy()
    gt = geotopological_transform(v, 0.1, 0.5, pooled=True)
    gt_before = gt.copy()
    mine = geodesic_transform(gt, rescale=True, zero_edges=False)
    assert np.array_equal(v, v_before) and np.array_equal(gt, gt_before)  # inputs left alone
    assert np.array_equal(mine, ref)  # inf where disconnected, identical floats elsewhere
    assert np.array_equal(geodesic_transform(gt, rescale=True, zero_edges=False, chunk_size=1), mine)
    gt_sq = as_square(gt)
    sq = geodesic_transform(gt_sq, rescale=True, zero_edges=False)
    assert np.array_equal(as_vectors(sq, allow_inf=True), mine)
    assert np.array_equal(gt_sq, as_square(gt))
    # a stack larger than one block (square input is read block by block)
    big = np.concatenate([gt] * 3)
    assert np.array_equal(geodesic_transform(as_square(big), rescale=True, zero_edges=False),
                          as_square(np.concatenate([mine] * 3), allow_inf=True))
    v3 = np.concatenate([v] * 3)
    assert np.array_equal(geotopological_transform(as_square(v3), 0.1, 0.5, pooled=True),
                          as_square(geotopological_transform(v3, 0.1, 0.5, pooled=True)))
    for zero_edges in (True, False):
        W = np.where(as_square(gt) < 1, as_square(gt), np.inf)
        if not zero_edges:
            W[as_square(gt) == 0] = np.inf
        W[:, np.arange(30), np.arange(30)] = 0.0
        expect = as_vectors(floyd_warshall_batch(W), allow_inf=True)
        assert np.array_equal(geodesic_transform(gt, zero_edges=zero_edges), expect)


def test_geodesic_bad_chunk_size():
    v = geotopological_transform(np.random.default_rng(8).random((2, 10)), 0.1, 0.5)
    with pytest.raises(ValueError, match="'chunk_size'.*positive integers.*0"):
        geodesic_transform(v, chunk_size=0)
    with pytest.raises(TypeError, match="'zero_edges'.*bool"):
        geodesic_transform(v, zero_edges="yes")


@pytest.mark.slow
def test_rsa_benchmark_topology_quick_runs():
    """benchmarks/rsa_speed.py part (b) runs and finds identical values (no timing checked)."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    res = subprocess.run([sys.executable, str(root / "benchmarks" / "rsa_speed.py"), "--quick", "--parts", "b",
                          "--repeats", "1"], capture_output=True, text=True, cwd=root, timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.count("identical values: True") == 2, res.stdout
    assert res.stdout.strip().splitlines()[-1].startswith("rsa speed:")
