"""Campaign tests run on a home whose landing folder is allowed, as it is by default: the instance's landing
and logs folders sit there, where the CDP's destination and source reach them."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.settings import Settings


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"allowed_roots": [tmp_path, settings.landing]})
