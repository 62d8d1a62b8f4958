"""``neurosig report RESULTS.sqlite [--out report.html]``: one static HTML page for a results store."""
from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report", help="write one static HTML page for a results store (tables, figures, metadata)",
        description="Render a neurosig results store (benchmark, fMRI decoding and RSA rows) as one "
                    "static HTML page: tables per kind, the figures found next to the store and in the "
                    "jobs' output folders (linked relative to the page), run metadata and package "
                    "versions. The page needs no network to open.")
    p.add_argument("results", help="results store (e.g. results.sqlite)")
    p.add_argument("--out", default=None, help="page to write (default: report.html next to the store)")
    p.add_argument("--title", default=None, help="page title")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from neurosig.evaluation.html_report import write_html_report

    path = write_html_report(args.results, out=args.out, title=args.title)
    print(f"report written to {path}")
    return 0
