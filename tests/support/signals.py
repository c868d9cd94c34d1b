"""The default actions of SIGHUP, SIGINT and SIGQUIT, put back at import (tests/conftest.py imports this;
so does ``-p support.signals``).

The tests send those signals to jenv and to the commands it runs, and expect their default actions.  A
suite started under ``nohup``, or as a background job of a non-interactive shell, inherits them ignored,
and every process it starts would too (an ignored signal survives exec).  Importing this module, in the
pytest controller and in each pytest-xdist worker before any process starts, undoes that.
"""

from __future__ import annotations

import signal

__all__ = ["default_signal_actions"]


def default_signal_actions() -> None:
    """SIGHUP and SIGQUIT to SIG_DFL, SIGINT to Python's KeyboardInterrupt, where they are ignored."""
    for signum, action in ((signal.SIGHUP, signal.SIG_DFL), (signal.SIGQUIT, signal.SIG_DFL),
                           (signal.SIGINT, signal.default_int_handler)):
        if signal.getsignal(signum) is signal.SIG_IGN:
            signal.signal(signum, action)


default_signal_actions()
