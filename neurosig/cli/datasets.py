"""``neurosig datasets list|check``: what is supported, what is on disk, and whether it is complete."""
from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("datasets", help="dataset cards: list supported datasets, check a local copy",
                              description="Dataset housekeeping: list the datasets with a card and "
                                          "what is present locally, or check that a local copy is complete.")
    sub = p.add_subparsers(dest="datasets_command", metavar="VERB")
    pl = sub.add_parser("list", help="supported datasets and what is present locally")
    pl.add_argument("--path", default=None, help="data folder (default: $NEUROSIG_DATA, else MNE_DATA)")
    pl.set_defaults(func=_list)
    pc = sub.add_parser("check", help="verify that a local copy is complete (files, checksums)")
    pc.add_argument("name", help="dataset name or alias (e.g. PhysionetMI, BNCI2014_001)")
    pc.add_argument("--path", default=None, help="data folder (default: $NEUROSIG_DATA, else MNE_DATA)")
    pc.add_argument("--subjects", nargs="+", type=int, default=None,
                    help="subjects to check (default: every subject with a file present)")
    pc.add_argument("--no-checksums", action="store_true", help="only check that files exist")
    pc.set_defaults(func=_check)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _list(args) -> int:
    from neurosig.datasets.cards import data_root, list_cards, load_card, present_subjects

    rows = [("dataset", "source", "subjects", "sfreq (Hz)", "channels", "licence", "local copy")]
    for name in list_cards():
        card = load_card(name)
        layout = card.get("layout")
        if layout == "generated":
            local = "generated (always available)"
        elif isinstance(layout, dict) and "url" in layout:
            present = present_subjects(card, args.path)
            local = f"{len(present)} subject(s) in {data_root(card, args.path)}" if present else "absent"
        else:
            root = data_root(card, args.path)
            local = f"folder {root}" if root.is_dir() else "absent"
        ch = card.get("channel_types")
        ch = ", ".join(f"{v} {k}" for k, v in ch.items()) if isinstance(ch, dict) else "-"
        src = "MOABB " + card["moabb"] if card.get("moabb") else "neurosig"
        rows.append((card["name"], src, str(card.get("n_subjects", "-")), str(card.get("sampling_rate", "-")),
                     ch, str(card.get("licence", "-")), local))
    caps = (22, 20, 16, 16, 14, 26, 200)  # the last column (local copy) is never cut

    def cut(text: str, cap: int) -> str:
        return text if len(text) <= cap else text[: cap - 3] + "..."

    rows = [tuple(cut(c, cap) for c, cap in zip(r, caps)) for r in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    return 0


def _check(args) -> int:
    from neurosig.datasets.cards import check_dataset

    report = check_dataset(args.name, path=args.path, subjects=args.subjects, verify=not args.no_checksums)
    print(report.format())
    if report.message.startswith("generated"):
        return 0
    return 0 if report.complete else 1
