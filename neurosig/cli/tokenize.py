"""``neurosig tokenize fit|transform``: learn TFM tokens on a window cache and write token ids.

Inputs (``--input``): a ``.npy`` array of windows (n_windows, n_channels, n_times),
read memory-mapped; an HDF5 file (``.h5`` / ``.hdf5``) with such a dataset (``--key``,
default ``X``), read batch by batch; or a MOABB dataset name, loaded through
``neurosig.datasets.get_dataset`` when that module is installed.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ._common import add_renamed_option


def register(subparsers) -> None:
    p = subparsers.add_parser("tokenize", help="TFM tokenizer: fit on windows, write token ids",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="tokenize_command", metavar="VERB")
    f = sub.add_parser("fit", help="learn a tokenizer from windows and save it")
    _common(f)
    f.add_argument("--out", required=True, help="checkpoint to write (.pt)")
    f.add_argument("--n-codes", type=int, default=8192)
    f.add_argument("--dim", type=int, default=64)
    f.add_argument("--n-fft", type=int, default=200)
    f.add_argument("--hop", type=int, default=100)
    f.add_argument("--scale", default="corpus", choices=["corpus", "p95", "none"],
                   help="input scaling: one divisor fitted on the training windows (default) or the published "
                        "per-window p95")
    f.add_argument("--codebook", default="cosine", choices=["cosine", "euclidean"],
                   help="nearest-code search (default and published: cosine)")
    f.add_argument("--max-epochs", type=int, default=10, help="passes over the windows (default 10)")
    add_renamed_option(f, "--epochs", "--max-epochs", type=int)
    f.add_argument("--batch-size", type=int, default=32)
    f.add_argument("--lr", type=float, default=1e-3)
    f.add_argument("--random-state", type=int, default=0,
                   help="seed of the weights, batch order and masks (default 0)")
    add_renamed_option(f, "--seed", "--random-state", type=int)
    f.add_argument("--device", default=None, help="cpu (default) or cuda")
    f.set_defaults(func=_fit)
    t = sub.add_parser("transform", help="write token ids next to the input")
    _common(t)
    t.add_argument("--checkpoint", required=True, help="checkpoint written by 'tokenize fit'")
    t.add_argument("--out", default=None, help="output .npy (default: <input stem>.tokens.npy next to it)")
    t.add_argument("--n-codes", type=int, default=None, help="refuse a checkpoint with another codebook size")
    t.add_argument("--n-fft", type=int, default=None, help="refuse a checkpoint with another n_fft")
    t.add_argument("--hop", type=int, default=None, help="refuse a checkpoint with another hop")
    t.add_argument("--overwrite", action="store_true", help="recompute an existing output")
    t.add_argument("--device", default=None)
    t.set_defaults(func=_transform)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _common(p) -> None:
    p.add_argument("--input", required=True, help=".npy / .h5 window array, or a MOABB dataset name")
    p.add_argument("--key", default="X", help="dataset name inside an HDF5 file (default X)")
    p.add_argument("--sfreq", type=float, default=None,
                   help="sampling rate of the windows in Hz (default: 200, the tokenizer's rate); "
                        "other rates are FFT-resampled to 200 Hz")
    p.add_argument("--subjects", type=int, nargs="*", default=None, help="MOABB input: subjects to load")


def _open_input(args):
    """Return (array-like (n, C, T), sfreq, description, handle-to-close)."""
    src = args.input
    path = Path(src)
    if path.suffix == ".npy":
        import numpy as np
        if not path.is_file():
            raise FileNotFoundError(f"The '--input' parameter points to {src!r}, which does not exist.")
        return np.load(path, mmap_mode="r"), args.sfreq, str(path), None
    if path.suffix in (".h5", ".hdf5"):
        import h5py
        if not path.is_file():
            raise FileNotFoundError(f"The '--input' parameter points to {src!r}, which does not exist.")
        fh = h5py.File(path, "r")
        if args.key not in fh:
            keys = sorted(fh.keys())
            fh.close()
            raise KeyError(f"The HDF5 file {src!r} has no dataset {args.key!r} (--key); it has {keys}.")
        sf = args.sfreq if args.sfreq is not None else fh[args.key].attrs.get("sfreq")
        return fh[args.key], (float(sf) if sf is not None else None), f"{path}:{args.key}", fh
    if path.suffix or path.exists():
        raise ValueError(f"Invalid value for the '--input' parameter: {src!r} is not a .npy or .h5/.hdf5 file "
                         "nor a MOABB dataset name.")
    try:
        from neurosig.datasets import get_dataset
        ds = get_dataset(src, subjects=args.subjects)
    except (ImportError, AttributeError, ModuleNotFoundError) as exc:
        raise ValueError(f"Invalid value for the '--input' parameter: {src!r} looks like a dataset name, but "
                         f"neurosig.datasets.get_dataset is not available in this installation ({exc}). "
                         "Pass a .npy or .h5 window array instead.") from None
    import numpy as np
    from moabb.paradigms import MotorImagery
    paradigm = MotorImagery(resample=200.0)  # MOABB resamples the epochs to the tokenizer's rate
    X, _, _ = paradigm.get_data(ds, subjects=args.subjects or ds.subject_list[:1])
    return np.asarray(X, dtype="float32"), 200.0, f"MOABB {src}", None


def _fit(args) -> int:
    from neurosig._logging import get_logger
    from neurosig.tokenizers.tfm import TFMTokenizerEstimator
    log = get_logger("neurosig.cli.tokenize")
    X, sfreq, desc, fh = _open_input(args)
    try:
        est = TFMTokenizerEstimator(sfreq=sfreq, n_codes=args.n_codes, dim=args.dim, n_fft=args.n_fft,
                                    hop=args.hop, scale=args.scale, codebook=args.codebook, max_epochs=args.max_epochs,
                                    batch_size=args.batch_size, lr=args.lr, random_state=args.random_state, device=args.device, verbose=not args.quiet)
        est.fit(X)
    finally:
        if fh is not None:
            fh.close()
    est.save(args.out)
    u = est.usage_
    log.info("tokenizer fitted on %s: %d codes used of %d (perplexity %.1f); saved to %s",
             desc, u["n_used"], args.n_codes, u["perplexity"], args.out)
    print(f"{args.out}: {u['n_used']}/{args.n_codes} codes used, perplexity {u['perplexity']:.1f}")
    return 0


def _transform(args) -> int:
    import numpy as np

    from neurosig._io import atomic_path
    from neurosig.tokenizers.tfm import TFMTokenizer, TFMTokenizerEstimator
    expect = {k: v for k, v in {"n_codes": args.n_codes, "n_fft": args.n_fft, "hop": args.hop}.items()
              if v is not None}
    TFMTokenizer.load(args.checkpoint, expect=expect)  # clear error on a mismatching checkpoint, before work
    in_path = Path(args.input)
    out = Path(args.out) if args.out else in_path.with_name(in_path.stem + ".tokens.npy")
    if out.exists() and not args.overwrite:
        print(f"{out} exists; nothing to do (pass --overwrite to recompute)")
        return 0
    est = TFMTokenizerEstimator.load(args.checkpoint, device=args.device)
    X, sfreq, desc, fh = _open_input(args)
    try:
        est.sfreq = sfreq
        est.verbose = not args.quiet
        ids = est.transform(X)
    finally:
        if fh is not None:
            fh.close()
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, ids.astype(np.int16 if est.n_codes <= 32767 else np.int32))
    print(f"{out}: tokens of shape {ids.shape} from {desc}")
    return 0
