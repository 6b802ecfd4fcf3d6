"""The role's molecule scenario on a real Docker engine, for Debian 12 and Debian 13.

The images are built here (tests/images/build.sh: debootstrap + docker import),
because no container registry is reachable. No Docker engine: the test fails
and says so.
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import pytest
from conftest import REPO, ansible_env

ROLE = REPO / "roles" / "ops_host"


def docker_engine() -> None:
    proc = subprocess.run(["docker", "info"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.fail(
            "no Docker engine is reachable, so the molecule scenario cannot run: install docker.io and start dockerd "
            f"(.ci/run does both). docker info said: {proc.stderr.strip()[-300:]}",
            pytrace=False,
        )


@pytest.mark.parametrize("distro", ["12", "13"])
def test_molecule_default_scenario(distro: str, user_path: pathlib.Path) -> None:
    docker_engine()
    build = subprocess.run(["bash", str(REPO / "tests" / "images" / "build.sh"), distro], capture_output=True, text=True, timeout=1200, check=False)
    assert build.returncode == 0, f"building opsdeck/debian:{distro} failed:\n{build.stdout}\n{build.stderr}"
    env = ansible_env(user_path, MOLECULE_DISTRO=distro, ANSIBLE_FORCE_COLOR="0", PY_COLORS="0", NO_COLOR="1")
    molecule = os.path.join(os.path.dirname(sys.executable), "molecule")
    proc = subprocess.run([molecule, "test"], cwd=ROLE, env=env, capture_output=True, text=True, timeout=1500, check=False)
    out = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
    assert proc.returncode == 0, f"molecule test (Debian {distro}) failed:\n{out[-8000:]}"
    recaps = re.findall(rf"opsdeck-debian{distro}\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=0\s+failed=0", out)
    # converge, idempotence (nothing changed), verify
    assert len(recaps) == 3, out[-4000:]
    assert int(recaps[0][1]) > 0 and recaps[1][1] == "0", recaps
