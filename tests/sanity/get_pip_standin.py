"""Stand-in for get-pip.py: bootstrap pip from this interpreter's bundled wheel.

ansible-test runs ``python get_pip_24_2.py <pip options> pip==24.2 setuptools==...``
to seed its virtual environments; the real script is downloaded from a host
that is not reachable here. ensurepip carries a pip wheel with every CPython;
the requested packages are then installed with that pip, as get-pip would.
"""

import ensurepip
import os
import subprocess
import sys

if __name__ == "__main__":
    # --no-setuptools / --no-wheel are get-pip's own options, not pip's
    args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
    env = dict(os.environ)
    ensurepip.bootstrap(upgrade=True, default_pip=True)
    if args:
        # ensurepip points PIP_CONFIG_FILE at /dev/null in this process; the
        # install that follows must see the machine's pip configuration.
        sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", *args], env=env))
