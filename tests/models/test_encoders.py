"""Encoders: sizes and parameter counts, shapes, masks, checkpoints (neurosig and FEMBA safetensors)."""
import pytest
import torch

from neurosig.contracts import SignalContract
from neurosig.models.checkpoints import (
    FEMBA_CONTRACT,
    TCP_MONTAGE,
    load_encoder,
    load_femba_safetensors,
    save_encoder,
    save_femba_safetensors,
)
from neurosig.models.femba import (
    FEMBA_PUBLISHED_PARAMS,
    BiMambaEncoder,
    FEMBAConfig,
    femba_param_count,
)
from neurosig.models.transformer import PatchTransformer


def _direct_femba_count(n_blocks, E, C=22, T=1280, expand=4, N=16, K=4):
    """Independent count from the FEMBA layer list (mamba_ssm.Mamba defaults, no biases in projections)."""
    D = E * C // 2
    di, r = expand * D, -(-D // 16)
    mamba = D * 2 * di + di * K + di + di * (r + 2 * N) + r * di + di + di * N + di + di * D
    return 32 * E + E + (T // 16) * D + n_blocks * (2 * mamba + 2 * D)


@pytest.mark.parametrize("size", ["tiny", "base", "large", "huge"])
def test_param_counts_match_published(size):
    n = femba_param_count(size)  # meta device: no memory
    cfg = FEMBAConfig.from_size(size)
    assert n == _direct_femba_count(cfg.n_blocks, cfg.embed_dim)
    assert abs(n - FEMBA_PUBLISHED_PARAMS[size]) / FEMBA_PUBLISHED_PARAMS[size] < 0.10


def test_unknown_size_and_bad_window():
    with pytest.raises(ValueError, match="'size' parameter.*'nano'.*'gigantic'"):
        BiMambaEncoder("gigantic")
    with pytest.raises(ValueError, match="'n_channels'.*multiple of 2.*got 5"):
        BiMambaEncoder("nano", n_channels=5)
    with pytest.raises(ValueError, match="'n_times'.*multiple of 16.*got 100"):
        PatchTransformer("nano", n_channels=4, n_times=100)


@pytest.mark.parametrize("cls", [BiMambaEncoder, PatchTransformer])
def test_shapes_and_input_check(cls):
    torch.manual_seed(0)
    enc = cls("nano", n_channels=6, n_times=96)
    x = torch.randn(3, 6, 96)
    out = enc(x)
    assert out.shape == (3, 6, enc.d_model) and enc.d_model == 4 * 3
    mask = torch.zeros(3, 3, 6, dtype=torch.bool)
    mask[:, 1, 2] = True
    x2 = x.clone()
    x2[:, 2:4, 32:48] = 0.0
    torch.testing.assert_close(enc(x, mask=mask), enc(x2))
    with pytest.raises(ValueError, match=r"n_channels=6, n_times=96.*\(3, 8, 96\)"):
        enc(torch.randn(3, 8, 96))


def test_patch_embedding_follows_femba_flattening():
    enc = BiMambaEncoder("nano", n_channels=4, n_times=32)
    x = torch.randn(1, 4, 32)
    tok = enc.patch_embed(x)  # (1, 2 tokens, E * 2 pairs)
    w, b = enc.patch_embed.proj.weight, enc.patch_embed.proj.bias  # (E, 1, 2, 16)
    e, pair, t = 3, 1, 1  # feature index e * n_pairs + pair
    direct = (w[e, 0] * x[0, 2 * pair:2 * pair + 2, 16 * t:16 * t + 16]).sum() + b[e]
    torch.testing.assert_close(tok[0, t, e * 2 + pair], direct)


def test_encoder_file_round_trip_and_refusals(tmp_path):
    torch.manual_seed(0)
    enc = BiMambaEncoder("nano", n_channels=4, n_times=64)
    contract = SignalContract(("C3", "Cz", "C4", "Pz"), 128.0, 64, "average")
    p = save_encoder(enc, tmp_path / "enc.pt", contract=contract)
    enc2, info = load_encoder(p, arch="bimamba", n_channels=4, n_times=64, contract=contract)
    x = torch.randn(2, 4, 64)
    torch.testing.assert_close(enc(x), enc2(x))
    assert info["contract"]["sfreq"] == 128.0
    with pytest.raises(ValueError, match="holds a 'bimamba' encoder, but arch='transformer'"):
        load_encoder(p, arch="transformer")
    with pytest.raises(ValueError, match=r"\(4, 64\), but the data have \(6, 64\)"):
        load_encoder(p, n_channels=6, n_times=64)
    other = SignalContract(("C3", "Cz", "C4", "Oz"), 128.0, 64, "average")
    with pytest.raises(ValueError, match=r"missing \['Pz'\], unexpected \['Oz'\]"):
        load_encoder(p, contract=other)
    with pytest.raises(ValueError, match="sampling rate 256.0 Hz instead of 128.0"):
        load_encoder(p, contract=SignalContract(contract.ch_names, 256.0, 64, "average"))
    torch.save({"weights": 1}, tmp_path / "junk.pt")
    with pytest.raises(ValueError, match="not a neurosig encoder"):
        load_encoder(tmp_path / "junk.pt")
    with pytest.raises(FileNotFoundError, match="'checkpoint'.*does not exist"):
        load_encoder(tmp_path / "missing.pt")


def test_femba_safetensors_round_trip(tmp_path):
    """A checkpoint in FEMBA's key naming (written here) loads key for key; heads are ignored."""
    torch.manual_seed(0)
    cfg = FEMBAConfig.from_size("nano", n_channels=22, n_times=1280)
    enc = BiMambaEncoder(cfg)
    extra = {"decoder.dec_conv.weight": torch.randn(1, 1, 31, 31),
             "decoder.conv_transpose.weight": torch.randn(4, 1, 2, 16)}
    p = save_femba_safetensors(enc, tmp_path / "femba.safetensors", extra_tensors=extra)
    from safetensors import safe_open
    with safe_open(str(p), "pt") as f:
        keys = set(f.keys())
    assert {"patch_embed.proj.weight", "pos_embed", "mamba_blocks.0.mamba_fwd.in_proj.weight",
            "mamba_blocks.0.mamba_rev.A_log", "norm_layers.0.weight"} <= keys
    enc2, info = load_femba_safetensors(p, contract=FEMBA_CONTRACT)
    assert info["config"]["n_blocks"] == 1 and info["config"]["embed_dim"] == 4
    assert info["config"]["size"] == "nano" and len(info["ignored_keys"]) == 2
    x = torch.randn(1, 22, 1280)
    torch.testing.assert_close(enc(x), enc2(x))
    # strict contract: other montage, sampling rate or window length are errors
    wrong = SignalContract(TCP_MONTAGE[:21] + ("EKG",), 256.0, 1280, "bipolar-tcp")
    with pytest.raises(ValueError, match=r"unexpected \['EKG'\]"):
        load_femba_safetensors(p, contract=wrong)
    with pytest.raises(ValueError, match="sampling rate 200.0 Hz instead of 256.0 Hz"):
        load_femba_safetensors(p, contract=SignalContract(TCP_MONTAGE, 200.0, 1280, "bipolar-tcp"))
    with pytest.raises(ValueError, match="2560 samples per window instead of 1280"):
        load_femba_safetensors(p, contract=SignalContract(TCP_MONTAGE, 256.0, 2560, "bipolar-tcp"))
    with pytest.raises(ValueError, match=r"FEMBA \(bimamba\) safetensors file, but arch=.transformer."):
        load_encoder(p, arch="transformer")


def test_other_architecture_safetensors_refused(tmp_path):
    from safetensors.torch import save_file
    tr = PatchTransformer("nano", n_channels=4, n_times=64)
    save_file({k: v.contiguous() for k, v in tr.state_dict().items()}, str(tmp_path / "tr.safetensors"))
    with pytest.raises(ValueError, match="not a FEMBA .bidirectional Mamba. checkpoint"):
        load_femba_safetensors(tmp_path / "tr.safetensors")
    enc = BiMambaEncoder("nano", n_channels=4, n_times=64)
    sd = {k: v.contiguous() for k, v in enc.state_dict().items()}
    sd.pop("norm_layers.0.bias")
    sd["mystery.weight"] = torch.zeros(2)
    save_file(sd, str(tmp_path / "broken.safetensors"))
    c = SignalContract(("a", "b", "c", "d"), 256.0, 64, "bipolar-tcp")
    with pytest.raises(ValueError, match="not part of FEMBA.*mystery"):
        load_femba_safetensors(tmp_path / "broken.safetensors", expected=c)


def test_block_recompute_gives_same_gradients():
    torch.manual_seed(0)
    a = BiMambaEncoder("nano", n_channels=4, n_times=64).double()
    b = BiMambaEncoder("nano", n_channels=4, n_times=64, recompute=True).double()
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 4, 64, dtype=torch.float64)
    a(x).square().sum().backward()
    b(x).square().sum().backward()
    for (k, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        torch.testing.assert_close(p.grad, q.grad, msg=k)


def test_build_encoder_refuses_settings_of_the_other_architecture():
    from neurosig.models.checkpoints import build_encoder

    assert build_encoder("bimamba", "nano", n_channels=4, n_times=64, recompute=True).config.recompute
    with pytest.raises(ValueError, match=r"\['recompute'\] for arch='transformer'.*allowed settings"):
        build_encoder("transformer", "nano", n_channels=4, n_times=64, recompute=True)
