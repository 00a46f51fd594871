"""The database's own refusal to change or delete a closing event.

On PostgreSQL a trigger refuses UPDATE and DELETE outright (the test runner's
flush uses TRUNCATE, which row triggers do not see). SQLite has no TRUNCATE,
so its triggers ask `closings_guarded()`, a function this app registers on
every connection: it answers 1 unless the guards are deliberately lifted,
which only the test runner's flush does. Outside the app (the sqlite3 shell)
the function does not exist, and the trigger fails, which refuses the change
just the same.
"""

from contextlib import contextmanager
from contextvars import ContextVar

_lifted = ContextVar("closings_guards_lifted", default=False)


def _guarded() -> int:
    return 0 if _lifted.get() else 1


def install(connection) -> None:
    connection.connection.create_function("closings_guarded", 0, _guarded, deterministic=False)


@contextmanager
def lifted():
    token = _lifted.set(True)
    try:
        yield
    finally:
        _lifted.reset(token)
