"""The atomic replace of a pair and of a directory (jenv.safefile): complete or untouched, never mixed,
no temporaries left, each file with its final mode."""

from __future__ import annotations

import os
import stat

import pytest

import jenv.safefile.write as home_writer
from jenv.safefile import leftover_files, replace_directory, replace_pair


def _mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _pair(tmp_path, key=b"old key\n", cert=b"old cert\n"):
    key_path, cert_path = tmp_path / "key.pem", tmp_path / "cert.pem"
    if key is not None:
        key_path.write_bytes(key)
        key_path.chmod(0o400)
    if cert is not None:
        cert_path.write_bytes(cert)
    return str(key_path), str(cert_path)


@pytest.mark.parametrize("existing", [True, False])
def test_a_pair_is_put_in_place_with_its_modes(tmp_path, existing):
    key, cert = _pair(tmp_path) if existing else _pair(tmp_path, None, None)
    replace_pair((key, b"new key\n", 0o400), (cert, b"new cert\n", 0o644), umask=0o022)
    assert open(key, "rb").read() == b"new key\n" and open(cert, "rb").read() == b"new cert\n"
    assert (_mode(key), _mode(cert)) == (0o400, 0o644)
    assert sorted(os.listdir(tmp_path)) == ["cert.pem", "key.pem"]


def test_copies_keep_the_old_pair_with_its_modes(tmp_path):
    key, cert = _pair(tmp_path)
    made = replace_pair((key, b"new key\n", 0o400), (cert, b"new cert\n", 0o644), 0o022,
                        (key + ".old", cert + ".old"))
    assert made == [key + ".old", cert + ".old"]
    assert open(key + ".old", "rb").read() == b"old key\n" and _mode(key + ".old") == 0o400
    assert open(cert + ".old", "rb").read() == b"old cert\n"


def test_a_failed_second_rename_puts_the_first_file_back(tmp_path, monkeypatch):
    """The pair is never mixed: the new first file is undone when the second cannot follow."""
    key, cert = _pair(tmp_path)
    real = os.replace

    def second_fails(src, dst):
        if str(dst) == cert:
            raise OSError(28, "No space left on device", dst)
        real(src, dst)

    monkeypatch.setattr(home_writer.os, "replace", second_fails)
    with pytest.raises(OSError, match="No space left"):
        replace_pair((key, b"new key\n", 0o400), (cert, b"new cert\n", 0o644))
    monkeypatch.undo()
    assert open(key, "rb").read() == b"old key\n" and open(cert, "rb").read() == b"old cert\n"
    assert sorted(os.listdir(tmp_path)) == ["cert.pem", "key.pem"]
    assert leftover_files(key, os.getuid()) == [] and leftover_files(cert, os.getuid()) == []


def test_a_failed_write_leaves_the_old_pair_and_no_temporary(tmp_path, monkeypatch):
    key, cert = _pair(tmp_path)
    real = home_writer.create_new_file
    calls = []

    def second_write_fails(path, data, mode, sync=False):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(122, "Disk quota exceeded", path)
        real(path, data, mode, sync)

    monkeypatch.setattr(home_writer, "create_new_file", second_write_fails)
    with pytest.raises(OSError, match="quota"):
        replace_pair((key, b"new key\n", 0o400), (cert, b"new cert\n", 0o644))
    assert open(key, "rb").read() == b"old key\n" and sorted(os.listdir(tmp_path)) == ["cert.pem", "key.pem"]


def test_a_directory_is_replaced_whole(tmp_path):
    target = tmp_path / "ca"
    assert replace_directory(str(target), {"a.pem": b"A"}, {"hash.0": "a.pem"}) is False
    assert replace_directory(str(target), {"b.pem": b"B"}, {"hash.1": "b.pem"}) is True
    assert sorted(os.listdir(target)) == ["b.pem", "hash.1"] and os.readlink(target / "hash.1") == "b.pem"
    assert _mode(target) == 0o755 and _mode(target / "b.pem") == 0o644
    assert sorted(os.listdir(tmp_path)) == ["ca"]  # neither the new one's build name nor the old one is left
