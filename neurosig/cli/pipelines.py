"""``neurosig pipelines check FILE|DIR... | list``: check pipeline files without loading data.

``check`` reads every pipeline file (folders searched recursively for ``*.yml``,
``*.yaml`` and ``*.py``) exactly as ``neurosig benchmark`` does: classes looked up in the
allow-list, every parameter checked against the estimator's signature and constraints,
every step built, every ``param_grid`` key checked. One line per file: ``ok`` or
``refused`` with the reason. Exit status 1 if any file is refused, unless
``--skip-unsupported`` (then the refused files are listed as skipped).

``list`` shows the pipelines shipped with neurosig, their paradigms and tags.
"""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser("pipelines", help="check pipeline files (no data loaded); list shipped pipelines",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="pipelines_command", metavar="VERB")
    c = sub.add_parser("check", help="check pipeline files or folders; one verdict per file")
    c.add_argument("paths", nargs="+", metavar="FILE|DIR", help="pipeline files or folders of them")
    c.add_argument("--skip-unsupported", action="store_true",
                   help="report refused files as skipped and exit 0 when at least one file is usable")
    c.set_defaults(func=_check)
    ls = sub.add_parser("list", help="the pipelines shipped with neurosig, with their paradigms")
    ls.set_defaults(func=_list)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _check(args) -> int:
    from neurosig.pipelines import check_pipeline_files

    verdicts = check_pipeline_files(args.paths)
    if not verdicts:
        raise FileNotFoundError(f"No pipeline files (*.yml, *.yaml, *.py) found in {args.paths}.")
    word = "skipped" if args.skip_unsupported else "refused"
    for v in verdicts:
        if v.spec is not None:
            print(f"{v.path}: ok ({v.spec.name!r}; paradigms {', '.join(v.spec.paradigms)})")
        else:
            reason = v.reason.split(": ", 1)[1] if v.reason.startswith("Pipeline file ") else v.reason
            print(f"{v.path}: {word}: {reason}")
    n_bad = sum(v.spec is None for v in verdicts)
    print(f"{len(verdicts) - n_bad} ok, {n_bad} {word} of {len(verdicts)} pipeline file(s)")
    if n_bad and not (args.skip_unsupported and n_bad < len(verdicts)):
        return 1
    return 0


def _list(args) -> int:
    from neurosig._resources import resource_dir
    from neurosig.pipelines import check_pipeline_files

    root = resource_dir("pipelines")
    rows = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for v in check_pipeline_files(folder):
            if v.spec is None:  # a shipped file that fails its own check is a bug: say so
                raise ValueError(v.reason)
            rows.append((folder.name, v.spec.name, ", ".join(v.spec.paradigms), ", ".join(v.spec.tags),
                         v.path.name))
    widths = [max(len(r[i]) for r in rows + [("set", "pipeline", "paradigms", "tags", "file")])
              for i in range(5)]
    for r in [("set", "pipeline", "paradigms", "tags", "file")] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    print(f"{len(rows)} pipelines in {root}; run them with neurosig benchmark --pipelines {root}/<set>")
    return 0
