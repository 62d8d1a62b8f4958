"""Dataset cards (generated from MOABB METADATA) and `neurosig datasets list|check`."""
from __future__ import annotations

import pytest
import yaml

from neurosig._resources import resource_dir
from neurosig.cli.main import main
from neurosig.datasets.cards import check_dataset, list_cards, load_card


def test_every_card_is_a_mapping_with_the_required_fields():
    names = list_cards()
    for required in ("SimulatedMotorImagery", "PhysionetMI", "BNCI2014_001", "BNCI2014_004", "TUAB", "NSD"):
        assert required in names
    for name in names:
        with open(next(f for f in resource_dir("datasets").glob("*.yml")
                       if yaml.safe_load(f.read_text())["name"] == name)) as fh:
            assert isinstance(yaml.safe_load(fh), dict)
        card = load_card(name)
        for key in ("source", "licence", "citation", "obtain", "layout", "sampling_rate", "channels"):
            assert card.get(key) not in (None, "", []), (name, key)


def test_moabb_cards_come_from_metadata():
    from moabb.datasets import BNCI2014_001, PhysionetMI
    card = load_card("bnci2014001")
    md = BNCI2014_001.METADATA
    assert card["sampling_rate"] == md.acquisition.sampling_rate == 250.0
    assert card["licence"] == md.documentation.license
    assert card["channels"] == list(md.acquisition.sensors)
    assert md.documentation.doi in card["citation"]
    assert load_card("physionet")["n_subjects"] == PhysionetMI.METADATA.participants.n_subjects == 109
    sim = load_card("simulated")
    assert sim["sampling_rate"] == 250.0 and "C3" in sim["channels"] and len(sim["classes"]) == 4


def _copy_physionet_subject1(shared_data, tmp_path, drop=()):
    dest = tmp_path / "MNE-eegbci-data" / "files" / "eegmmidb" / "1.0.0" / "S001"
    dest.mkdir(parents=True)
    for f in (shared_data / "eegmmidb" / "S001").iterdir():
        if f.name not in drop:
            (dest / f.name).symlink_to(f)
    return dest


def test_check_real_physionet_subject_missing_run2(shared_data, tmp_path, capsys):
    _copy_physionet_subject1(shared_data, tmp_path)
    rep = check_dataset("PhysionetMI", path=tmp_path)
    assert rep.subjects == [1]
    missing = rep.missing()
    assert [m.path.name for m in missing] == ["S001R02.edf"] and missing[0].status == "missing"
    assert sum(f.status == "ok" for f in rep.files) == 13  # sha256 checked against MNE's table
    assert not rep.complete
    assert rep.runnable["LeftRightImagery"] and rep.runnable["MotorImagery"]
    assert not rep.runnable["MOABB data_path/download"]
    # the CLI says the same and exits 1 (incomplete)
    assert main(["datasets", "check", "PhysionetMI", "--path", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "MISSING" in out and "S001R02.edf" in out and "can run: LeftRightImagery" in out


def test_check_detects_corrupt_file(shared_data, tmp_path):
    dest = _copy_physionet_subject1(shared_data, tmp_path, drop=("S001R04.edf",))
    src = shared_data / "eegmmidb" / "S001" / "S001R04.edf"
    data = bytearray(src.read_bytes())
    data[-10] ^= 0xFF  # a truncated or damaged download
    (dest / "S001R04.edf").write_bytes(bytes(data))
    rep = check_dataset("PhysionetMI", path=tmp_path)
    bad = {m.path.name: m.status for m in rep.missing()}
    assert bad["S001R04.edf"] == "checksum mismatch"
    assert not rep.runnable["LeftRightImagery"]


def test_check_no_local_copy_and_unknown_name(tmp_path, capsys):
    rep = check_dataset("BNCI2014_001", path=tmp_path)
    assert not rep.complete and "no local copy" in rep.message
    assert main(["datasets", "check", "BNCI2014_001", "--path", str(tmp_path)]) == 1
    assert main(["datasets", "check", "nosuchdataset"]) == 2
    err = capsys.readouterr().err
    assert "'name'" in err and "nosuchdataset" in err and "PhysionetMI" in err
    assert main(["datasets", "check", "simulated"]) == 0
    with pytest.raises(ValueError, match="'subjects'.*1 to 109.*got 200"):
        check_dataset("PhysionetMI", path=tmp_path, subjects=[200])


def test_check_glob_layout(tmp_path):
    rep = check_dataset("NSD", path=tmp_path)
    assert not rep.complete and "no local copy" in rep.message
    d = tmp_path / "nsd" / "nsddata" / "experiments" / "nsd"
    d.mkdir(parents=True)
    (d / "nsd_expdesign.mat").write_bytes(b"x")
    rep = check_dataset("NSD", path=tmp_path)
    assert rep.runnable["trial to image mapping (every analysis)"]
    assert not rep.runnable["category labels"]


def test_list_shows_local_presence(shared_data, tmp_path, capsys):
    _copy_physionet_subject1(shared_data, tmp_path)
    assert main(["datasets", "list", "--path", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    row = next(line for line in out if line.startswith("PhysionetMI"))
    assert "1 subject(s)" in row and "ODC-By" in row
    assert "absent" in next(line for line in out if line.startswith("BNCI2014_001"))
    assert "generated" in next(line for line in out if line.startswith("SimulatedMotorImagery"))
