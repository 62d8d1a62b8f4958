"""Learn the TFM tokenizer once on a corpus of unlabelled windows, then reuse it frozen.

Run:  python examples/tfm_corpus_tokenizer.py [--out-dir DIR]

The published tokenizer is learned on a large corpus and then applied to new data; a
tokenizer learned on the few labelled windows of one subject keeps little of the class
(``benchmarks/tfm_corpus_probe.py``). Here, on the simulated motor-imagery dataset:

1. learn a tokenizer on the windows of subjects 2 and 3, without their labels, and save it;
2. give the file to ``TokenTransformerClassifier(tokenizer=...)``: stage 1 is skipped, the
   transformer is pretrained (masked tokens) and fine-tuned on subject 1 only;
3. the same file from the shell: ``neurosig tokenize transform --checkpoint tok.pt ...``.

Small sizes so that it runs in seconds; the evaluation with a corpus tokenizer is
``python benchmarks/tfm_eval.py --tokenizer-corpus 5 6 7 8 9``.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", default=None, help="where the tokenizer file goes (default: a temp folder)")
    args = ap.parse_args(argv)
    from moabb.paradigms import LeftRightImagery

    from neurosig.datasets import SimulatedMotorImagery
    from neurosig.models.token_transformer import TokenTransformerClassifier
    from neurosig.tokenizers import TFMTokenizerEstimator
    from neurosig.tokenizers.analysis import token_mutual_information

    ds = SimulatedMotorImagery(n_subjects=3, n_runs=1, sessions=["0train"])
    paradigm = LeftRightImagery()
    corpus, _, _ = paradigm.get_data(ds, subjects=[2, 3])              # labels not used
    X, y, _ = paradigm.get_data(ds, subjects=[1])                      # (24, 22, 1001) at 250 Hz
    tok = TFMTokenizerEstimator(sfreq=ds.sfreq, n_codes=32, dim=16, max_epochs=3, batch_size=16, random_state=0).fit(corpus)
    path = Path(args.out_dir or tempfile.mkdtemp(prefix="neurosig_tok_")) / "corpus_tokenizer.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    tok.save(path)
    print(f"tokenizer learned on {len(corpus)} unlabelled windows of subjects 2-3: "
          f"{tok.usage_['n_used']}/32 codes used -> {path}")

    clf = TokenTransformerClassifier(sfreq=ds.sfreq, tokenizer=path, dim=16, n_layers=1, n_heads=4,
                                     pretrain_max_epochs=2, max_epochs=5, batch_size=16, random_state=0)
    clf.fit(X[::2], y[::2])                                            # stages 2 and 3 only
    ids = clf.tokens(X[1::2])                                          # (12, 22, 7): the file's tokens
    mi = token_mutual_information(ids, y[1::2], clf.n_codes_, n_shuffles=50, per_channel=True)
    acc = (clf.predict(X[1::2]) == y[1::2]).mean()
    print(f"subject 1: {clf.n_codes_} codes from the file, token ids {ids.shape}, held-out accuracy {acc:.2f}, "
          f"token-class MI per (channel, code) {mi['mi']:.3f} nats (shuffled {mi['shuffled'].mean():.3f}, "
          f"p {mi['p_value']:.2f})")
    return {"path": path, "classifier": clf, "tokenizer": tok, "tokens": ids, "X_test": X[1::2], "mi": mi}


if __name__ == "__main__":
    main()
