import contextlib
import io
import json
import os
import tempfile
import unittest

from testkit import deployments as d
from testkit.xmlstream import parse_one


class ProxyHeaders(unittest.TestCase):
    def test_v1(self):
        self.assertEqual(d.proxy_v1("198.51.100.7", "127.0.0.1", 40001, 5222),
                         b"PROXY TCP4 198.51.100.7 127.0.0.1 40001 5222\r\n")
        self.assertTrue(d.proxy_v1("2001:db8::7", "::1", 1, 2).startswith(b"PROXY TCP6 2001:db8::7 ::1 1 2"))

    def test_v2_tcp4_layout(self):
        header = d.proxy_v2("192.0.2.1", "127.0.0.1", 0x1234, 5222)
        self.assertEqual(header[:12], b"\r\n\r\n\x00\r\nQUIT\n")
        self.assertEqual(header[12:16], b"\x21\x11\x00\x0c")  # v2 PROXY, TCP over IPv4, 12 bytes
        self.assertEqual(header[16:], bytes([192, 0, 2, 1, 127, 0, 0, 1, 0x12, 0x34, 0x14, 0x66]))

    def test_v2_tcp6_length(self):
        header = d.proxy_v2("2001:db8::8", "::1", 1, 2)
        self.assertEqual(header[13], 0x21)
        self.assertEqual(len(header), 16 + 36)


class Expect(unittest.TestCase):
    def reply(self, inner):
        return parse_one(("<iq xmlns='jabber:client' type='result' id='x'><address xmlns='urn:xmpp:sic:1'>"
                          + inner + "</address></iq>").encode()).element

    def test_port_presence_and_value(self):
        d.expect(self.reply("<ip>::1</ip><port>5</port>"), "::1", 5)
        d.expect(self.reply("<ip>::1</ip>"), "::1", None)
        with self.assertRaises(d.Failure):
            d.expect(self.reply("<ip>::1</ip><port>5</port>"), "::1", None)
        with self.assertRaises(d.Failure):
            d.expect(self.reply("<ip>::1</ip>"), "::1", 5)
        with self.assertRaises(d.Failure):
            d.expect(self.reply("<ip>127.0.0.1</ip><port>5</port>"), "::1", 5)


class Compare(unittest.TestCase):
    def run_compare(self, a, b):
        with tempfile.TemporaryDirectory() as tmp:
            paths = [os.path.join(tmp, "a.json"), os.path.join(tmp, "b.json")]
            for path, data in zip(paths, (a, b)):
                with open(path, "w") as f:
                    json.dump(data, f)
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                status = d.compare(paths)
        return status, out.getvalue().splitlines()[-1]

    def test_module_answers_must_match(self):
        same = {"c": {"by": "module", "type": "result"}}
        self.assertEqual(self.run_compare(same, same), (0, "1 passed, 0 failed"))
        self.assertEqual(self.run_compare(same, {"c": {"by": "module", "type": "error"}}), (1, "0 passed, 1 failed"))
        self.assertEqual(self.run_compare(same, {}), (1, "0 passed, 1 failed"))

    def test_server_refusals_are_reported_not_counted(self):
        self.assertEqual(self.run_compare({"c": {"by": "server", "kind": "bound"}},
                                          {"c": {"by": "server", "kind": "bind refused"}}),
                         (0, "0 passed, 0 failed"))


if __name__ == "__main__":
    unittest.main()
