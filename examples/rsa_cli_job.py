"""`neurosig rsa CONFIG.yml` on the real 92-image RDMs (hIT vs 8 model RDMs).

Writes the hIT RDMs (4 subjects x 2 sessions) and the model RDMs to .npz files, a
YAML job next to them, and runs the command: SQLite results (kind "rsa"), a CSV
table and figures land in --out.

Run:  PYTHONPATH=$PWD python examples/rsa_cli_job.py [--data-dir DIR] [--out DIR] [--quick]
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

JOB = """\
name: hit92
data: {path: hit.npz, key: rdms, subjects_key: subjects}
models: {path: models.npz}
method: spearman
transform: {kind: geotopological, low: 0.1, up: 0.9}
bootstrap: {n: %d, seed: 0}
output: {dir: out, results: out/results.sqlite}
"""


def main(argv=None) -> int:
    import scipy.io as sio

    from neurosig.cli.main import main as neurosig

    here = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path,
                    default=Path(os.environ.get("NEUROSIG_SHARED_DATA", here.parent / "shared" / "data")))
    ap.add_argument("--out", type=Path, default=Path("rsa_cli_out"))
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)

    d = args.data_dir / "rsa_92images"
    R = sio.loadmat(d / "92_brainRDMs.mat")["RDMs"]
    M = sio.loadmat(d / "92_modelRDMs.mat")["Models"]
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez(args.out / "hit.npz", rdms=np.stack([np.asarray(R[0, s, k]["RDM"], float)
                                                  for s in range(4) for k in range(2)]),
             subjects=np.repeat(np.arange(4), 2))
    np.savez(args.out / "models.npz", **{str(M[0, i]["name"][0]): np.asarray(M[0, i]["RDM"], float)
                                         for i in range(M.shape[1])})
    (args.out / "hit92.yml").write_text(JOB % (100 if args.quick else 1000))
    return neurosig(["rsa", str(args.out / "hit92.yml")])


if __name__ == "__main__":
    raise SystemExit(main())
