from __future__ import annotations

from app.core.models.base import ADAPTERS
from app.core.models.manifest import default_model, load_manifest


def test_every_entry_is_complete_and_has_an_adapter():
    manifest = load_manifest()
    assert {"rvm", "selfie", "meet"} <= set(manifest)
    for spec in manifest.values():
        assert spec.files and spec.inputs and spec.outputs and spec.licence
        if spec.task == "matting":
            assert spec.adapter in ADAPTERS


def test_rvm_is_the_default_and_carries_its_licence():
    assert default_model("matting") == "rvm"
    assert load_manifest()["rvm"].licence == "GPL-3.0"
