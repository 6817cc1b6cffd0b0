"""Harness for faxd's black-box end-to-end tests.

Starts real `faxd` processes on 127.0.0.1 with a temporary data dir, runs `faxctl`
against the same data dir, and talks HTTP to the server with http.client only.

Environment (set by CTest; defaults point into the source tree for hand runs):
  FAXD_BIN        path to faxd        (default <repo>/build/src/faxd)
  FAXCTL_BIN      path to faxctl      (default <repo>/build/tools/faxctl)
  FAXD_TEST_DATA  tests/data          (default <repo>/tests/data)
  FAXD_SOURCE_DIR repository root     (default: derived from this file)
  FAXD_E2E_KEEP=1 keeps the temp dirs (data dir and faxd's stderr) after the run.
  FAXD_TEST_STORE a PostgreSQL server's base URI (postgresql://user@host:port), or
  FAXD_TEST_PG_DIR the directory of one started by tests/pg/pgctl.sh (URI in DIR/url):
                  then each Faxd gets its own database there, created and dropped
                  (Faxd(share_store=other): other's database, as nodes of one cluster).

Standard library only (Debian python3 3.11).
"""

import hashlib
import http.client
import json
import mimetypes
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("FAXD_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
FAXD_BIN = os.environ.get("FAXD_BIN") or os.path.join(SOURCE_DIR, "build", "src", "faxd")
FAXCTL_BIN = os.environ.get("FAXCTL_BIN") or os.path.join(SOURCE_DIR, "build", "tools", "faxctl")
TEST_DATA = os.environ.get("FAXD_TEST_DATA") or os.path.join(SOURCE_DIR, "tests", "data")
FIXTURES = os.path.join(TEST_DATA, "fixtures")

BASE = "/v3"


def _pg_base():
    uri = os.environ.get("FAXD_TEST_STORE", "")
    pgdir = os.environ.get("FAXD_TEST_PG_DIR", "")
    if not uri and pgdir:
        with open(os.path.join(pgdir, "url")) as f:
            uri = f.read().strip()
    return uri.rstrip("/") or None


PG_BASE = _pg_base()  # None: SQLite in the data dir
JSON_CT = "application/json; charset=utf-8"
HEX32 = re.compile(r"^[0-9a-f]{32}$")
TRANSIENT = re.compile(r"^/transient-[0-9a-f]{32}$")
TS = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
TS_EXACT = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
E164 = re.compile(r"^[+][0-9]{8,}$")


def fixture(name):
    return os.path.join(FIXTURES, name)


def fixture_bytes(name):
    with open(fixture(name), "rb") as f:
        return f.read()


def fixture_names():
    """Every fixture document (MANIFEST.md excluded), sorted."""
    return sorted(n for n in os.listdir(FIXTURES) if n != "MANIFEST.md")


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --------------------------------------------------------------------------------------
# HTTP


class Resp:
    """An HTTP answer. Unpacks as (status, headers, body)."""

    def __init__(self, status, headers, body, method="", path=""):
        self.status = status
        self.headers = headers  # http.client.HTTPMessage (case-insensitive get)
        self.body = body
        self.method = method
        self.path = path

    def __iter__(self):
        return iter((self.status, self.headers, self.body))

    def header(self, name, default=None):
        return self.headers.get(name, default)

    @property
    def ctype(self):
        return self.headers.get("Content-Type", "")

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except Exception as e:  # noqa: BLE001
            raise AssertionError("%s %s: body is not JSON (%s): %r" % (
                self.method, self.path, e, self.body[:300]))

    def __repr__(self):
        return "<%s %s -> %d %s %r>" % (self.method, self.path, self.status, self.ctype,
                                        self.body[:300])


class ConnectionClosed(Exception):
    """The server closed the connection without an HTTP answer."""


def build_path(path, query=None, prefix=BASE):
    if prefix and not (path == prefix or path.startswith(prefix + "/")):
        path = prefix + path
    if query:
        if isinstance(query, str):
            qs = query
        else:
            qs = urllib.parse.urlencode(query)  # space -> '+', ':' -> %3A, like the SDKs
        path += ("&" if "?" in path else "?") + qs
    return path


def http_request(port, method, path, token=None, body=None, headers=None, query=None,
                 prefix=BASE, timeout=30):
    """One request on a new connection. body: dict/list (sent as JSON), bytes or str.
    Returns Resp; raises ConnectionClosed when the server hung up without answering."""
    url = build_path(path, query, prefix)
    hdrs = {}
    data = None
    if body is not None:
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        elif isinstance(body, str):
            data = body.encode("utf-8")
        else:
            data = bytes(body)
    if token is not None:
        hdrs["Authorization"] = "Bearer " + token
    hdrs.update(headers or {})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        try:
            conn.request(method, url, body=data, headers=hdrs)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer (413) and close before reading the whole body
        try:
            r = conn.getresponse()
            rbody = r.read()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                http.client.IncompleteRead, http.client.BadStatusLine) as e:
            raise ConnectionClosed("%s %s: %r" % (method, url, e))
        return Resp(r.status, r.headers, rbody, method, url)
    finally:
        conn.close()


def raw_exchange(port, data, shutdown_write=True, timeout=10):
    """Sends raw bytes; returns (status or None, everything received). None means the
    server closed the connection without a status line (or reset it)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    got = b""
    try:
        try:
            s.sendall(data)
            if shutdown_write:
                s.shutdown(socket.SHUT_WR)
        except OSError:  # the server may answer and close before we finish sending
            pass
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        except (ConnectionResetError, socket.timeout):
            pass
    finally:
        s.close()
    m = re.match(rb"HTTP/1\.[01] (\d{3})", got)
    return (int(m.group(1)) if m else None), got


def multipart(parts, boundary=None):
    """parts: list of (field_name, filename or None, content_type or None, data bytes).
    Returns (body bytes, Content-Type header value)."""
    boundary = boundary or ("----faxdE2E" + uuid.uuid4().hex)
    out = []
    for name, filename, ctype, data in parts:
        out.append(b"--" + boundary.encode() + b"\r\n")
        disp = 'form-data; name="%s"' % name
        if filename is not None:
            disp += '; filename="%s"' % filename
        out.append(("Content-Disposition: %s\r\n" % disp).encode("utf-8"))
        if ctype:
            out.append(("Content-Type: %s\r\n" % ctype).encode())
        out.append(b"\r\n")
        out.append(data)
        out.append(b"\r\n")
    out.append(b"--" + boundary.encode() + b"--\r\n")
    return b"".join(out), "multipart/form-data; boundary=" + boundary


def guess_mime(filename):
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def call_log_lines(path, fax_id=None):
    """The lines of a line.call_log file (one per call placed), or those of one fax."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    return [l for l in lines if fax_id is None or ("fax=%s " % fax_id) in l + " "]


# --------------------------------------------------------------------------------------
# faxd process


class Faxd:
    """One faxd process with its own temp dir (data dir + stderr file). share_store:
    another Faxd whose PostgreSQL database this one uses too (a node of the same
    cluster; the database stays the other's to drop). node: the node's name (store.node)."""

    def __init__(self, env=None, start=True, share_store=None, node=None):
        self.root = tempfile.mkdtemp(prefix="faxd-e2e-")
        self.data_dir = os.path.join(self.root, "data")
        os.mkdir(self.data_dir)
        self.stderr_path = os.path.join(self.root, "faxd.stderr")
        self.port = free_port()
        self.extra_env = dict(env or {})
        self.args = []  # extra arguments of faxd and faxctl, e.g. ["-c", FILE]
        self.proc = None
        self._numbers = 0
        self.pg_db = None
        self._owns_db = False
        if share_store is not None:
            assert share_store.pg_db, "a shared store needs PostgreSQL (FAXD_TEST_PG_DIR)"
            self.pg_db = share_store.pg_db
        elif PG_BASE:
            self.pg_db = "e2e_" + uuid.uuid4().hex[:16]
            _pg_admin("CREATE DATABASE %s" % self.pg_db)
            self._owns_db = True
        if node:
            self.extra_env["FAXD_STORE_NODE"] = node
        if start:
            try:
                self.start()
            except BaseException:
                if not os.environ.get("FAXD_E2E_KEEP"):
                    shutil.rmtree(self.root, ignore_errors=True)
                    self._drop_db()
                raise

    # -- environment shared by faxd and faxctl
    def env(self):
        e = dict(os.environ)
        e.update({
            "FAXD_GENERAL_DATA_DIR": self.data_dir,
            "FAXD_HTTP_ADDRESS": "127.0.0.1",
            "FAXD_HTTP_PORT": str(self.port),
        })
        if self.pg_db:
            e["FAXD_STORE_DRIVER"] = self.store_uri()
        e.update(self.extra_env)
        return e

    def start(self, timeout=10.0):
        assert self.proc is None or self.proc.poll() is not None, "faxd already running"
        if not os.path.exists(FAXD_BIN):
            raise AssertionError("faxd binary not found: %s (set FAXD_BIN)" % FAXD_BIN)
        self._stderr = open(self.stderr_path, "ab")
        self._stderr.write(b"\n=== faxd start ===\n")
        self._stderr.flush()
        self.proc = subprocess.Popen([FAXD_BIN] + self.args, env=self.env(), stdin=subprocess.DEVNULL,
                                     stdout=self._stderr, stderr=self._stderr)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                self._close_stderr()
                raise AssertionError("faxd exited with %s during start-up; stderr:\n%s" % (
                    self.proc.returncode, self.stderr_tail()))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                self._close_stderr()
                raise AssertionError("faxd did not accept connections on port %d within %.0f s;"
                                     " stderr:\n%s" % (self.port, timeout, self.stderr_tail()))
            time.sleep(0.05)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=15.0):
        """SIGTERM, wait, and assert that faxd exits with status 0."""
        if self.proc is None:
            return
        p = self.proc
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                self._close_stderr()
                raise AssertionError("faxd did not exit within %.0f s of SIGTERM; stderr:\n%s"
                                     % (timeout, self.stderr_tail()))
        self._close_stderr()
        if p.returncode != 0:
            raise AssertionError("faxd exited with %s (expected 0 after SIGTERM); stderr:\n%s"
                                 % (p.returncode, self.stderr_tail()))

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self._close_stderr()

    def drain(self, on=True, timeout=10.0):
        """SIGUSR1 (drain) or SIGUSR2 (take work again), then waits until /readyz says so."""
        os.kill(self.proc.pid, signal.SIGUSR1 if on else signal.SIGUSR2)
        want = 503 if on else 200
        deadline = time.monotonic() + timeout
        while self.req("GET", "/readyz", prefix="").status != want:
            if time.monotonic() > deadline:
                raise AssertionError("readiness never became %d" % want)
            time.sleep(0.1)

    def restart(self):
        """SIGTERM (if running) then start again with the same data dir and port."""
        if self.running():
            self.stop()
        self.start()

    def close(self):
        """Stops faxd (asserting a clean exit) and removes the temp dir."""
        try:
            self.stop()
        finally:
            if os.environ.get("FAXD_E2E_KEEP"):
                sys.stderr.write("faxd e2e: kept %s\n" % self.root)
            else:
                shutil.rmtree(self.root, ignore_errors=True)
                self._drop_db()

    def store_uri(self):
        return "%s/%s" % (PG_BASE, self.pg_db) if self.pg_db else "sqlite"

    def _drop_db(self):
        if self.pg_db and self._owns_db:
            _pg_admin("DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.pg_db)
        self.pg_db = None

    def _close_stderr(self):
        f = getattr(self, "_stderr", None)
        if f is not None and not f.closed:
            f.close()

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stderr_tail(self, n=4000):
        return self.stderr_text()[-n:]

    def wait_log(self, tc, text, timeout=30):
        """Waits until faxd has logged text; tc fails after timeout seconds. Log lines
        come from several threads (SIP, the call's, the queue's): wait for the one a
        check needs, not for an earlier one."""
        deadline = time.monotonic() + timeout
        while text not in self.stderr_text():
            tc.assertLess(time.monotonic(), deadline,
                          "faxd never logged %r\n%s" % (text, self.stderr_tail()))
            time.sleep(0.1)

    # -- faxctl
    def faxctl_raw(self, *args, timeout=60):
        return subprocess.run([FAXCTL_BIN] + self.args + ["--json"] + [str(a) for a in args],
                              env=self.env(),
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)

    def faxctl(self, *args, timeout=60):
        """Runs `faxctl --json ARGS` on this data dir; returns the parsed JSON stdout."""
        if not os.path.exists(FAXCTL_BIN):
            raise AssertionError("faxctl binary not found: %s (set FAXCTL_BIN)" % FAXCTL_BIN)
        r = self.faxctl_raw(*args, timeout=timeout)
        if r.returncode != 0:
            raise AssertionError("faxctl %s exited %d\nstdout: %s\nstderr: %s" % (
                " ".join(map(str, args)), r.returncode, r.stdout.decode("utf-8", "replace"),
                r.stderr.decode("utf-8", "replace")))
        try:
            return json.loads(r.stdout.decode("utf-8"))
        except ValueError as e:
            raise AssertionError("faxctl %s: stdout is not JSON (%s): %r" % (
                " ".join(map(str, args)), e, r.stdout[:500]))

    # -- HTTP
    def req(self, method, path, token=None, body=None, headers=None, query=None, prefix=BASE,
            timeout=30):
        return http_request(self.port, method, path, token=token, body=body, headers=headers,
                            query=query, prefix=prefix, timeout=timeout)

    def raw(self, data, shutdown_write=True, timeout=10):
        return raw_exchange(self.port, data, shutdown_write=shutdown_write, timeout=timeout)

    def upload(self, token, data, filename="doc.pdf", ctype=None, query=None, user="self",
               field="fax_file"):
        body, ct = multipart([(field, filename, ctype or guess_mime(filename), data)])
        return self.req("POST", "/accounts/%s/files" % user, token=token, body=body,
                        headers={"Content-Type": ct}, query=query)

    # -- accounts
    def next_number(self):
        self._numbers += 1
        return "+1202555%04d" % (1000 + self._numbers)

    def token(self, uid, scope="read,edit", name=None):
        args = ["token", "create", "--account", uid, "--scope", scope]
        if name:
            args += ["--name", name]
        return self.faxctl(*args)

    def new_account(self, type="individual", admin=None, number=False, email=None, name=None,
                    credit=None):
        """Creates an account with a read+edit token. number=True adds a fresh number,
        a string adds that number. Returns {uid, token, token_id, account_type, number?}."""
        args = ["account", "create", "--type", type]
        if admin:
            args += ["--admin", admin]
        if email:
            args += ["--email", email]
        if name:
            args += ["--name", name]
        acct = self.faxctl(*args)
        uid = acct["uid"]
        tok = self.token(uid)
        out = {"uid": uid, "token": tok["token"], "token_id": tok["id"],
               "account_type": acct.get("account_type"), "created": acct}
        if number:
            n = number if isinstance(number, str) else self.next_number()
            self.faxctl("number", "add", "--account", uid, "--number", n)
            out["number"] = n
        if credit is not None:
            self.faxctl("credit", "add", "--account", uid, "--pages", credit)
        return out

    def import_fax(self, uid, file=None, frm="+12025550001", to="+12025550002",
                   direction="incoming", pages=None):
        args = ["fax", "import", "--account", uid, "--file", file or fixture("fax_g3_normal.tif"),
                "--from", frm, "--to", to, "--direction", direction]
        if pages is not None:
            args += ["--pages", pages]
        return self.faxctl(*args)

    # -- database
    def db(self):
        """A connection to the store: <data>/faxd.db read-only, or this Faxd's PostgreSQL
        database (autocommit; `?` placeholders as with sqlite3; rows by index or name)."""
        if self.pg_db:
            return _PgConn(self.store_uri())
        path = os.path.join(self.data_dir, "faxd.db")
        assert os.path.exists(path), "no database at %s" % path
        c = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10)
        c.row_factory = sqlite3.Row
        return c

    def db_one(self, sql, args=()):
        """The first row of one query on the store (None when there is none)."""
        c = self.db()
        try:
            return c.execute(sql, args).fetchone()
        finally:
            c.close()

    def upload_row(self, path):
        """The uploads row for an upload path ("/transient-<hex>")."""
        hexid = path.rsplit("-", 1)[-1]
        c = self.db()
        try:
            rows = c.execute("SELECT * FROM uploads WHERE path IN (?, ?, ?)",
                             (path, path.lstrip("/"), hexid)).fetchall()
        finally:
            c.close()
        assert len(rows) == 1, "expected 1 uploads row for %s, found %d" % (path, len(rows))
        return dict(rows[0])

    # Every column that names a blob (a test fails when a migration adds one not listed).
    BLOB_COLUMNS = (("uploads", "blob"), ("faxes", "blob"), ("outbox", "doc_blob"),
                    ("outbox", "logo_blob"), ("accounts", "logo_blob"), ("rx_pages", "blob"))

    def stray_blobs(self):
        """Blob keys the store holds that no record names, and the keys still noted for
        removal in blob_trash: both empty once nothing is left behind."""
        c = self.db()
        try:
            named = set()
            for table, col in self.BLOB_COLUMNS:
                named |= {r[0] for r in c.execute("SELECT %s FROM %s" % (col, table))}
            noted = sorted(r[0] for r in c.execute("SELECT key FROM blob_trash"))
            if self.pg_db:
                held = {r[0] for r in c.execute("SELECT blob_key FROM blobs")}
        finally:
            c.close()
        if not self.pg_db:
            root = os.path.join(self.data_dir, "blobs")
            held = {"%s/%s" % (d, f) for d in os.listdir(root) if d not in ("tmp", "cache")
                    for f in os.listdir(os.path.join(root, d))}
        return sorted(held - named), noted

    def blob_columns(self):
        """(table, column) of every column whose name says it holds a blob key, outside
        the blob store's own tables (blobs, blob_data, blob_chunks, blob_trash)."""
        c = self.db()
        try:
            if self.pg_db:
                rows = c.execute("SELECT table_name, column_name FROM information_schema.columns "
                                 "WHERE table_schema = current_schema() AND "
                                 "column_name LIKE '%blob%'").fetchall()
            else:
                tables = [r[0] for r in c.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'")]
                rows = [(t, r[1]) for t in tables
                        for r in c.execute("PRAGMA table_info(%s)" % t) if "blob" in r[1]]
        finally:
            c.close()
        return sorted((t, col) for t, col in rows if not t.startswith("blob"))

    def blob_path(self, blob):
        """A file holding the blob's bytes now: its file, or (PostgreSQL) a copy fetched
        from the database; a path that does not exist when there is no such blob."""
        if not self.pg_db:
            return os.path.join(self.data_dir, "blobs", blob)
        path = os.path.join(self.data_dir, "e2e-fetched", blob)
        if os.path.exists(path):
            os.unlink(path)
        c = self.db()
        try:
            rows = c.execute("SELECT c.bytes FROM blobs b JOIN blob_chunks c ON "
                             "c.data_id = b.data_id WHERE b.blob_key = ? ORDER BY c.seq",
                             (blob,)).fetchall()
            known = c.execute("SELECT COUNT(*) FROM blobs WHERE blob_key = ?",
                              (blob,)).fetchone()[0]
        finally:
            c.close()
        if known:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                for r in rows:
                    f.write(bytes(r[0]))
        return path

    def blob_exists(self, blob):
        return os.path.exists(self.blob_path(blob))


# --------------------------------------------------------------------------------------
# PostgreSQL (when PG_BASE is set)


def _pg_admin(sql):
    import psycopg2  # Debian python3-psycopg2; only needed with PostgreSQL
    c = psycopg2.connect(PG_BASE + "/postgres")
    try:
        c.autocommit = True
        c.cursor().execute(sql)
    finally:
        c.close()


class _PgRow(tuple):
    """A row readable like sqlite3.Row: by index, by column name, and with dict()."""

    def __new__(cls, values, names):
        r = super().__new__(cls, values)
        r._names = names
        return r

    def __getitem__(self, k):
        if isinstance(k, str):
            return tuple.__getitem__(self, self._names.index(k))
        return tuple.__getitem__(self, k)

    def keys(self):
        return list(self._names)


class _PgCursor:
    def __init__(self, cur):
        self.cur = cur
        self.names = [d[0] for d in cur.description] if cur.description else []

    def _row(self, r):
        return None if r is None else _PgRow(r, self.names)

    def fetchone(self):
        return self._row(self.cur.fetchone())

    def fetchall(self):
        return [self._row(r) for r in self.cur.fetchall()]

    def __iter__(self):
        return iter(self.fetchall())


class _PgConn:
    """The few sqlite3.Connection calls the tests make, on PostgreSQL."""

    def __init__(self, uri):
        import psycopg2
        self.c = psycopg2.connect(uri)
        self.c.autocommit = True

    def execute(self, sql, args=()):
        cur = self.c.cursor()
        cur.execute(sql.replace("%", "%%").replace("?", "%s"), tuple(args))
        return _PgCursor(cur)

    def commit(self):
        pass

    def iterdump(self):
        """Every row of every table, one line each (what sqlite3's dump would hold)."""
        cur = self.c.cursor()
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "ORDER BY tablename")
        for (t,) in cur.fetchall():
            rows = self.c.cursor()
            rows.execute('SELECT * FROM "%s"' % t)
            for r in rows.fetchall():
                yield "INSERT INTO %s VALUES%r;" % (t, tuple(r))

    def close(self):
        self.c.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --------------------------------------------------------------------------------------
# SDK-strictness validator (API.md §4/§5, as the Python SDK 3.0.4 deserializes)

ENUMS = {
    "FaxStatus": {
        "success", "partially_sent", "partially_received", "insufficient_credit", "failed",
        "failed_internal_process_error", "failed_user_busy", "failed_no_answer",
        "failed_unallocated_number", "failed_office_converter_issue",
        "failed_separate_file_pages_issue", "failed_render_header_issue",
        "failed_invalid_number_format", "failed_mimetype_not_supported",
        "failed_destination_not_supported", "failed_image_preparation", "failed_to_send",
        "failed_normal_temporary_failure", "failed_unknown_converter_issue",
        "failed_normal_clearing", "failed_convert_to_tiff_issue", "failed_fs_49", "failed_fs_2"},
    "OutboxStatus": {"submitted", "converting", "scheduled_for_sending", "sending"},
    "FaxDirection": {"outgoing", "incoming"},
    "FileType": {"tiff", "pdf"},
    "CoverPageFlags": {"urgent", "for_review", "please_reply", "confidential"},
    "WebhookEventType": {"fax_received", "fax_sent"},
    "AccountStatus": {"active", "unverified_phone", "suspended", "disabled", "inactive",
                      "deleted", "corporate_deleted", "waiting_for_signup"},
    "AccountType": {"corporate_admin", "individual", "corporate_member"},
    "NumberStatus": {"waiting_verification", "active"},
    "SlackNotificationMode": {"with_attachment", "no_attachment", "off"},
    "AccountNotificationsLanguage": {"en"},
}

EMAIL_RE = r"^[a-zA-Z0-9_.+-]+@[a-zA-Z0-9-]+.[a-zA-Z0-9-.]+$"
PHONE_RE = r"^[+]?[0-9]{8,}$"
NUMBER_RE = r"^[+][0-9]{8,}$"
TS_RE = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"


def F(type_, req=False, pattern=None, nonempty_pattern=None, minimum=None, maximum=None):
    return {"type": type_, "req": req, "pattern": pattern, "nonempty_pattern": nonempty_pattern,
            "min": minimum, "max": maximum}


_BOOLS5 = {k: F("bool", True) for k in ("low_credit", "new_feature", "receive_fax", "send_fax",
                                         "voicemail")}

MODELS = {
    "Account": {
        "uid": F("str", True), "account_type": F("E:AccountType", True),
        "status": F("E:AccountStatus", True), "email": F("str", True, nonempty_pattern=EMAIL_RE),
        "creation_date": F("str", True, pattern=TS_RE), "name": F("str"), "lastname": F("str"),
        "profile_image": F("str"), "last_password_modification_date": F("str", pattern=TS_RE),
        "phone": F("str", nonempty_pattern=PHONE_RE), "member_of": F(["str"]),
        "account_data": F("AccountData"), "notifications": F("AccountNotifications"),
        "settings": F("AccountSettings")},
    "AccountData": {
        "company_logo": F("str"), "company_name": F("str"), "deactivation_reason": F("str"),
        "default_file_type": F("E:FileType"), "role": F("str"), "save_history": F("bool")},
    "AccountSettings": {
        "caller_id_name": F("str"), "options": F("obj"), "send_fax": F("AccountSettingsSendFax"),
        "should_enhance": F("bool")},
    "AccountSettingsSendFax": {"retry": F("RetryOptions")},
    "AccountNotifications": {
        "black_list": F("AccountNotificationsBlacklist"),
        "settings": F("AccountNotificationsSettings", True)},
    "AccountNotificationsBlacklist": {"uids": F(["str"], True)},
    "AccountNotificationsSettings": {
        "email": F("AccountNotificationsEmailSettings", True),
        "push_notifications": F("AccountNotificationsPushSettings", True),
        "sms": F("AccountNotificationsSmsSettings", True),
        "slack": F("AccountNotificationsSlackSettings"),
        "language": F("E:AccountNotificationsLanguage")},
    "AccountNotificationsEmailSettings": dict(
        _BOOLS5, addresses=F(["str"]), attachments=F("AccountNotificationsEmailAttachments")),
    "AccountNotificationsEmailAttachments": {
        "confirmation_page": F("bool"), "receive_fax": F("bool", True), "send_fax": F("bool", True)},
    "AccountNotificationsPushSettings": dict(_BOOLS5),
    "AccountNotificationsSmsSettings": dict(_BOOLS5, numbers=F(["str"])),
    "AccountNotificationsSlackSettings": {
        "receive_fax": F("E:SlackNotificationMode", True),
        "send_fax": F("E:SlackNotificationMode", True), "target_channel": F("str", True)},
    "AccountList": {"members": F(["Account"], True)},
    "MemberDetail": {"quota": F("int", minimum=0), "role": F("str")},
    "Number": {
        "id": F("str", True), "number": F("str", True, pattern=NUMBER_RE),
        "owner_id": F("str", True), "assigned_to": F(["str"], True),
        "acquired_date": F("str", True, pattern=TS_RE), "status": F("E:NumberStatus", True),
        "expiration_date": F("str"), "is_canceled": F("bool"),
        "notifications": F(["NumberNotifications"])},
    "NumberNotifications": {"email": F("bool"), "push_notification": F("bool"), "type": F("str")},
    "NumberList": {"numbers": F(["Number"], True)},
    "Fax": {
        "id": F("str", True), "owner_id": F("str", True), "status": F("E:FaxStatus", True),
        "pages": F("int", True, minimum=0), "comment": F("str", True),
        "cost_details": F("FaxCostDetails", True), "cost": F("int", minimum=0),
        "description": F("str"), "direction": F("E:FaxDirection"),
        "duration": F("int", minimum=0), "file": F("str"), "file_name": F("str"),
        "from": F("str"), "to": F("str"), "header": F("str"), "is_read": F("bool"),
        "is_spam": F("bool"), "last_update": F("str", pattern=TS_RE),
        "scheduled_time": F("str", pattern=TS_RE), "start_time": F("str", pattern=TS_RE),
        "submit_time": F("str", pattern=TS_RE), "max_retry": F("int", minimum=0, maximum=3),
        # The SDK caps retry_delay at 30; faxd accepts 0..720 minutes (STATUS.md), so only >= 0.
        "retry_delay": F("int", minimum=0), "cover_page": F("FaxCoverPage")},
    "FaxCostDetails": {"multiplier": F("num"), "notification_cost": F("num")},
    "FaxList": {"data": F("FaxListData", True)},  # optional in the SDK; API.md: always send
    "FaxListData": {"records": F(["Fax"], True)},
    "FaxCoverPage": {
        "name_to": F("str", True), "name_from": F("str", True), "subject": F("str", True),
        "flags": F(["E:CoverPageFlags"]), "message": F("str")},
    "FilePath": {"path": F("str", True)},
    "SendFaxResponse": {"ids": F("map")},
    "RetryOptions": {"count": F("int", minimum=0, maximum=3), "delay": F("int", minimum=0)},
    "OutboxComment": {"tags": F(["str"]), "text": F("str")},
    "OutboxOptions": {"enhancement": F("bool"), "retry": F("RetryOptions")},
    "OutboxStatusChanges": {"at": F("str", True, pattern=TS_RE),
                            "status": F("E:OutboxStatus", True)},
    "OutboxFileChanges": {"at": F("str"), "files": F(["OutboxFiles"])},
    "OutboxFiles": {"file_name": F("str"), "mime_type": F("str"), "size": F("num")},
    "OutboxInitiatedFrom": {"from_id": F("str"), "type": F("str")},
    "Outbox": {
        "id": F("str", True), "uid": F("str", True), "status": F("E:OutboxStatus", True),
        "to": F(["str"]), "files": F(["str"]), "src": F("str"), "designated_src": F("str"),
        "comment": F("OutboxComment"), "options": F("OutboxOptions"), "retry": F("RetryOptions"),
        "send_time": F("str", pattern=TS_RE), "submit_time": F("str", pattern=TS_RE),
        "last_updated_status_time": F("str", pattern=TS_RE),
        "status_changes": F(["OutboxStatusChanges"]), "file_changes": F(["OutboxFileChanges"]),
        "initiated_from": F("OutboxInitiatedFrom"), "page_count": F("int", minimum=0),
        "ip": F("str"), "contact_name": F("str"), "extra_info": F("obj"),
        "should_enhance": F("bool"), "cover_page": F("FaxCoverPage")},
    "OutboxList": {"records": F(["Outbox"], True)},
    "Webhook": {"id": F("str"), "target": F("str", True), "event": F("E:WebhookEventType", True)},
    "WebhookId": {"id": F("str", True)},
    "WebhookList": {"data": F(["Webhook"], True)},  # optional in the SDK; always sent by faxd
    "Error": {"error": F("str"), "description": F("str")},
}


def _check_value(t, v, where, errs):
    if isinstance(t, list):
        if not isinstance(v, list):
            errs.append("%s: expected a list, got %r" % (where, v))
            return
        for i, item in enumerate(v):
            if item is None:
                errs.append("%s[%d]: null item" % (where, i))
            else:
                _check_value(t[0], item, "%s[%d]" % (where, i), errs)
        return
    if t == "str":
        ok = isinstance(v, str)
    elif t == "int":
        ok = isinstance(v, int) and not isinstance(v, bool)
    elif t == "num":
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
    elif t == "bool":
        ok = isinstance(v, bool)
    elif t in ("obj", "map"):
        ok = isinstance(v, dict)
    elif t.startswith("E:"):
        vals = ENUMS[t[2:]]
        if v not in vals:
            errs.append("%s: %r is not a %s value" % (where, v, t[2:]))
        return
    else:
        _check_model(t, v, where, errs)
        return
    if not ok:
        errs.append("%s: expected %s, got %r" % (where, t, v))


def _check_model(name, obj, where, errs):
    if not isinstance(obj, dict):
        errs.append("%s: %s must be an object, got %r" % (where, name, obj))
        return
    for field, spec in MODELS[name].items():
        w = "%s.%s" % (where, field)
        if field not in obj or obj[field] is None:
            if spec["req"]:
                errs.append("%s: required field missing or null" % w)
            continue
        v = obj[field]
        _check_value(spec["type"], v, w, errs)
        if isinstance(v, str):
            if spec["pattern"] and not re.search(spec["pattern"], v):
                errs.append("%s: %r does not match %s" % (w, v, spec["pattern"]))
            if spec["nonempty_pattern"] and v != "" and not re.search(spec["nonempty_pattern"], v):
                errs.append("%s: %r does not match %s" % (w, v, spec["nonempty_pattern"]))
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if spec["min"] is not None and v < spec["min"]:
                errs.append("%s: %r < %s" % (w, v, spec["min"]))
            if spec["max"] is not None and v > spec["max"]:
                errs.append("%s: %r > %s" % (w, v, spec["max"]))


def validate(model, obj):
    """Raises AssertionError listing every way obj breaks the SDK's rules for model."""
    errs = []
    _check_model(model, obj, model, errs)
    if errs:
        raise AssertionError("SDK validation failed:\n  " + "\n  ".join(errs) +
                             "\nobject: " + json.dumps(obj)[:2000])
    return obj


# --------------------------------------------------------------------------------------
# unittest base


def wait_fax(tc, fx, tok, fax_id, timeout=120, poll=0.2):
    """Waits for the fax record fax_id of fx (a Faxd) to exist and returns it, checked
    against the SDK's Fax model; fails the test case tc after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = fx.req("GET", "/accounts/self/faxes/" + fax_id, token=tok)
        if r.status == 200:
            return tc.assertJson(r, 200, "Fax")
        tc.assertEqual(r.status, 404, repr(r))
        time.sleep(poll)
    tc.fail("no record for %s\n%s" % (fax_id, fx.stderr_tail(6000)))


def run_parallel(jobs):
    """Runs the callables at once, each on a thread; re-raises the first failure."""
    errors = []

    def run(fn):
        try:
            fn()
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            errors.append(e)
    threads = [threading.Thread(target=run, args=(j,)) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


class FaxdTestCase(unittest.TestCase):
    """One faxd per TestCase class. Subclasses may set faxd_env."""

    faxd_env = {}
    maxDiff = 4000

    @classmethod
    def setUpClass(cls):
        cls.faxd = Faxd(env=cls.faxd_env)

    @classmethod
    def tearDownClass(cls):
        f = getattr(cls, "faxd", None)
        if f is not None:
            f.close()

    # -- shortcuts
    def req(self, *a, **kw):
        return self.faxd.req(*a, **kw)

    def wait_fax(self, tok, fax_id, timeout=120):
        return wait_fax(self, self.faxd, tok, fax_id, timeout)

    def new_account(self, *a, **kw):
        return self.faxd.new_account(*a, **kw)

    def faxctl(self, *a, **kw):
        return self.faxd.faxctl(*a, **kw)

    def _ctx(self, r):
        return "%r\nfaxd stderr tail:\n%s" % (r, self.faxd.stderr_tail(1500))

    def assertStatus(self, r, status):
        if isinstance(status, int):
            status = (status,)
        self.assertIn(r.status, status, self._ctx(r))

    def assertJson(self, r, status=200, model=None):
        """Success answer: exact status, JSON content type, parsed body (validated)."""
        self.assertStatus(r, status)
        self.assertEqual(r.ctype.replace(" ", "").lower(), JSON_CT.replace(" ", ""),
                         "Content-Type of %r" % r)
        body = r.json()
        if model:
            validate(model, body)
        return body

    def assertEmptyOk(self, r):
        """Update/delete: 200 {}."""
        body = self.assertJson(r, 200)
        self.assertEqual(body, {}, repr(r))
        return body

    def assertError(self, r, status, code=None):
        self.assertStatus(r, status)
        self.assertTrue(r.ctype.lower().startswith("application/json"),
                        "error Content-Type of %r" % r)
        body = r.json()
        self.assertIsInstance(body, dict, repr(r))
        self.assertIsInstance(body.get("error"), str, repr(r))
        self.assertIsInstance(body.get("description"), str, repr(r))
        validate("Error", body)
        if code is not None:
            self.assertEqual(body["error"], code, repr(r))
        return body

    def assertAlive(self, token=None):
        """The server still answers a normal request."""
        self.assertTrue(self.faxd.running(), "faxd died; stderr:\n" + self.faxd.stderr_tail())
        tok = token or self.alive_token()
        r = self.req("GET", "/accounts/self", token=tok)
        self.assertJson(r, 200, "Account")

    def alive_token(self):
        cls = type(self)
        if getattr(cls, "_alive_acct", None) is None:
            cls._alive_acct = self.new_account()
        return cls._alive_acct["token"]

    def upload_ok(self, token, data, filename="doc.pdf", ctype=None, query=None, user="self"):
        r = self.faxd.upload(token, data, filename, ctype, query=query, user=user)
        body = self.assertJson(r, 200, "FilePath")
        self.assertRegex(body["path"], TRANSIENT)
        return body["path"]

    def send(self, token, payload, user="self"):
        return self.req("POST", "/accounts/%s/outbox" % user, token=token, body=payload)

    def send_ok(self, token, payload, user="self"):
        r = self.send(token, payload, user)
        return self.assertJson(r, 201, "SendFaxResponse")


class FreshFaxdTestCase(FaxdTestCase):
    """A fresh faxd per test, not started (adjust extra_env, then start it), with its
    line.call_log in self.call_log. Subclasses may set faxd_env."""

    @classmethod
    def setUpClass(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        pass

    def setUp(self):
        self.faxd = Faxd(env=self.faxd_env, start=False)
        self.call_log = os.path.join(self.faxd.root, "calls.log")
        self.faxd.extra_env["FAXD_LINE_CALL_LOG"] = self.call_log
        self.addCleanup(self.faxd.close)

    def calls(self, fax_id=None):
        """The call log's lines (of one fax when fax_id is given)."""
        return call_log_lines(self.call_log, fax_id)


def main():
    unittest.main(verbosity=2)
