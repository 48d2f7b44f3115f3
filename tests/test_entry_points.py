"""solverhub._entry_points finds what importlib.metadata finds (names, values, distributions and
their versions, in the same order; the first distribution of a name wins), without its import."""
import importlib.metadata as md
import sys

import pytest

from solverhub import _entry_points as ep


def _rows(eps):
    return [(e.name, e.value, e.group, e.dist.name, e.dist.version) for e in eps]


@pytest.mark.parametrize("group", ["solverhub", "console_scripts", "no-such-group"])
def test_same_entry_points_as_importlib_metadata(group):
    assert _rows(ep.entry_points(group)) == _rows(md.entry_points(group=group))


def _dist(root, folder, name, version, text):
    info = root / folder
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nbody: x\n")
    (info / "entry_points.txt").write_text(text)


def test_a_folder_on_sys_path_first_distribution_of_a_name_wins(tmp_path, monkeypatch):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    _dist(first, "demo_pkg-1.0.dist-info", "demo-pkg", "1.0",
          "# comment\n[solverhub]\ndemo = json:dumps\nother = os.path : join [extra]\n[console_scripts]\nx = y\n")
    _dist(second, "Demo.Pkg-2.0.dist-info", "Demo.Pkg", "2.0", "[solverhub]\nshadowed = json\n")
    _dist(second, "later-3.dist-info", "later", "3", "[solverhub]\nlater = json\n")
    monkeypatch.setattr(sys, "path", [str(first), str(second), *sys.path])
    ours = _rows(ep.entry_points("solverhub"))
    assert ours == _rows(md.entry_points(group="solverhub"))
    assert ("demo", "json:dumps", "solverhub", "demo-pkg", "1.0") in ours
    assert "shadowed" not in {row[0] for row in ours} and "later" in {row[0] for row in ours}
    loaded = {e.name: e.load() for e in ep.entry_points("solverhub") if e.name in ("demo", "other", "later")}
    import json
    import os.path
    assert loaded == {"demo": json.dumps, "other": os.path.join, "later": json}
    assert ep.distribution_version("Demo_Pkg") == "1.0" and ep.distribution_version("no-such-dist") is None


def test_a_zip_on_sys_path_defers_to_importlib_metadata(tmp_path, monkeypatch):
    archive = tmp_path / "deps.zip"
    archive.write_bytes(b"PK\x05\x06" + b"\0" * 18)           # an empty zip file
    monkeypatch.setattr(sys, "path", [*sys.path, str(archive)])
    assert not ep._fast_path_ok()
    assert _rows(ep.entry_points("solverhub")) == _rows(md.entry_points(group="solverhub"))
