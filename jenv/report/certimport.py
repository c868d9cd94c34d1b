"""What ``jenv cert-import`` says it wrote: JSON and lines for people."""

from __future__ import annotations

from typing import Any, Dict, List

from jenv.lite.schema import document
from jenv.lite.timefmt import iso_epoch, short_duration
from jenv.pem import CertInfo
from jenv.tokens.usercert import Imported

__all__ = ["import_dict", "import_lines"]


def import_dict(done: Imported, info: CertInfo, now: float) -> Dict[str, Any]:
    """``jenv cert-import --json``: the files written, the copies kept, the certificate's subject and end."""
    not_after = int(info.not_after.timestamp())
    return document("cert-import", {"cert": done.cert_path, "key": done.key_path, "key_encrypted": done.encrypted,
                                    "backups": list(done.backups), "subject": info.subject,
                                    "not_after": iso_epoch(not_after), "seconds_left": int(not_after - now)})


def import_lines(done: Imported, info: CertInfo, now: float) -> List[str]:
    """The human form of :func:`import_dict`."""
    not_after = int(info.not_after.timestamp())
    left = int(not_after - now)
    expires = f"{iso_epoch(not_after)} (in {short_duration(left)})" if left > 0 else \
        f"{iso_epoch(not_after)} (EXPIRED {short_duration(-left)} ago)"
    lines = [f"wrote {done.cert_path} (mode 0644)",
             f"wrote {done.key_path} (mode 0400, " + ("encrypted with your new passphrase)" if done.encrypted
                                                     else "NOT encrypted)")]
    lines += [f"kept the old file as {backup}" for backup in done.backups]
    return lines + [f"subject  {info.subject}", f"expires  {expires}"]
