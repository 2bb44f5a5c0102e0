"""Print the apache-beam version pinned in pyproject.toml: the one place the Beam version lives.

The Dockerfile's ``BEAM_VERSION`` build argument (the SDK base image tag) and the pin in
``deploy/requirements.txt`` are both derived from it; tests/test_deploy.py checks they agree::

    $ python deploy/beam_version.py
    2.77.0
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def beam_version(pyproject: Path = PYPROJECT) -> str:
    """The exact apache-beam pin. It must be written once; other mentions (the gcp extra's
    ``apache-beam[gcp]``) carry no version and so get this one."""
    from packaging.requirements import Requirement

    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    specs = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        specs.extend(extra)
    beams = [Requirement(s) for s in specs if Requirement(s).name == "apache-beam"]
    pinned = [r for r in beams if r.specifier]
    exact = [
        spec.version
        for r in pinned
        for spec in r.specifier
        if spec.operator == "==" and len(r.specifier) == 1
    ]
    if len(pinned) != 1 or len(exact) != 1:
        raise SystemExit(
            f"{pyproject}: apache-beam must be pinned exactly once, as apache-beam==X.Y.Z, and "
            f"named without a version elsewhere (found {[str(r) for r in beams]})"
        )
    return exact[0]


if __name__ == "__main__":
    print(beam_version())
    sys.exit(0)
