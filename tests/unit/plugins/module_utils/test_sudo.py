"""The sudo discovery rules shared by the sudo_info module and the sudo gate."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from ansible_collections.opsdeck.tmux.plugins.module_utils._sudo import discover, validity_seconds

ROOT_VERSION = "Sudo version 1.9.13p3\nAuthentication timestamp timeout: 15.0 minutes\nType of authentication timestamp record: tty\n"
USER_LIST = "Matching Defaults entries for deploy on web1:\n    timestamp_type=tty, timestamp_timeout=5\n\nUser deploy may run:\n    (ALL) NOPASSWD: ALL\n"


def test_root_reads_sudo_v() -> None:
    facts = discover(ROOT_VERSION, None, is_root=True)
    assert (facts["timeout_minutes"], facts["timeout_reason"]) == (15.0, "sudo -V")
    assert (facts["timestamp_type"], facts["timestamp_type_reason"]) == ("tty", "sudo -V")
    assert facts["version"] == "1.9.13p3"


def test_user_reads_matching_defaults() -> None:
    facts = discover("Sudo version 1.9.13p3\n", USER_LIST, is_root=False)
    assert (facts["timeout_minutes"], facts["timeout_reason"]) == (5.0, "sudo -l (matching Defaults)")
    assert facts["timestamp_type"] == "tty"
    assert facts["nopasswd"] is True


def test_user_without_listing_gets_null_with_a_reason() -> None:
    facts = discover("Sudo version 1.9.13p3\n", None, is_root=False)
    assert facts["timeout_minutes"] is None and facts["timestamp_type"] is None and facts["nopasswd"] is None
    assert "only to root" in facts["timeout_reason"] and "needs a password" in facts["timeout_reason"]


def test_validity_seconds() -> None:
    assert (validity_seconds(15.0), validity_seconds(0.1), validity_seconds(None), validity_seconds(-1)) == (900, 6, None, None)


def test_real_sudo_v_as_this_user() -> None:
    sudo = shutil.which("sudo")
    if not sudo:
        pytest.fail("sudo is required (apt-get install sudo)", pytrace=False)
    out = subprocess.run([sudo, "-V"], capture_output=True, text=True, check=False).stdout
    facts = discover(out, None, is_root=True)
    # the tests run as root, to whom sudo reveals both values
    assert isinstance(facts["timeout_minutes"], float)
    assert facts["timestamp_type"] in ("tty", "ppid", "global", "kernel")
