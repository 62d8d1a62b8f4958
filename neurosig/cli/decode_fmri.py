"""``neurosig decode-fmri JOB.yml``: run a batch fMRI decoding/encoding job (resumable)."""
from __future__ import annotations

from ._common import add_parallel_arguments, parallel_kwargs


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "decode-fmri", help="run an fMRI decoding/encoding job (subjects x ROIs x targets x models)",
        description="Run the job in JOB (YAML; validated before any work, unknown keys refused). "
                    "Every cell is a row of the SQLite results store; a rerun resumes.")
    p.add_argument("job", help="job YAML file")
    p.add_argument("--results", help="results store (overrides the job's 'results')")
    p.add_argument("--output-dir", help="output folder (overrides the job's 'output_dir')")
    p.add_argument("--mesh", help="surface (fsaverage) jobs: folder of lh./rh.<surface> mesh files, or "
                                  "'fsaverage5' (nilearn's bundled mesh); overrides the job's dataset.mesh")
    p.add_argument("--check", action="store_true",
                   help="validate the job file, open its inputs (NSD root, BOLD header, events, feature files) "
                        "and exit")
    p.add_argument("--cells-per-task", type=int, default=None, metavar="N",
                   help="cut each (subject, ROI) into tasks of N cells (default: one task per ROI)")
    add_parallel_arguments(p)
    p.set_defaults(func=_run, imports=("neurosig.evaluation.fmri",))


def _run(args) -> int:
    from pathlib import Path

    from neurosig._io import check_output_path, read_yaml
    from neurosig._schema import fail
    from neurosig._validation import check_path
    from neurosig.evaluation.fmri import _table, decode_fmri, load_job
    from neurosig.evaluation.fmri_job import _WHAT, check_job_data

    par = parallel_kwargs(args)
    path = check_path("job", args.job, kind="file")
    job = read_yaml(path, "job", _WHAT)
    if args.results:
        job["results"] = str(Path(args.results).resolve())
    if args.output_dir:
        job["output_dir"] = str(Path(args.output_dir).resolve())
    if args.mesh:
        if not isinstance(job.get("dataset"), dict):
            raise fail(_WHAT, path, "dataset", "a mapping (--mesh sets dataset.mesh)", job.get("dataset"))
        job["dataset"]["mesh"] = args.mesh if args.mesh == "fsaverage5" else str(Path(args.mesh).resolve())
    job.setdefault("verbose", not getattr(args, "quiet", False))
    checked = load_job(job, base_dir=path.parent, source=path)
    check_output_path("results", checked["results"], kind="file")
    if checked.get("output_dir"):
        check_output_path("output_dir", checked["output_dir"], kind="dir")
    opened = check_job_data(checked, source=path)  # before any work, --check or not
    if args.check:
        print(f"job {str(path)!r} is valid: {len(checked['subjects'])} subject(s), {len(checked['rois'])} ROI(s), "
              f"{len(checked['targets'])} target spec(s), {len(checked['models'])} model(s); opened: "
              f"{'; '.join(opened)}")
        return 0
    df = decode_fmri(checked, base_dir=path.parent, cells_per_task=args.cells_per_task, **par)
    tab = _table(df)
    import pandas as pd

    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(tab.drop(columns=["error"]).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    n_err = int((tab.status == "error").sum())
    if n_err:
        print(f"{n_err} cell(s) failed; see the 'error' column of {checked['results']}")
    return 1 if n_err else 0
