"""The session engine: Django's database sessions, each read with one written-out query.

Every page and every call socket reads its session before anything else, and
after a server restart every call reconnects at once. Through the ORM that
read cost about 400 µs of CPU here (building and compiling the query, then the
model), against 90 µs for the same SELECT and the decoding; the rest of the
store (saving, cycling keys, `clearsessions`) is Django's, unchanged, on the
same table and in the same format.
"""

from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone


class SessionStore(db.SessionStore):
    def load(self):
        """The session's data, or {} (and no key) when it is unknown or expired, as Django's."""
        connection = connections[router.db_for_read(self.model)]
        table = connection.ops.quote_name(self.model._meta.db_table)
        sql = f"SELECT session_data FROM {table} WHERE session_key = %s AND expire_date > %s"  # noqa: S608
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(sql, [self.session_key, now])
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return {}
        return self.decode(row[0])
