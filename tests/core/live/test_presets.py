from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from app.core.errors import PresetError, SettingsError
from app.core.live.settings import LiveSettings
from app.core.live.presets import MACHINE_KEYS, Preset, PresetStore, builtin_presets_dir, default_presets_dir, slug

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def store(tmp_path) -> PresetStore:
    return PresetStore(tmp_path / "presets")


def test_builtins_ship_and_apply_cleanly(store):
    names = store.names()
    assert names[:3] == ["Meeting blur", "Green screen", "Transparent for OBS"]
    for preset in store.list():
        assert preset.builtin and preset.description
        assert not set(preset.settings) & MACHINE_KEYS
        preset.apply(LiveSettings())  # every shipped value is valid
    assert store.get("Green screen").apply(LiveSettings()).background == "#00b140"
    assert store.get("transparent for obs").apply(LiveSettings()).background == "transparent"


def test_applying_keeps_machine_settings(store):
    mine = LiveSettings(camera_index=2, provider="cuda", threads=3, output_dir="/data/snaps", background="red")
    applied = store.get("Meeting blur").apply(mine)
    assert (applied.camera_index, applied.provider, applied.threads, applied.output_dir) == (2, "cuda", 3, "/data/snaps")
    assert applied.background == "blur:25"


def test_save_and_load_round_trip(store):
    settings = LiveSettings(background="#123456", feather=4, overlay_classes=(1, 10), camera_index=3, threshold_enabled=True)
    path = store.save(Preset.from_settings("  My look ", settings, "evening"))
    assert path == store.folder / "my-look.json"
    data = json.loads(path.read_text())
    assert data["format"] == 1 and data["name"] == "My look" and "camera_index" not in data["settings"]
    loaded = store.get("MY LOOK")
    assert not loaded.builtin and loaded.description == "evening"
    assert loaded.apply(LiveSettings()) == settings.replace(camera_index=0)
    assert loaded.matches(settings) and not loaded.matches(LiveSettings())
    assert store.names()[-1] == "My look"  # user presets after the built-ins


def test_save_refuses_to_overwrite_unless_asked(store):
    store.save(Preset.from_settings("Mine", LiveSettings(feather=1)))
    with pytest.raises(PresetError, match="exists"):
        store.save(Preset.from_settings("mine", LiveSettings(feather=2)))
    store.save(Preset.from_settings("mine", LiveSettings(feather=2)), overwrite=True)
    assert store.get("Mine").settings["feather"] == 2
    assert not list(store.folder.glob("*.tmp"))


def test_user_preset_shadows_builtin_and_delete_restores_it(store):
    store.save(Preset.from_settings("Green screen", LiveSettings(background="#0000ff")))
    assert store.names().count("Green screen") == 1
    assert store.get("Green screen").settings["background"] == "#0000ff"
    store.delete("Green screen")
    assert store.get("Green screen").builtin
    with pytest.raises(PresetError, match="built-in"):
        store.delete("Green screen")


def test_unknown_preset_lists_the_known_ones(store):
    with pytest.raises(PresetError, match="Meeting blur") as info:
        store.get("Disco")
    assert isinstance(info.value, SettingsError) and info.value.exit_code == 24


def test_bad_values_are_rejected_with_the_file(store):
    store.folder.mkdir(parents=True)
    bad = store.folder / "bad.json"
    bad.write_text(json.dumps({"name": "Bad", "settings": {"smoothing": 5}}))
    with pytest.raises(PresetError, match="smoothing") as info:
        store.get("bad")
    assert str(bad) in str(info.value)
    assert "Bad" not in store.names()  # listing skips it; the others still show


@pytest.mark.parametrize("text", ["{not json", "[]", '{"settings": {}}', '{"name": "x", "settings": 3}'])
def test_broken_files_are_preset_errors(store, text):
    store.folder.mkdir(parents=True)
    (store.folder / "x.json").write_text(text)
    with pytest.raises(PresetError):
        store.get("x")


def test_unknown_keys_from_a_newer_version_are_ignored(store):
    store.folder.mkdir(parents=True)
    (store.folder / "new.json").write_text(json.dumps({"name": "New", "settings": {"feather": 3, "hologram": True}}))
    assert store.get("New").settings == {"feather": 3}


def test_empty_name_is_rejected(store):
    with pytest.raises(PresetError, match="name"):
        store.save(Preset.from_settings(" !! ", LiveSettings()))


def test_default_folder_is_the_user_config_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert default_presets_dir() == tmp_path / "cfg" / "livematte" / "presets"
    assert PresetStore().folder == default_presets_dir()


def test_slug():
    assert slug("Transparent for OBS!") == "transparent-for-obs"


def test_builtins_are_packaged_in_the_wheel():
    assert builtin_presets_dir() == ROOT / "assets" / "presets"
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    force = config["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert force["assets/presets"] == "app/_data/presets"
