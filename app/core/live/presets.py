"""Presets: named sets of live settings, saved as JSON files.

A preset holds only the settings that make a look (background, model, matte,
overlay, view…), never the ones tied to one machine (camera index, provider,
threads, output folder), so applying one keeps the user's camera and folders.

Built-in presets ship as data (``assets/presets/*.json`` in a source tree,
``app/_data/presets`` inside the wheel); user presets live in a folder that is
passed in (default: the user config folder). A user preset with a built-in's
name shadows it; deleting the user file brings the built-in back.

File format::

    {"format": 1, "name": "Meeting blur", "description": "...", "settings": {"background": "blur:25", ...}}
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from platformdirs import user_config_dir

from app.core.errors import PresetError
from app.core.live.settings import LiveSettings

log = logging.getLogger(__name__)

FORMAT = 1
REPO_PRESETS_DIR = Path(__file__).resolve().parents[3] / "assets" / "presets"
# tied to one machine, not to a look: a preset made on a laptop must not pick a desktop's camera or folder
MACHINE_KEYS = frozenset({"camera_index", "provider", "threads", "output_dir"})
SETTING_KEYS = frozenset(f.name for f in dataclasses.fields(LiveSettings)) - MACHINE_KEYS


def config_dir() -> Path:
    """The one folder for the user's LiveMatte configuration: the app's settings and the presets."""
    return Path(user_config_dir("livematte", appauthor=False))


def default_presets_dir() -> Path:
    return config_dir() / "presets"


def builtin_presets_dir() -> Path:
    """The checked-in presets in a source tree, else the copy inside the wheel."""
    if REPO_PRESETS_DIR.is_dir():
        return REPO_PRESETS_DIR
    return Path(str(resources.files("app") / "_data" / "presets"))


def slug(name: str) -> str:
    """A file-name-safe, case-insensitive key: 'Meeting blur' -> 'meeting-blur'."""
    return re.sub(r"[^a-z0-9]+", "-", name.strip().lower()).strip("-")


@dataclass(frozen=True)
class Preset:
    """A named, partial set of live settings."""

    name: str
    settings: dict[str, Any]
    description: str = ""
    builtin: bool = False
    path: Path | None = field(default=None, compare=False)

    def apply(self, base: LiveSettings) -> LiveSettings:
        """``base`` with this preset's settings on top.

        Raises:
            PresetError: a value the settings reject.
        """
        try:
            return base.replace(**self.settings)
        except (TypeError, ValueError) as exc:
            raise PresetError(f"preset '{self.name}' has a bad value: {exc}", path=_str(self.path)) from exc

    def matches(self, settings: LiveSettings) -> bool:
        """True when applying it would change nothing (the preset is the current look)."""
        try:
            return self.apply(settings) == settings
        except PresetError:
            return False

    @classmethod
    def from_settings(cls, name: str, settings: LiveSettings, description: str = "") -> "Preset":
        """A preset of every look-related setting of ``settings``."""
        data = {k: v for k, v in settings.to_dict().items() if k in SETTING_KEYS}
        return cls(name.strip(), _as_settings_values(data), description)

    def to_json(self) -> dict[str, Any]:
        values = {k: list(v) if isinstance(v, tuple) else v for k, v in self.settings.items()}
        return {"format": FORMAT, "name": self.name, "description": self.description, "settings": values}


def _str(path: Path | None) -> str | None:
    return str(path) if path is not None else None


def _as_settings_values(data: dict[str, Any]) -> dict[str, Any]:
    """JSON lists back to the tuples LiveSettings holds (so equality with settings works)."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}


def read_preset(path: Path, builtin: bool = False) -> Preset:
    """Reads and validates one preset file; unknown setting names are ignored (a newer version wrote them).

    Raises:
        PresetError: unreadable JSON, no name, or a value LiveSettings rejects.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PresetError(f"cannot read preset ({exc})", path=str(path)) from exc
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"].strip():
        raise PresetError("not a preset: needs a 'name' and a 'settings' object", path=str(path))
    values = data.get("settings", {})
    if not isinstance(values, dict):
        raise PresetError("'settings' must be an object", path=str(path))
    ignored = sorted(set(values) - SETTING_KEYS)
    if ignored:
        log.info("%s: ignoring settings %s", path, ", ".join(ignored))
    settings = _as_settings_values({k: v for k, v in values.items() if k in SETTING_KEYS})
    preset = Preset(data["name"].strip(), settings, str(data.get("description", "")), builtin, path)
    preset.apply(LiveSettings())  # validates every value now, not when someone picks it
    return preset


class PresetStore:
    """Built-in presets plus the user's own, in one folder of JSON files."""

    def __init__(self, folder: str | Path | None = None, builtin_dir: str | Path | None = None) -> None:
        self.folder = Path(folder).expanduser() if folder is not None else default_presets_dir()
        self.builtin_dir = Path(builtin_dir) if builtin_dir is not None else builtin_presets_dir()

    def list(self) -> list[Preset]:
        """Built-ins first (in file order), then user presets by name; a user preset replaces a built-in of its name.

        A broken user file is skipped with a warning, so one bad file cannot hide the rest.
        """
        builtins = self._read_folder(self.builtin_dir, builtin=True)
        users = {slug(p.name): p for p in self._read_folder(self.folder, builtin=False)}
        merged = [users.pop(slug(p.name), p) for p in builtins]
        return merged + sorted(users.values(), key=lambda p: p.name.lower())

    def names(self) -> list[str]:
        return [p.name for p in self.list()]

    def get(self, name: str) -> Preset:
        """The preset called ``name`` (case and punctuation do not matter).

        Raises:
            PresetError: no such preset (the message lists the ones there are).
        """
        key = slug(name)
        user_file = self.folder / f"{key}.json"
        if key and user_file.is_file():
            return read_preset(user_file)  # a broken file is an error here: the user asked for it by name
        for preset in self.list():
            if slug(preset.name) == key:
                return preset
        raise PresetError(f"no preset named '{name}'; presets: {', '.join(self.names()) or 'none'}")

    def save(self, preset: Preset, overwrite: bool = False) -> Path:
        """Writes ``preset`` as ``<folder>/<slug>.json`` (atomically) and returns the path.

        Raises:
            PresetError: an empty name, or a file of that name exists and ``overwrite`` is False.
        """
        key = slug(preset.name)
        if not key:
            raise PresetError("a preset needs a name with at least one letter or digit")
        path = self.folder / f"{key}.json"
        if path.exists() and not overwrite:
            raise PresetError(f"a preset named '{preset.name}' exists already", path=str(path))
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(preset.to_json(), indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)  # never leaves a half-written preset under the real name
        return path

    def exists(self, name: str) -> bool:
        """True when a user preset file of this name exists (saving would replace it)."""
        key = slug(name)
        return bool(key) and (self.folder / f"{key}.json").is_file()

    def delete(self, name: str) -> None:
        """Removes the user's preset of this name.

        Raises:
            PresetError: there is no user preset of that name (built-ins cannot be deleted).
        """
        path = self.folder / f"{slug(name)}.json"
        if not path.is_file():
            raise PresetError(f"no user preset named '{name}' (built-in presets cannot be deleted)")
        path.unlink()

    def _read_folder(self, folder: Path, builtin: bool) -> list[Preset]:
        if not folder.is_dir():
            return []
        presets = []
        for path in sorted(folder.glob("*.json")):
            try:
                presets.append(read_preset(path, builtin))
            except PresetError as exc:
                log.warning("skipping preset: %s", exc)
        return presets
