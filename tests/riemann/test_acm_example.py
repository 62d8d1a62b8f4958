"""The ACM example runs end to end."""
import runpy
from pathlib import Path


def test_riemann_acm_example_runs(capsys):
    runpy.run_path(str(Path(__file__).resolve().parents[2] / "examples" / "riemann_acm.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "augmented covariances: (40, 12, 12)" in out
    assert "Takens choice" in out and "grid choice" in out
    assert "halving round 1: 24 candidates on 'logeuclid' (3 of 3 inner folds), 8 kept" in out
    assert "halving round 3: 3 candidates on 'exact' (3 of 3 inner folds), 1 kept" in out
    assert "halving choice:" in out
    assert "approximate grid (mean_tol=1e-5): same choice as exact:" in out
