"""The Dockerfile and compose.yaml name what introbot has: real commands, real settings, the
health endpoint. (The image itself is not built here; .ci/run runs its steps without Docker.)"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import yaml

from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def _dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text(encoding="utf-8")


def test_image_runs_introbot_serve_as_a_non_root_user_with_a_healthcheck() -> None:
    dockerfile = _dockerfile()
    assert dockerfile.count("FROM ") >= 2  # multi-stage: the build tools stay out of the image
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.M)
    assert 'CMD ["introbot", "serve"' in dockerfile
    healthcheck = re.search(r"^HEALTHCHECK .*?CMD (.+)$", dockerfile, re.M | re.S)
    assert healthcheck and "/healthz" in healthcheck.group(1)


def test_image_builds_from_files_that_exist() -> None:
    for line in _dockerfile().splitlines():
        if line.startswith("COPY") and "--from" not in line:
            *sources, _destination = shlex.split(line)[1:]
            for source in sources:
                assert (ROOT / source).exists(), source


def test_compose_sets_only_real_settings_and_migrates_before_serving() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    known = set(Settings.model_fields)
    for name in ("migrate", "introbot"):
        assert set(services[name]["environment"]) <= known, name
    assert services["migrate"]["command"] == ["introbot", "migrate"]
    assert services["introbot"]["depends_on"]["migrate"] == {
        "condition": "service_completed_successfully"
    }
    assert services["migrate"]["depends_on"]["db"] == {"condition": "service_healthy"}


def test_the_wheel_lists_every_package_of_the_code() -> None:
    """setuptools ships only the packages pyproject names: one left out is missing from the
    image, and only the installed wheel finds out."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(project["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("bot", "handlers", "storage")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert found <= listed, sorted(found - listed)
