#!/bin/sh
# Try jenv on a fresh machine, with nothing but the system's python3: a virtual environment in
# .venv (created here, nothing else is touched), jenv installed into it, then the main job inside
# a throwaway sandbox: a local CA, user and JCentral-compatible service, no grid certificate and
# no network beyond the package downloads.  Safe to run twice.
set -eu
cd "$(dirname "$0")"
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    if ! "$python" -m venv .venv >/dev/null 2>&1; then
        # Debian and Ubuntu ship venv without ensurepip (package python3-venv): make the environment
        # without pip, then run pip's own wheel from PyPI to install pip into it.
        rm -rf .venv
        "$python" -m venv --without-pip .venv
        .venv/bin/python - <<'PY'
import json, os, subprocess, sys, tempfile, urllib.parse, urllib.request
index = "https://pypi.org/pypi/pip/json"
meta = json.load(urllib.request.urlopen(index, timeout=60))
wheel = next(f for f in meta["urls"] if f["filename"].endswith(".whl"))
path = os.path.join(tempfile.mkdtemp(), wheel["filename"])
urllib.request.urlretrieve(urllib.parse.urljoin(index, wheel["url"]), path)
sys.exit(subprocess.call([sys.executable, os.path.join(path, "pip"), "install", "--quiet", path]))
PY
    fi
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check .
exec .venv/bin/jenv sandbox -- sh -c 'eval "$(jenv token)" && jenv token-info'
