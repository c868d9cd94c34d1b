"""The one reader of small files (jenv.safefile.read_small_file): each option against the file kinds
and owners it is there for, each refusal next to the case that passes."""

from __future__ import annotations

import errno
import os
import socket
import threading

import pytest

from jenv.safefile import (FILE_KINDS, FileRefusedError, file_kind, read_private_file, read_regular_file,
                           read_small_file)
from jenv.errors import InvalidInputError, UnsafeFileError


@pytest.fixture
def plain(tmp_path):
    path = tmp_path / "plain"
    path.write_bytes(b"hello\n")
    path.chmod(0o600)
    return path


def test_a_regular_file_is_read_with_its_fstat(plain):
    data, st = read_small_file(str(plain), 100)
    assert data == b"hello\n" and st.st_ino == os.stat(plain).st_ino


def _fifo(tmp_path):
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


def _socket(tmp_path):
    path = tmp_path / "sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    return path


@pytest.mark.parametrize("make, kind", [(_fifo, "a FIFO"), (_socket, None), (lambda t: t, "a directory"),
                                        (lambda t: "/dev/null", "a character device")])
def test_what_is_not_a_regular_file_is_refused_without_blocking(tmp_path, make, kind):
    """A FIFO with no writer would block open() for ever: the reader returns at once (the test has a
    deadline thread as a guard), and names the kind from the one table."""
    path = str(make(tmp_path))
    outcome = []

    def read():
        try:
            read_small_file(path, 100)
        except OSError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=read, daemon=True)
    worker.start()
    worker.join(30)
    assert outcome, "the reader blocked"
    if kind is None:  # a socket cannot be opened at all (ENXIO): an OSError, never a hang
        assert outcome[0].errno == errno.ENXIO
        return
    assert isinstance(outcome[0], FileRefusedError) and outcome[0].reason == "kind"
    assert file_kind(outcome[0].st.st_mode) == kind and kind in FILE_KINDS.values()


def test_links_are_followed_only_when_asked(tmp_path, plain):
    link = tmp_path / "link"
    link.symlink_to(plain)
    assert read_small_file(str(link), 100)[0] == b"hello\n"
    with pytest.raises(OSError) as caught:
        read_small_file(str(link), 100, follow_links=False)
    assert caught.value.errno == errno.ELOOP


def test_the_owner_is_checked_on_what_was_opened(plain):
    assert read_small_file(str(plain), 100, uid=os.getuid())[0] == b"hello\n"
    with pytest.raises(FileRefusedError) as caught:
        read_small_file(str(plain), 100, uid=os.getuid() + 4242)
    assert caught.value.reason == "owner"


def test_a_private_file_must_be_closed_to_others(plain):
    assert read_small_file(str(plain), 100, private=True)[0] == b"hello\n"
    for mode in (0o640, 0o604, 0o620):
        plain.chmod(mode)
        with pytest.raises(FileRefusedError) as caught:
            read_small_file(str(plain), 100, private=True)
        assert caught.value.reason == "mode"


def test_a_missing_file_is_none_only_when_allowed(tmp_path):
    assert read_small_file(str(tmp_path / "none"), 100, missing_ok=True) is None
    with pytest.raises(FileNotFoundError):
        read_small_file(str(tmp_path / "none"), 100)


@pytest.mark.parametrize("size", [0, 99, 100])
def test_up_to_the_limit_is_read(tmp_path, size):
    path = tmp_path / "f"
    path.write_bytes(b"x" * size)
    assert read_small_file(str(path), 100)[0] == b"x" * size


@pytest.mark.parametrize("size", [101, 1 << 20])
def test_beyond_the_limit_is_refused_or_cut_when_only_the_head_is_wanted(tmp_path, size):
    path = tmp_path / "f"
    with open(path, "wb") as handle:
        handle.truncate(size)  # sparse: a "huge" file costs nothing
    with pytest.raises(FileRefusedError) as caught:
        read_small_file(str(path), 100)
    assert caught.value.reason == "size"
    assert read_small_file(str(path), 100, whole=False)[0] == b"\0" * 100
    assert len(read_regular_file(str(path), 100)) == 101  # its callers compare with the limit


def test_the_token_files_rules_give_their_own_messages(tmp_path, plain):
    """read_private_file turns each refusal into a message that names the path and the fix."""
    uid = os.getuid()
    assert read_private_file(str(plain), uid, "token key") == b"hello\n"
    assert read_private_file(str(tmp_path / "none"), uid, "token key") is None
    plain.chmod(0o644)
    with pytest.raises(UnsafeFileError, match="has mode 0644, open to other users"):
        read_private_file(str(plain), uid, "token key")
    with pytest.raises(UnsafeFileError, match="belongs to uid"):
        read_private_file(str(plain), uid + 4242, "token key", private=False)
    plain.chmod(0o600)
    with pytest.raises(InvalidInputError, match="too large for a token"):
        read_private_file(str(plain), uid, "token key", limit=3)
    link = tmp_path / "link"
    link.symlink_to(plain)
    with pytest.raises(UnsafeFileError, match="is a symbolic link"):
        read_private_file(str(link), uid, "token key")
    with pytest.raises(UnsafeFileError, match="is a directory, not a file"):
        read_private_file(str(tmp_path), uid, "token key")
