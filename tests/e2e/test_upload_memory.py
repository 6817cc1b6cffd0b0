"""U1 upload memory: a 30 MB upload must stream to disk, not into faxd's memory.

Starts faxd on a temp data dir, warms it up with a small upload, then streams a 30 MB
multipart upload generated chunk by chunk in the client (never held whole in memory), and
checks that faxd's peak resident set (VmHWM) grew by less than 4 MiB over its warm
VmRSS, that the answer is 200 {"path"}, that the stored blob and uploads.sha256 match the
bytes sent, and that faxd exits 0 on SIGTERM. bench/upload_rss.sh is the same check as a
stand-alone script.

Under AddressSanitizer (FAXD_BIN from an ASan build, e.g. build-asan) RSS is not a
measure of faxd's own memory: ASan maps shadow memory (1 byte per 8 bytes touched),
keeps freed blocks in a quarantine (256 MiB by default) instead of reusing them, and pads
every allocation with redzones. There the test checks correctness and only a loose bound
(64 MiB), which still catches an upload buffered whole in memory (30 MB plus its shadow).
"""

import hashlib
import http.client
import json
import os
import sys
import threading
import time
import unittest
import uuid

from faxd_harness import FAXD_BIN, TRANSIENT, FaxdTestCase

UPLOAD_BYTES = 30 * 1000 * 1000  # 30 MB; fax.max_bytes defaults to 31457280
CHUNK = 64 * 1024
LIMIT_KB = 4 * 1024
ASAN_LIMIT_KB = 64 * 1024


def under_asan():
    """True when FAXD_BIN is built with AddressSanitizer (its runtime symbols are in the
    binary's symbol tables, which is what `nm -D` would show) or ASAN_OPTIONS is set."""
    if os.environ.get("ASAN_OPTIONS"):
        return True
    try:
        with open(FAXD_BIN, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def proc_status_kb(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s in /proc/%d/status" % (key, pid))


def reset_peak(pid):
    """Resets VmHWM to the current VmRSS (Linux >= 4.0; needs ptrace rights on pid)."""
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class RssSampler(threading.Thread):
    """Samples VmRSS every few milliseconds: the peak when VmHWM cannot be reset."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, proc_status_kb(self.pid, "VmRSS"))
            except (OSError, AssertionError):
                return
            time.sleep(0.005)


def random_chunks(total, chunk=CHUNK):
    """Yields `total` random bytes in chunks; the caller hashes them as they go."""
    left = total
    while left:
        n = min(chunk, left)
        yield os.urandom(n)
        left -= n


class UploadMemoryTest(FaxdTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.acct = cls.faxd.new_account()

    def stream_upload(self, total, filename="big.bin", ctype="application/octet-stream"):
        """Streams one multipart upload of `total` random bytes with an exact
        Content-Length. Returns (status, body bytes, sha256 hex of the file bytes)."""
        boundary = "----faxdMem" + uuid.uuid4().hex
        head = ("--%s\r\nContent-Disposition: form-data; name=\"fax_file\"; "
                "filename=\"%s\"\r\nContent-Type: %s\r\n\r\n"
                % (boundary, filename, ctype)).encode()
        tail = ("\r\n--%s--\r\n" % boundary).encode()
        conn = http.client.HTTPConnection("127.0.0.1", self.faxd.port, timeout=120)
        digest = hashlib.sha256()
        try:
            conn.putrequest("POST", "/v3/accounts/self/files")
            conn.putheader("Authorization", "Bearer " + self.acct["token"])
            conn.putheader("Content-Type", "multipart/form-data; boundary=" + boundary)
            conn.putheader("Content-Length", str(len(head) + total + len(tail)))
            conn.endheaders()
            conn.send(head)
            for data in random_chunks(total):
                digest.update(data)
                conn.send(data)
            conn.send(tail)
            r = conn.getresponse()
            return r.status, r.read(), digest.hexdigest()
        finally:
            conn.close()

    def file_sha256(self, path):
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()

    def test_30mb_upload_streams_to_disk(self):
        pid = self.faxd.proc.pid
        asan = under_asan()

        # Warm-up: allocator arenas, worker thread stacks, the SQLite connection, the
        # blob directories, libmicrohttpd's post processor.
        status, body, _ = self.stream_upload(64 * 1024, "warm.bin")
        self.assertEqual(status, 200, body[:300])
        time.sleep(0.2)

        rss0 = proc_status_kb(pid, "VmRSS")
        hwm_reset = reset_peak(pid)
        sampler = RssSampler(pid)
        sampler.start()
        try:
            status, body, want_sha = self.stream_upload(UPLOAD_BYTES)
        finally:
            sampler.stop.set()
            sampler.join()
        rss1 = proc_status_kb(pid, "VmRSS")
        hwm1 = proc_status_kb(pid, "VmHWM")

        # Correctness: 200 {"path"}, and the stored bytes are the bytes sent.
        self.assertEqual(status, 200, body[:300])
        path = json.loads(body.decode("utf-8"))["path"]
        self.assertRegex(path, TRANSIENT)
        row = self.faxd.upload_row(path)
        self.assertEqual(row["size"], UPLOAD_BYTES)
        self.assertEqual(row["sha256"].lower(), want_sha)
        self.assertEqual(self.file_sha256(self.faxd.blob_path(row["blob"])), want_sha)

        # Memory: the peak over the warm resident set. Without a VmHWM reset, VmHWM may
        # hold the start-up peak, so the sampled peak is used instead.
        peak = (hwm1 if hwm_reset else max(sampler.peak, rss1)) - rss0
        limit = ASAN_LIMIT_KB if asan else LIMIT_KB
        msg = ("30 MB upload: VmRSS before %d kB, after %d kB, VmHWM after %d kB (reset: %s),"
               " sampled peak %d kB; peak growth %d kB, limit %d kB%s"
               % (rss0, rss1, hwm1, hwm_reset, sampler.peak, peak, limit,
                  " (AddressSanitizer build: loose bound)" if asan else ""))
        sys.stderr.write("\n" + msg + "\n")
        self.assertLess(peak, limit, msg)
        self.assertLess(rss1 - rss0, limit, msg)

        # A clean stop.
        self.faxd.stop()  # asserts exit status 0 after SIGTERM


if __name__ == "__main__":
    unittest.main()
