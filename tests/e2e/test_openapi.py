#!/usr/bin/env python3
"""The OpenAPI document (src/api/openapi.json) against what faxd really serves.

(a) the document is valid JSON, has the OpenAPI 3.0.3 shape faxd relies on, and every $ref
    resolves;
(b) `faxd --list-routes` prints exactly the operations the document describes: faxd serves
    nothing undocumented and documents nothing it does not serve;
(c) a running faxd answers GET /v3/openapi.json with that same document, and only to a token.

Environment (set by CTest): FAXD_BIN, FAXCTL_BIN, FAXD_SOURCE_DIR. Python 3 stdlib only.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("FAXD_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
DOC_PATH = os.path.join(SOURCE_DIR, "src", "api", "openapi.json")
FAXD_BIN = os.environ.get("FAXD_BIN", "")
FAXCTL_BIN = os.environ.get("FAXCTL_BIN", "")

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PATH_ITEM_NON_OPS = ("$ref", "summary", "description", "servers", "parameters")


def load_doc():
    with open(DOC_PATH, "rb") as f:
        raw = f.read()
    return json.loads(raw.decode("utf-8"))


def iter_refs(node, where="#"):
    """Yields (location, ref) for every "$ref" in the document."""
    if isinstance(node, dict):
        for k, v in node.items():
            loc = where + "/" + str(k).replace("~", "~0").replace("/", "~1")
            if k == "$ref":
                yield where, v
            else:
                yield from iter_refs(v, loc)
    elif isinstance(node, list):
        for idx, v in enumerate(node):
            yield from iter_refs(v, "%s/%d" % (where, idx))


def resolve(doc, ref):
    """Resolves a local JSON pointer ("#/a/b"); raises KeyError/IndexError/ValueError."""
    if not ref.startswith("#/"):
        raise ValueError("not a local reference: %r" % ref)
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            node = node[int(part)]
        else:
            node = node[part]
    return node


def follow(doc, node):
    """Follows $ref chains to the node they name."""
    seen = 0
    while isinstance(node, dict) and "$ref" in node:
        node = resolve(doc, node["$ref"])
        seen += 1
        if seen > 20:
            raise ValueError("$ref loop")
    return node


def server_prefix(doc):
    return doc["servers"][0]["url"].rstrip("/")


def documented_operations(doc):
    """{(METHOD, /v3/path)} for every operation in the document."""
    prefix = server_prefix(doc)
    ops = set()
    for path, item in doc["paths"].items():
        for method in item:
            if method in HTTP_METHODS:
                ops.add((method.upper(), prefix + path))
    return ops


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def need_binary(tc, path, name):
    if not path:
        tc.skipTest("%s is not set (CTest sets it)" % name)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        tc.fail("%s=%s is not an executable file" % (name, path))


class DocumentTest(unittest.TestCase):
    """(a) the document itself."""

    @classmethod
    def setUpClass(cls):
        cls.doc = load_doc()

    def test_version_server_security(self):
        doc = self.doc
        self.assertEqual(doc.get("openapi"), "3.0.3")
        self.assertIn("title", doc.get("info", {}))
        self.assertIn("version", doc.get("info", {}))
        self.assertEqual(doc.get("servers"), [{"url": "/v3"}])
        scheme = doc["components"]["securitySchemes"]["bearerAuth"]
        self.assertEqual(scheme.get("type"), "http")
        self.assertEqual(scheme.get("scheme"), "bearer")
        self.assertEqual(doc.get("security"), [{"bearerAuth": []}])

    def test_every_ref_resolves(self):
        refs = list(iter_refs(self.doc))
        self.assertTrue(refs, "the document has no $ref at all")
        bad = []
        for where, ref in refs:
            try:
                resolve(self.doc, ref)
            except (KeyError, IndexError, ValueError, TypeError) as e:
                bad.append("%s -> %r (%s)" % (where, ref, e))
        self.assertEqual(bad, [], "unresolved $refs:\n" + "\n".join(bad))

    def test_every_schema_is_used(self):
        used = {ref for _, ref in iter_refs(self.doc)}
        for kind in ("schemas", "parameters", "responses"):
            for name in self.doc["components"].get(kind, {}):
                with self.subTest(kind=kind, name=name):
                    self.assertIn("#/components/%s/%s" % (kind, name), used,
                                  "components/%s/%s is never referenced" % (kind, name))

    def test_operations_are_well_formed(self):
        doc = self.doc
        op_ids = []
        for path, item in doc["paths"].items():
            self.assertTrue(path.startswith("/"), path)
            templ = set(re.findall(r"\{([^}/]+)\}", path))
            path_level = [follow(doc, p) for p in item.get("parameters", [])]
            for key in item:
                self.assertIn(key, HTTP_METHODS + PATH_ITEM_NON_OPS, "%s: %s" % (path, key))
            for method in [m for m in item if m in HTTP_METHODS]:
                op = item[method]
                where = "%s %s" % (method.upper(), path)
                with self.subTest(op=where):
                    self.assertIsInstance(op.get("operationId"), str, where)
                    op_ids.append(op["operationId"])
                    self.assertTrue(op.get("description"), where + ": no description")
                    params = path_level + [follow(doc, p) for p in op.get("parameters", [])]
                    in_path = set()
                    for p in params:
                        self.assertIn(p.get("in"), ("path", "query", "header", "cookie"), where)
                        self.assertIn("schema", p, where)
                        if p["in"] == "path":
                            self.assertIs(p.get("required"), True, where + " " + p["name"])
                            in_path.add(p["name"])
                    self.assertEqual(in_path, templ, where + ": path parameters vs template")
                    responses = op.get("responses", {})
                    ok = [c for c in responses if c.startswith("2")]
                    self.assertTrue(ok, where + ": no 2xx response")
                    for code in ("400", "401", "403", "404", "429"):
                        self.assertIn(code, responses, "%s: no %s response" % (where, code))
                        body = follow(doc, responses[code])
                        schema = body["content"]["application/json"]["schema"]
                        self.assertEqual(schema, {"$ref": "#/components/schemas/Error"},
                                         "%s: %s is not an Error" % (where, code))
                    if "requestBody" in op:
                        self.assertIn("413", responses, where + ": has a body but no 413")
                    if path.startswith("/accounts/{user_id}/outbox/{") and method in ("put",
                                                                                   "delete"):
                        self.assertIn("409", responses, where + ": no 409")
                    self.assertNotIn("security", op, where + ": overrides global security")
        self.assertEqual(len(op_ids), len(set(op_ids)), "duplicate operationIds")

    def test_expected_operations(self):
        """The operations faxd serves, by operationId: Fax.Plus's 24, the OpenAPI document,
        the preview extension and the web interface's extensions."""
        expected = {
            ("GET", "/v3/accounts"): "getAccounts",
            ("GET", "/v3/accounts/{user_id}"): "getUser",
            ("PUT", "/v3/accounts/{user_id}"): "updateUser",
            ("GET", "/v3/accounts/self/member-details/{member_user_id}"): "getMemberDetails",
            ("PUT", "/v3/accounts/self/member-details/{member_user_id}"): "updateMemberDetails",
            ("GET", "/v3/accounts/{user_id}/numbers"): "listNumbers",
            ("GET", "/v3/accounts/{user_id}/numbers/{number}"): "getNumber",
            ("PUT", "/v3/accounts/{user_id}/numbers/{number}"): "updateNumber",
            ("DELETE", "/v3/accounts/{user_id}/numbers/{number}"): "revokeNumber",
            ("GET", "/v3/accounts/{user_id}/faxes"): "listFaxes",
            ("GET", "/v3/accounts/{user_id}/faxes/{fax_id}"): "getFax",
            ("PUT", "/v3/accounts/{user_id}/faxes/{fax_id}"): "updateFax",
            ("DELETE", "/v3/accounts/{user_id}/faxes/{fax_id}"): "deleteFax",
            ("POST", "/v3/accounts/{user_id}/files"): "uploadFile",
            ("GET", "/v3/accounts/{user_id}/files/{fax_id}"): "getFile",
            ("GET", "/v3/accounts/{user_id}/report/{fax_id}"): "getFaxReport",
            ("GET", "/v3/accounts/{user_id}/outbox"): "listOutboxFaxes",
            ("POST", "/v3/accounts/{user_id}/outbox"): "sendFax",
            ("GET", "/v3/accounts/{user_id}/outbox/{outbox_fax_id}"): "getOutboxFax",
            ("PUT", "/v3/accounts/{user_id}/outbox/{outbox_fax_id}"): "updateOutboxFax",
            ("DELETE", "/v3/accounts/{user_id}/outbox/{outbox_fax_id}"): "deleteOutboxFax",
            ("POST", "/v3/hooks"): "createWebhook",
            ("GET", "/v3/hooks"): "getWebhooks",
            ("DELETE", "/v3/hooks/{hook_id}"): "deleteWebhook",
            ("GET", "/v3/hooks/{hook_id}/deliveries"): "getWebhookDeliveries",
            ("GET", "/v3/openapi.json"): "getOpenApi",
            ("GET", "/v3/healthz"): "getLiveness",
            ("GET", "/v3/readyz"): "getReadiness",
            ("POST", "/v3/accounts/{user_id}/preview"): "previewFax",
            ("GET", "/v3/accounts/{user_id}/pages/{fax_id}"): "getFaxPage",
            ("POST", "/v3/session"): "signIn",
            ("GET", "/v3/session"): "getSession",
            ("DELETE", "/v3/session"): "signOut",
            ("GET", "/v3/tokens"): "listAccessTokens",
            ("POST", "/v3/tokens"): "createAccessToken",
            ("DELETE", "/v3/tokens/{token_id}"): "revokeAccessToken",
        }
        got = {}
        prefix = server_prefix(self.doc)
        for path, item in self.doc["paths"].items():
            for method in [m for m in item if m in HTTP_METHODS]:
                got[(method.upper(), prefix + path)] = item[method]["operationId"]
        self.assertEqual(got, expected)

    def test_success_codes(self):
        paths = self.doc["paths"]
        self.assertIn("201", paths["/accounts/{user_id}/outbox"]["post"]["responses"])
        empty = {"$ref": "#/components/responses/Empty"}
        for path, item in paths.items():
            for method in ("put", "delete"):
                if method in item:
                    self.assertEqual(item[method]["responses"].get("200"), empty,
                                     "%s %s should answer 200 {}" % (method.upper(), path))

    def test_enums(self):
        s = self.doc["components"]["schemas"]
        self.assertEqual(len(s["FaxStatus"]["enum"]), 23)
        self.assertNotIn("in_progress", s["FaxStatus"]["enum"])
        self.assertEqual(s["OutboxStatus"]["enum"],
                         ["submitted", "converting", "scheduled_for_sending", "sending"])
        self.assertEqual(set(s["WebhookEventType"]["enum"]), {"fax_sent", "fax_received"})
        self.assertEqual(s["RetryOptions"]["properties"]["delay"]["maximum"], 720)
        self.assertEqual(s["RetryOptions"]["properties"]["count"]["maximum"], 3)
        self.assertNotIn("required", s["PayloadFaxModification"])


class RoutesTest(unittest.TestCase):
    """(b) faxd --list-routes equals the document's operations."""

    def test_list_routes_matches_document(self):
        need_binary(self, FAXD_BIN, "FAXD_BIN")
        r = subprocess.run([FAXD_BIN, "--list-routes"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(r.returncode, 0, "faxd --list-routes failed: %s" %
                         r.stderr.decode("utf-8", "replace"))
        lines = [ln.strip() for ln in r.stdout.decode("utf-8").splitlines() if ln.strip()]
        routes = []
        for ln in lines:
            m = re.fullmatch(r"([A-Z]+) (/\S*)", ln)
            self.assertIsNotNone(m, "not `METHOD /path`: %r" % ln)
            routes.append((m.group(1), m.group(2)))
        self.assertEqual(len(routes), len(set(routes)), "duplicate routes: %r" % sorted(
            x for x in routes if routes.count(x) > 1))
        served = set(routes)
        documented = documented_operations(load_doc())
        self.assertEqual(sorted(served - documented), [], "served but not documented")
        self.assertEqual(sorted(documented - served), [], "documented but not served")


class ServeTest(unittest.TestCase):
    """(c) a running faxd serves the document, to token holders only."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="faxd-openapi-")
        cls.proc = None
        cls.log = None

    @classmethod
    def tearDownClass(cls):
        cls.stop_faxd()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def stop_faxd(cls):
        p = cls.proc
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=15)
        cls.proc = None
        if cls.log is not None:
            cls.log.close()
            cls.log = None

    def faxd_log(self):
        try:
            with open(os.path.join(self.tmp, "faxd.log"), "rb") as f:
                return f.read()[-4000:].decode("utf-8", "replace")
        except OSError:
            return ""

    def env(self):
        e = dict(os.environ)
        e["FAXD_GENERAL_DATA_DIR"] = os.path.join(self.tmp, "data")
        e["FAXD_HTTP_ADDRESS"] = "127.0.0.1"
        e["FAXD_HTTP_PORT"] = str(self.port)
        return e

    def start_faxd(self):
        cls = type(self)
        cls.port = free_port()
        os.makedirs(os.path.join(self.tmp, "data"), exist_ok=True)
        cls.log = open(os.path.join(self.tmp, "faxd.log"), "wb")
        cls.proc = subprocess.Popen([FAXD_BIN], env=self.env(), stdin=subprocess.DEVNULL,
                                    stdout=cls.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if cls.proc.poll() is not None:
                self.fail("faxd exited with %s:\n%s" % (cls.proc.returncode, self.faxd_log()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        self.fail("faxd did not listen on port %d within 30 s:\n%s" % (self.port,
                                                                      self.faxd_log()))

    def faxctl(self, *args):
        r = subprocess.run([FAXCTL_BIN, "--json"] + list(args), env=self.env(),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(r.returncode, 0, "faxctl %s failed: %s" % (
            " ".join(args), r.stderr.decode("utf-8", "replace")))
        return json.loads(r.stdout.decode("utf-8"))

    def get(self, path, token=None):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path), method="GET")
        if token is not None:
            req.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            try:
                return e.code, e.headers, e.read()
            finally:
                e.close()

    def assert_error_body(self, headers, body, code):
        self.assertTrue((headers.get("Content-Type") or "").startswith("application/json"),
                        headers.get("Content-Type"))
        err = json.loads(body.decode("utf-8"))
        self.assertIsInstance(err, dict)
        self.assertIsInstance(err.get("error"), str, err)

    def test_serves_document(self):
        need_binary(self, FAXD_BIN, "FAXD_BIN")
        need_binary(self, FAXCTL_BIN, "FAXCTL_BIN")
        self.start_faxd()
        uid = self.faxctl("account", "create", "--type", "individual")["uid"]
        self.assertIsInstance(uid, str)
        token = self.faxctl("token", "create", "--account", uid)["token"]
        self.assertIsInstance(token, str)
        self.assertTrue(token)

        status, headers, body = self.get("/v3/openapi.json", token)
        self.assertEqual(status, 200, body[:500])
        self.assertTrue((headers.get("Content-Type") or "").startswith("application/json"),
                        headers.get("Content-Type"))
        self.assertEqual(json.loads(body.decode("utf-8")), load_doc(),
                         "faxd serves a different document than src/api/openapi.json "
                         "(rebuild faxd?)")

        with self.subTest("no token"):
            status, headers, body = self.get("/v3/openapi.json")
            self.assertEqual(status, 401, body[:500])
            self.assert_error_body(headers, body, 401)
        with self.subTest("blank token"):
            status, headers, body = self.get("/v3/openapi.json", "")
            self.assertEqual(status, 401, body[:500])
        with self.subTest("unknown token"):
            status, headers, body = self.get("/v3/openapi.json", "x" + token[1:] + "nope")
            self.assertEqual(status, 401, body[:500])


if __name__ == "__main__":
    unittest.main()
