"""faxd's command line: --dump-config, --list-routes, bad configuration, clean SIGTERM."""

import os
import subprocess
import tempfile
import unittest

from faxd_harness import FAXD_BIN, Faxd


def run_faxd(args, env_extra=None, timeout=20):
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run([FAXD_BIN] + args, env=env, capture_output=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


class CliTest(unittest.TestCase):

    def test_dump_config_reflects_env(self):
        with tempfile.TemporaryDirectory() as d:
            r = run_faxd(["--dump-config"], {"FAXD_GENERAL_DATA_DIR": d,
                                             "FAXD_HTTP_PORT": "18123",
                                             "FAXD_FAX_MAX_BYTES": "123456"})
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode()
        self.assertIn("[http]", out)
        self.assertIn("[fax]", out)
        self.assertRegex(out, r"(?m)^port\s*=\s*18123\s*$")
        self.assertRegex(out, r"(?m)^max_bytes\s*=\s*123456\s*$")

    def test_dump_config_from_file(self):
        with tempfile.TemporaryDirectory() as d:
            conf = os.path.join(d, "faxd.conf")
            with open(conf, "w") as f:
                f.write("[http]\nport = 18124\n[general]\ndata_dir = %s\n" % d)
            r = run_faxd(["-c", conf, "--dump-config"])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout.decode(), r"(?m)^port\s*=\s*18124\s*$")
            # the environment wins over the file
            r = run_faxd(["-c", conf, "--dump-config"], {"FAXD_HTTP_PORT": "18125"})
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout.decode(), r"(?m)^port\s*=\s*18125\s*$")

    def test_list_routes(self):
        r = run_faxd(["--list-routes"])
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode()
        for needle in ("/accounts", "/numbers", "/faxes", "/files", "/report", "/outbox",
                       "/hooks"):
            self.assertIn(needle, out)

    def test_bad_config_fails(self):
        with tempfile.TemporaryDirectory() as d:
            for env in ({"FAXD_HTTP_PORT": "notaport"}, {"FAXD_HTTP_PORT": "70000"},
                        {"FAXD_FAX_MAX_BYTES": "-5"}):
                with self.subTest(env=env):
                    r = run_faxd([], dict(env, FAXD_GENERAL_DATA_DIR=d,
                                          FAXD_HTTP_ADDRESS="127.0.0.1"))
                    self.assertNotEqual(r.returncode, 0)
                    self.assertTrue(r.stderr.strip(), "no message on stderr")
            r = run_faxd(["-c", os.path.join(d, "missing.conf"), "--dump-config"])
            self.assertNotEqual(r.returncode, 0)

    def test_sigterm_exits_zero_and_restarts(self):
        f = Faxd()
        try:
            f.stop()
            f.start()
            f.restart()
        finally:
            f.close()


if __name__ == "__main__":
    unittest.main()
