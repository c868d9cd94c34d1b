"""`jenv args curl` and `jenv args --json`: curl and Python requests with the token, the server checked.

The server is a real HTTPS server on 127.0.0.1 (the ssl module) that requires a client
certificate from the test CA (CERT_REQUIRED), so a JAliEn token certificate is accepted and a
client without one is rejected; its own certificate is checked by the clients against the CA store
jenv names, never skipped (``curl -k`` and ``verify=False`` are what the tools replace).
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import ssl
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import pytest

from support.launcher import HOSTILE, clean_env, run_jenv
from support.pki import TestCA

pytestmark = pytest.mark.slow

CURL = shutil.which("curl")
JENV = f"{sys.executable} -m jenv"


class _Whoami(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        subject = dict(item for rdn in self.connection.getpeercert()["subject"] for item in rdn)
        body = f"hello {subject.get('commonName', '?')}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def https_url(svc, tmp_path) -> Iterator[str]:
    """https://127.0.0.1:<port>/ requiring a client certificate issued by the service's CA."""
    server_cred = svc.world.authority.issue_server()
    cert, key = tmp_path / "server.pem", tmp_path / "server.key"
    server_cred.write(str(cert), str(key))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(capath=str(svc.ca_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Whoami)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def sh(script: str, env) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_curl_with_jenv_args_gets_through_and_without_is_rejected(env, https_url, tmp_path):
    printed = run_jenv(["args", "curl"], env)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.startswith("--cert ") and " --key " in printed.stdout and " --capath " in printed.stdout
    ok = sh(f'curl -sS --fail $({JENV} args curl) {https_url}',
            dict(env, PATH=os.environ["PATH"]))
    assert ok.returncode == 0 and ok.stdout == "hello jdoe\n", ok.stderr
    # the negative twins: no client certificate is refused; the server is verified, not trusted blindly
    no_cert = sh(f'curl -sS --fail --capath {env["X509_CERT_DIR"]} {https_url}', env)
    assert no_cert.returncode != 0 and no_cert.stdout == ""
    stranger = TestCA("/C=ch/O=elsewhere/CN=Unrelated CA").write_bundle(tmp_path / "stranger.pem")
    no_ca = sh(f"curl -sS --fail --cacert {stranger} $({JENV} args curl | sed 's/--capath .*//') {https_url}",
               dict(env, PATH=os.environ["PATH"]))
    assert no_ca.returncode == 60, no_ca.stderr  # curl: peer certificate cannot be authenticated


def test_requests_with_jenv_args_json_gets_through_and_without_is_rejected(env, https_url):
    import requests

    printed = run_jenv(["args", "--json"], env)
    assert printed.returncode == 0, printed.stderr
    args = json.loads(printed.stdout)
    assert set(args) == {"schema", "cert", "key", "capath"} and args["schema"] == "jenv.args/1"
    reply = requests.get(https_url, cert=(args["cert"], args["key"]), verify=args["capath"], timeout=30)
    assert reply.status_code == 200 and reply.text == "hello jdoe\n"
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(https_url, verify=args["capath"], timeout=30)  # no client certificate: refused


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_a_ca_bundle_becomes_cacert_and_cafile(env, svc, https_url, tmp_path):
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(b"".join(p.read_bytes() for p in sorted(Path(svc.ca_dir).glob("*.0"))))
    environ = dict(env, X509_CERT_FILE=str(bundle))
    del environ["X509_CERT_DIR"]
    printed = run_jenv(["args", "curl"], environ)
    assert printed.returncode == 0 and f"--cacert {bundle}" in printed.stdout, printed.stderr
    assert json.loads(run_jenv(["args", "--json"], environ).stdout)["cafile"] == str(bundle)
    ok = subprocess.run(["curl", "-sS", "--fail", *printed.stdout.split(), https_url], capture_output=True,
                        text=True, timeout=60)
    assert ok.returncode == 0 and ok.stdout == "hello jdoe\n", ok.stderr


def test_pem_content_is_copied_to_private_files_that_outlive_jenv(env, https_url, home):
    import requests

    token = Path(env["TMPDIR"])
    uid = os.getuid()
    content = dict(env, JALIEN_TOKEN_CERT=(token / f"tokencert_{uid}.pem").read_text(),
                   JALIEN_TOKEN_KEY=(token / f"tokenkey_{uid}.pem").read_text())
    content.pop("XDG_RUNTIME_DIR")  # no runtime directory: the copies go to ~/.cache/jenv
    for path in token.iterdir():
        path.unlink()
    args = json.loads(run_jenv(["args", "--json"], content).stdout)
    assert Path(args["key"]).parent == home / ".cache" / "jenv" / "jenv-args"
    assert oct(os.stat(args["key"]).st_mode & 0o777) == "0o400"
    assert oct(os.stat(Path(args["key"]).parent).st_mode & 0o777) == "0o700"
    reply = requests.get(https_url, cert=(args["cert"], args["key"]), verify=args["capath"], timeout=30)
    assert reply.status_code == 200


def test_args_needs_a_form_and_no_ca_store_is_said(env, home):
    bare = run_jenv(["args"], env)
    assert bare.returncode == 2 and bare.stdout == "" and bare.stderr.count("\n") == 1
    assert "jenv args curl --config" in bare.stderr
    for mixed in (["args", "--config", "--json"], ["args", "curl", "--config", "--json"]):
        refused = run_jenv(mixed, env)
        assert refused.returncode == 2 and refused.stdout == "" and refused.stderr.count("\n") == 1
    environ = dict(env)
    del environ["X509_CERT_DIR"]
    printed = run_jenv(["args", "curl"], dict(environ, HOME=str(home)))
    assert printed.returncode == 0 and "--capath" not in printed.stdout and "--cacert" not in printed.stdout
    assert "jenv ca-fetch" in printed.stderr


def test_token_with_ca_exports_the_ca_store(env):
    result = sh(f'eval "$({JENV} token --with-ca --shell sh)"; '
                'echo "$X509_CERT_DIR"', dict(env, PATH=os.environ["PATH"]))
    assert result.returncode == 0 and result.stdout == env["X509_CERT_DIR"] + "\n", result.stderr
    plain = run_jenv(["token", "--shell", "sh"], env)
    assert "X509_CERT_DIR" not in plain.stdout


def test_no_token_means_no_options(home):
    result = run_jenv(["args", "curl"], clean_env(home, X509_USER_CERT=str(home / "none.pem")))
    assert result.returncode == 3 and result.stdout == "" and result.stderr.count("\n") == 1


#: Directory names for the token files and the CA store that word splitting, globbing or curl's own
#: option syntax would misread: a space that injects options, quotes, a backslash, a glob, a colon
#: (curl's certificate:password separator), a newline, a leading dash.
HOSTILE_NAMES = {
    "injection": "x -k --trace-ascii TRACE",
    "hostile": HOSTILE,
    "colon": "cert:password",
    "newline": "two\nlines",
    "dash": "--insecure",
    "glob": "[ab]*?",
}


def _hostile_world(env, tmp_path: Path, name: str):
    """``env`` with the token files made in a TMPDIR named ``name``, and the CA store copied to a
    directory named ``name`` (without colons, which OpenSSL reads as a list of directories)."""
    token_dir = tmp_path / "tokens" / name
    token_dir.mkdir(parents=True, mode=0o700)
    ca_dir = tmp_path / "ca" / name.replace(":", "-")
    shutil.copytree(env["X509_CERT_DIR"], ca_dir, symlinks=True)
    environ = dict(env, TMPDIR=str(token_dir), X509_CERT_DIR=str(ca_dir), PATH=os.environ["PATH"])
    made = run_jenv(["token-init"], environ)
    assert made.returncode == 0, made.stderr
    return environ


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
@pytest.mark.parametrize("name", list(HOSTILE_NAMES.values()), ids=list(HOSTILE_NAMES))
def test_the_documented_config_form_carries_every_path(env, https_url, tmp_path, name):
    """README: jenv args curl --config | curl -K - URL, and curl -K <(jenv args curl --config) URL."""
    environ = _hostile_world(env, tmp_path, name)
    work = tmp_path / "work"
    work.mkdir()
    piped = subprocess.run(["sh", "-c", f'{JENV} args curl --config | curl -sS --fail -K - "$0"', https_url],
                           env=environ, capture_output=True, text=True, timeout=60, cwd=work)
    assert piped.returncode == 0 and piped.stdout == "hello jdoe\n", piped.stderr
    substituted = subprocess.run(["bash", "-c", f'curl -sS --fail -K <({JENV} args curl --config) "$0"', https_url],
                                 env=environ, capture_output=True, text=True, timeout=60, cwd=work)
    assert substituted.returncode == 0 and substituted.stdout == "hello jdoe\n", substituted.stderr
    assert list(work.iterdir()) == []  # no --trace-ascii file: nothing was injected
    # the server is still checked: the same config with a stranger's CA in place of the store fails
    stranger = TestCA("/C=ch/O=elsewhere/CN=Unrelated CA").write_bundle(tmp_path / "stranger.pem")
    refused = subprocess.run(["sh", "-c", f'{JENV} args curl --config | grep -v capath | '
                              f'curl -sS --fail --cacert "$1" -K - "$0"', https_url, str(stranger)],
                             env=environ, capture_output=True, text=True, timeout=60, cwd=work)
    assert refused.returncode == 60, refused.stderr


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_the_split_form_carries_plain_paths_and_a_dash_inside_one(env, https_url, tmp_path):
    """Every path is absolute, so a name starting with '-' inside it never starts a word."""
    environ = _hostile_world(env, tmp_path, HOSTILE_NAMES["dash"] + "-é,@%+=~")
    ok = subprocess.run(["sh", "-c", f'curl -sS --fail $({JENV} args curl) "$0"', https_url], env=environ,
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and ok.stdout == "hello jdoe\n", ok.stderr


@pytest.mark.parametrize("name", [v for k, v in HOSTILE_NAMES.items() if k != "dash"],
                         ids=[k for k in HOSTILE_NAMES if k != "dash"])
def test_the_split_form_refuses_a_path_it_cannot_carry(env, tmp_path, name):
    environ = _hostile_world(env, tmp_path, name)
    result = run_jenv(["args", "curl"], environ)
    assert result.returncode == 4 and result.stdout == "", result.stderr
    assert result.stderr.startswith("jenv: ") and result.stderr.count("\n") == 1
    assert "jenv args curl --config | curl -K - " in result.stderr


def test_a_ca_directory_with_a_colon_is_refused_in_every_curl_form(env, tmp_path):
    """OpenSSL reads a colon in curl's --capath as a separator between directories, with no escape."""
    ca_dir = tmp_path / "ca:dir"
    shutil.copytree(env["X509_CERT_DIR"], ca_dir, symlinks=True)
    for form in (["args", "curl"], ["args", "curl", "--config"]):
        result = run_jenv(form, dict(env, X509_CERT_DIR=str(ca_dir)))
        assert result.returncode == 4 and result.stdout == "" and result.stderr.count("\n") == 1, result.stderr
        assert "':'" in result.stderr and "X509_CERT_DIR" in result.stderr
    assert json.loads(run_jenv(["args", "--json"], dict(env, X509_CERT_DIR=str(ca_dir))).stdout)["capath"] == \
        str(ca_dir)  # Python's ssl takes the directory as it is
