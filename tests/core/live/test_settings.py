from __future__ import annotations

import json

import pytest

from app.core.live.settings import LiveSettings


def test_round_trip_through_json():
    settings = LiveSettings(model="meet", ratio=0.25, overlay_classes=(1, 10), background="#00ff00")
    back = LiveSettings.from_dict(json.loads(json.dumps(settings.to_dict())))
    assert back == settings


def test_invalid_values_are_refused_and_dropped_on_load():
    with pytest.raises(ValueError):
        LiveSettings(threshold=3)
    loaded = LiveSettings.from_dict({"threshold": 3, "model": "selfie", "unknown": 1})
    assert loaded.model == "selfie" and loaded.threshold == 0.5


def test_replace_makes_a_new_snapshot():
    a = LiveSettings()
    b = a.replace(feather=4)
    assert a.feather == 0 and b.feather == 4
