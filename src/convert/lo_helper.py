#!/usr/bin/python3
"""lo_helper: one warm LibreOffice instance, driven by faxd's converter over a pipe.

faxd (src/convert/lopool.c) starts this under Debian's /usr/bin/python3 (it needs
python3-uno) in its own process group. It starts a headless soffice with a private
profile, accepting UNO connections on a named pipe (a unix socket: it works inside the
empty network namespace faxd gives its children, where TCP loopback is down), connects,
then answers one JSON request per stdin line with one JSON reply per stdout line:

  {"in": "/abs/doc", "out": "/abs/doc.pdf", "text": false}
      -> {"ok": true, "filter": "writer_pdf_Export", "seconds": S}
       | {"ok": false, "error": "password"|"corrupt"|"load"|"export"|"crashed"|"internal",
          "detail": "...", "seconds": S}
  ("text": true loads the file as UTF-8 plain text instead of detecting its format.)
  {"quit": true} (or end of input) -> soffice is terminated and the helper exits.

After connecting it prints {"ready": true, "soffice_pid": P, "seconds": S}, or
{"ready": false, ...} and exits. Timeouts are faxd's business: it kills the whole
process group (this helper, oosplash and soffice.bin) when a reply is late.

Documents are loaded hidden, read-only, without updating links and without running
macros, with an interaction handler that aborts every request and remembers what was
asked: a password request means an encrypted document, a broken-package request a
corrupt one. Nothing from the documents is written to the log.
"""

import argparse
import ctypes
import glob
import json
import os
import secrets
import signal
import socket
import stat
import subprocess
import sys
import threading
import time

import uno
import unohelper
from com.sun.star.beans import PropertyValue
from com.sun.star.task import XInteractionHandler

# LibreOffice 7.4's uno.py under Python 3.11: when pyuno turns a UNO exception (an
# interaction request's payload is one) into a Python object, setting the exception's
# `args` goes through _uno_struct__setattr__, which forwards it to the wrapped UNO
# struct: AttributeError ("args"), and getRequest() fails with SystemError. Let
# BaseException keep its own `args`. The patch must be in place before the first
# request arrives; should the conversion still fail, the handler falls back to the
# request's continuations (a password request offers XInteractionPassword).
_orig_struct_setattr = uno._uno_struct__setattr__


def _struct_setattr(self, name, value):
    if name == "args" and isinstance(self, BaseException):
        return BaseException.__setattr__(self, name, value)
    return _orig_struct_setattr(self, name, value)


uno._uno_struct__setattr__ = _struct_setattr

NO_UPDATE = 0      # com.sun.star.document.UpdateDocMode.NO_UPDATE
NEVER_EXECUTE = 0  # com.sun.star.document.MacroExecMode.NEVER_EXECUTE

# Export filter by the loaded component's kind (the first service it supports).
EXPORT_FILTERS = (
    ("com.sun.star.sheet.SpreadsheetDocument", "calc_pdf_Export"),
    ("com.sun.star.text.TextDocument", "writer_pdf_Export"),
    ("com.sun.star.presentation.PresentationDocument", "impress_pdf_Export"),
    ("com.sun.star.drawing.DrawingDocument", "draw_pdf_Export"),
)

# UTF-8 text (faxd re-codes other text to UTF-8 first), LF lines, Liberation Mono
# (LibreOffice's default text-import font, 10 pt), English.
TEXT_FILTER = "Text (encoded)"
TEXT_OPTIONS = "UTF8,LF,Liberation Mono,en-US"


def prop(name, value):
    p = PropertyValue()
    p.Name = name
    p.Value = value
    return p


def type_names(obj):
    """Names of the UNO interfaces an object offers (empty when it cannot say)."""
    try:
        return {t.typeName for t in obj.getTypes()}
    except Exception:
        return set()


class AbortingHandler(unohelper.Base, XInteractionHandler):
    """Answers every interaction request with Abort (or Disapprove) and records the
    most telling one: a password request wins over a broken package, which wins over
    anything else."""

    def __init__(self):
        self.kind = None
        self.detail = ""

    def _classify(self, request):
        try:
            payload = request.getRequest()
            name = payload.typeName if hasattr(payload, "typeName") else type(payload).__name__
        except Exception as e:  # conversion of the payload failed: judge by continuations
            payload, name = None, "unconvertible (%s)" % type(e).__name__
        conts = set()
        for c in request.getContinuations():
            conts |= type_names(c)
        if "PasswordRequest" in name or any("InteractionPassword" in t for t in conts):
            return "password", name
        if "BrokenPackageRequest" in name:
            return "corrupt", name
        return "other", name

    def _remember(self, kind, name):
        rank = {"password": 3, "corrupt": 2, "other": 1}
        if self.kind is None or rank[kind] > rank[self.kind]:
            self.kind, self.detail = kind, name

    def handle(self, request):
        try:
            kind, name = self._classify(request)
            self._remember(kind, name)
        except Exception as e:
            self._remember("other", "handler: %s" % type(e).__name__)
        try:
            conts = list(request.getContinuations())
        except Exception:
            return
        for wanted in ("com.sun.star.task.XInteractionAbort",
                       "com.sun.star.task.XInteractionDisapprove"):
            for c in conts:
                if wanted in type_names(c):
                    c.select()
                    return


class Office:
    def __init__(self, soffice, profile, pipe):
        self.soffice = soffice
        self.profile = os.path.abspath(profile)
        # faxd names the pipe so it can remove the socket file (/tmp/OSL_PIPE_<uid>_<name>)
        # when it had to kill the instance.
        self.pipe = pipe or "faxd_lo_%d_%s" % (os.getpid(), secrets.token_hex(6))
        self.proc = None
        self.desktop = None

    def start(self, timeout):
        os.makedirs(self.profile, mode=0o700, exist_ok=True)
        argv = [self.soffice, "--headless", "--invisible", "--nologo", "--norestore",
                "--nodefault", "--nolockcheck", "--nofirststartwizard",
                "-env:UserInstallation=" + uno.systemPathToFileUrl(self.profile),
                "--accept=pipe,name=%s;urp;" % self.pipe]
        # soffice must never see our request pipe nor write into our reply pipe; it stays
        # in our process group so faxd's kill reaches it.
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=2, stderr=2,
                                     close_fds=True)
        local = uno.getComponentContext()
        resolver = local.ServiceManager.createInstanceWithContext(
            "com.sun.star.bridge.UnoUrlResolver", local)
        url = "uno:pipe,name=%s;urp;StarOffice.ComponentContext" % self.pipe
        deadline = time.monotonic() + timeout
        while True:
            try:
                ctx = resolver.resolve(url)
                break
            except Exception as e:
                # Not listening yet. (The first start with a new profile restarts
                # soffice.bin once; oosplash does that itself and stays up.)
                if self.proc.poll() is not None:
                    raise RuntimeError("soffice exited with %s" % self.proc.returncode)
                if time.monotonic() > deadline:
                    raise RuntimeError("soffice did not accept a connection in %g s (%s)"
                                       % (timeout, uno_error_name(e)))
                time.sleep(0.05)
        self.desktop = ctx.ServiceManager.createInstanceWithContext(
            "com.sun.star.frame.Desktop", ctx)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def stop(self):
        if self.desktop is not None:
            try:
                self.desktop.terminate()
            except Exception:
                pass  # soffice closes the bridge while answering; that is expected
            self.desktop = None
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()  # faxd kills the whole group anyway if this is not enough
                self.proc.wait()
            self.proc = None

    def convert(self, src, dst, text):
        handler = AbortingHandler()
        props = [prop("Hidden", True), prop("ReadOnly", True),
                 prop("UpdateDocMode", NO_UPDATE), prop("MacroExecutionMode", NEVER_EXECUTE),
                 prop("InteractionHandler", handler)]
        if text:
            props += [prop("FilterName", TEXT_FILTER), prop("FilterOptions", TEXT_OPTIONS)]
        doc = None
        try:
            try:
                doc = self.desktop.loadComponentFromURL(
                    uno.systemPathToFileUrl(src), "_blank", 0, tuple(props))
            except Exception as e:
                if not self.alive() or is_disposed(e):
                    return fail("crashed", "soffice died while loading")
                if handler.kind in ("password", "corrupt"):
                    return fail(handler.kind, handler.detail)
                return fail("load", uno_error_name(e))
            if doc is None:
                if handler.kind in ("password", "corrupt"):
                    return fail(handler.kind, handler.detail)
                return fail("load", "not loaded" + (": " + handler.detail if handler.kind else ""))
            return self.export(doc, dst)
        finally:
            close_doc(doc)

    def export(self, doc, dst):
        filt = None
        for service, name in EXPORT_FILTERS:
            if doc.supportsService(service):
                filt = name
                break
        if filt is None:
            return fail("load", "not a text, spreadsheet, presentation or drawing document")
        try:
            doc.storeToURL(uno.systemPathToFileUrl(dst),
                           (prop("FilterName", filt), prop("Overwrite", True)))
        except Exception as e:
            if not self.alive() or is_disposed(e):
                return fail("crashed", "soffice died while exporting")
            return fail("export", uno_error_name(e))
        try:
            with open(dst, "rb") as f:
                head = f.read(5)
        except OSError:
            head = b""
        if head != b"%PDF-":
            return fail("export", "no PDF written")
        return {"ok": True, "filter": filt}


def fail(kind, detail):
    return {"ok": False, "error": kind, "detail": detail[:200]}


def uno_error_name(e):
    return getattr(e, "typeName", None) or type(e).__name__


def is_disposed(e):
    name = uno_error_name(e)
    return name.endswith("DisposedException") or "Bridge" in str(getattr(e, "Message", ""))


def close_doc(doc):
    if doc is None:
        return
    try:
        doc.close(True)
    except Exception:
        try:
            doc.dispose()
        except Exception:
            pass


def remove_stale_pipes():
    """soffice listens on unix sockets in /tmp (/tmp/OSL_PIPE_<uid>_<name>: our UNO pipe
    and its single-instance pipe SingleOfficeIPC_<hash of the profile>) and leaves them
    behind when it is killed. Before starting, remove those nobody listens on any more.
    Only files older than a minute are touched: a socket another instance has just
    bound but not yet listened on also refuses connections."""
    prefix = "/tmp/OSL_PIPE_%d_" % os.getuid()
    now = time.time()
    for path in glob.glob(prefix + "faxd_*") + glob.glob(prefix + "SingleOfficeIPC_*"):
        try:
            st = os.lstat(path)
            if not stat.S_ISSOCK(st.st_mode) or now - st.st_mtime < 60:
                continue
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(1)
                try:
                    s.connect(path)
                except ConnectionRefusedError:
                    os.unlink(path)
        except OSError:
            pass


def guard_parent():
    """Ends the whole process group when faxd dies.

    faxd starts this helper with PR_SET_PDEATHSIG=SIGKILL, which would kill only this
    process and leave oosplash and soffice.bin running as orphans. So the helper takes
    that duty over: it clears the signal and kills its whole group (soffice included)
    within a second of being orphaned, even in the middle of a conversion."""
    ppid = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, 0, 0, 0, 0)  # PR_SET_PDEATHSIG, 0: none
    except (OSError, AttributeError):
        return  # the signal stays: the helper still dies with faxd
    if os.getppid() != ppid:  # faxd died before the signal was cleared
        os.killpg(os.getpgid(0), signal.SIGKILL)

    def watch():
        while True:
            time.sleep(1)
            if os.getppid() != ppid:
                os.killpg(os.getpgid(0), signal.SIGKILL)

    threading.Thread(target=watch, name="parent-guard", daemon=True).start()


def reply(out, obj):
    out.write(json.dumps(obj) + "\n")
    out.flush()


def serve(office, out):
    while True:
        line = sys.stdin.readline()
        if not line:
            return  # faxd closed the pipe
        try:
            req = json.loads(line)
        except ValueError:
            req = None
        if not isinstance(req, dict):
            reply(out, fail("internal", "bad request line"))
            continue
        if req.get("quit"):
            return
        if not office.alive():
            reply(out, fail("crashed", "soffice is gone"))
            return
        t0 = time.monotonic()
        try:
            res = office.convert(req["in"], req["out"], bool(req.get("text")))
        except Exception as e:
            res = fail("crashed" if not office.alive() else "internal", uno_error_name(e))
        res["seconds"] = round(time.monotonic() - t0, 3)
        reply(out, res)
        if res.get("error") == "crashed":
            return


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--soffice", default="soffice")
    ap.add_argument("--profile", required=True)
    ap.add_argument("--pipe", default=None)
    ap.add_argument("--start-timeout", type=float, default=60.0)
    args = ap.parse_args()

    guard_parent()
    # Replies go to a private copy of stdout; fd 1 itself now points at stderr, so a
    # stray print from a library cannot corrupt the protocol.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)

    remove_stale_pipes()
    office = Office(args.soffice, args.profile, args.pipe)
    t0 = time.monotonic()
    try:
        office.start(args.start_timeout)
    except Exception as e:
        reply(out, {"ready": False, "detail": str(e)[:200]})
        office.kill()
        return 1
    reply(out, {"ready": True, "soffice_pid": office.proc.pid,
                "seconds": round(time.monotonic() - t0, 3)})
    try:
        serve(office, out)
    finally:
        office.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
