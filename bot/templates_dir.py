"""Where templates/ is: every word a user reads, for rendering and for the domain's checks
(templates/validation.json) alike, so neither layer reaches into the other to find it."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path


def _templates_dir() -> Path:
    """A wheel ships the repository's templates/ as bot.rendering.templates; an editable
    install or a source checkout reads templates/ where it stands."""
    spec = find_spec("bot.rendering.templates")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(__file__).resolve().parents[1] / "templates"


TEMPLATES_DIR = _templates_dir()
