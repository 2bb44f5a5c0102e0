"""Print the apache-beam version pinned in pyproject.toml: the one place the Beam version lives.

The Dockerfile's ``BEAM_VERSION`` build argument (the SDK base image tag) and the pin in
``deploy/requirements.txt`` are both derived from it; tests/test_deploy.py checks they agree::

    $ python deploy/beam_version.py
    2.77.0
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
_PIN = re.compile(r"^apache-beam(?:\[[^\]]*\])?\s*==\s*([0-9][0-9A-Za-z.]*)$")


def beam_version(pyproject: Path = PYPROJECT) -> str:
    """The exact apache-beam pin; every mention of apache-beam in pyproject must agree."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    specs = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        specs.extend(extra)
    pins = {s: _PIN.match(s.replace(" ", "")) for s in specs if re.match(r"^apache-beam\b", s)}
    unpinned = [s for s, m in pins.items() if m is None]
    versions = {m.group(1) for m in pins.values() if m}
    if unpinned or len(versions) != 1:
        raise SystemExit(f"{pyproject}: apache-beam must be pinned with == to one version everywhere "
                         f"(found {sorted(pins)})")
    return versions.pop()


if __name__ == "__main__":
    print(beam_version())
    sys.exit(0)
