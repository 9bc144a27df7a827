import os
import socket
import struct
import subprocess
import tempfile
import unittest

from testkit import tls
from testkit.answers import Answer, describe, differences, summarize
from testkit.corpus import A1, IP0, LONG_ID_XML, SIC0, SIC1, UNHANDLED_NS, Context, corpus
from testkit.library import Library, sockaddr
from testkit.xmlstream import StreamReader, decode_references, parse_one

CTX = Context("alice", "localhost", "alice@localhost/res", "bob")


class Answers(unittest.TestCase):
    def test_library_reply_without_namespace(self):
        raw = (b"<iq type='result' id='a&#xA;b' to='alice@localhost/r'><address xmlns='urn:xmpp:sic:1'>"
               b"<ip>::1</ip><port>5555</port></address></iq>")
        self.assertEqual(summarize(parse_one(raw)),
                         Answer("iq", "result", "a\nb", None, None, "address", SIC1, "::1", "5555", ("ip", "port")))

    def test_error_in_jabber_client_with_echoed_payload(self):
        reader = StreamReader()
        reader.feed(b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
                    b"<iq type='error' id='x'><ip xmlns='urn:xmpp:sic:0'/><error type='auth'>"
                    b"<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>no</text>"
                    b"<forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
        answer = summarize(reader.stanzas[0])
        self.assertEqual((answer.type, answer.error_type, answer.condition, answer.name, answer.ns),
                         ("error", "auth", "forbidden", "ip", SIC0))
        self.assertEqual(describe(answer), "error auth/forbidden sic:0 <ip/>")

    def test_library_error_has_no_payload(self):
        raw = (b"<iq type='error' id=''><error type='modify'><bad-request xmlns='urn:ietf:params:xml:ns:"
               b"xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>t</text>"
               b"</error></iq>")
        answer = summarize(parse_one(raw))
        self.assertEqual((answer.id, answer.error_type, answer.condition, answer.name), ("", "modify",
                                                                                          "bad-request", None))

    def test_sic0_ip_form_and_stream_error(self):
        answer = summarize(parse_one(b"<iq type='result' id='1'><ip xmlns='urn:xmpp:sic:0'>10.0.0.1</ip></iq>"))
        self.assertEqual((answer.name, answer.ip, answer.port), ("ip", "10.0.0.1", None))
        reader = StreamReader()
        reader.feed(b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams'><stream:error>"
                    b"<invalid-from xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>")
        self.assertEqual(describe(summarize(reader.stanzas[0])), "<error/> invalid-from")

    def test_differences_name_the_fields(self):
        a = Answer("iq", "result", "a b", None, None, "address", SIC1, "::1", "1", ("ip", "port"))
        b = a._replace(id="a\nb", port=None)
        self.assertEqual(differences(a, b), ["id 'a b' != 'a\\nb'", "port '1' != None"])
        self.assertEqual(differences(a, a), [])


class LibraryCalls(unittest.TestCase):
    """Against target/release/libxmpp_sic.so (cargo build --release)."""

    @classmethod
    def setUpClass(cls):
        cls.lib = Library()

    def test_sockaddr_layouts(self):
        v4 = sockaddr("127.0.0.1", 5222)
        self.assertEqual(len(v4), 16)
        self.assertEqual(struct.unpack("=H", v4[:2])[0], socket.AF_INET)
        self.assertEqual(v4[2:8], b"\x14\x66\x7f\x00\x00\x01")
        v6 = sockaddr("::1", 443)
        self.assertEqual(len(v6), 28)
        self.assertEqual(v6[2:4], b"\x01\xbb")
        self.assertEqual(v6[8:24], socket.inet_pton(socket.AF_INET6, "::1"))

    def test_answers_with_the_peer_given(self):
        status, reply = self.lib.handle_iq(f"<iq type='get' id='a&#9;b'>{A1}</iq>", CTX.jid, None,
                                           ("192.0.2.7", 40000))
        self.assertEqual(status, "OK")
        answer = summarize(parse_one(reply))
        self.assertEqual((answer.id, answer.ip, answer.port), ("a\tb", "192.0.2.7", "40000"))

    def test_passes_what_is_not_a_request(self):
        self.assertEqual(self.lib.handle_iq(f"<iq type='get' id='1'><query xmlns='{SIC1}'/></iq>", CTX.jid,
                                            None, ("::1", 1)), ("PASS", None))

    def test_status_for_bad_input(self):
        self.assertEqual(self.lib.handle_iq(b"<iq", CTX.jid)[0], "MALFORMED_STANZA")
        self.assertEqual(self.lib.handle_iq(f"<iq type='get' id='1'>{IP0}</iq>", "not a jid@@")[0],
                         "INVALID_ARGUMENT")
        self.assertEqual(self.lib.handle_iq(f"<iq type='get' id='1'>{IP0}</iq>", CTX.jid, flags=1 << 20)[0],
                         "INVALID_ARGUMENT")
        self.assertTrue(self.lib.version())


class Corpus(unittest.TestCase):
    def setUp(self):
        self.cases = corpus()

    def test_size_and_unique_names(self):
        self.assertGreaterEqual(len(self.cases), 50)
        self.assertEqual(len({c.name for c in self.cases}), len(self.cases))

    def test_every_request_is_one_well_formed_iq(self):
        for case in self.cases:
            text, target = case.make(CTX)
            element = parse_one(text).element
            self.assertEqual(element.tag, "iq", case.name)
            self.assertEqual(element.get("to"), target, case.name)
            self.assertIn(case.via, ("v4", "v6", "starttls", "tls"))

    def test_twins_carry_no_sic_namespace_and_the_same_envelope(self):
        for case in self.cases:
            text, _ = case.make(CTX)
            twin, _ = case.twin(CTX)
            self.assertNotIn(SIC0, twin, case.name)
            self.assertNotIn(SIC1, twin, case.name)
            a, b = parse_one(text).element, parse_one(twin).element
            self.assertEqual(a.attrib, b.attrib, case.name)
            if SIC1 in text or SIC0 in text:
                self.assertIn(UNHANDLED_NS, twin, case.name)
            self.assertLessEqual(twin.count("<a>"), 1, case.name)

    def test_required_kinds_are_present(self):
        names = " | ".join(c.name for c in self.cases)
        for needed in ("&#9;", "&#10;", "&#13;", "predefined entities", "non-ASCII", "astral", "10 000",
                       "id: empty", "sic:1 <address/>", "sic:0 <ip/>", "sic:0 <address/>", "prefixed",
                       "attribute", "with text", "child", "nesting 100 ", "nesting 1 000 deep",
                       "nesting 5 000 deep", "own bare JID", "own full JID", "the domain", "another user",
                       "another domain", "upper-case", "type set", "xml:lang on the iq", "STARTTLS",
                       "direct TLS", "over v6"):
            self.assertIn(needed, names)

    def test_ids_decode_as_intended(self):
        self.assertEqual(len(decode_references(LONG_ID_XML)), 10000)
        by_name = {c.name: c for c in self.cases}
        text, _ = by_name["id: &#9;&#10;&#13; and a space together"].make(CTX)
        self.assertEqual(parse_one(text).element.get("id"), "\t\n\r \tx")
        text, _ = by_name["id: literal astral characters (emoji)"].make(CTX)
        self.assertTrue(any(ord(ch) > 0xFFFF for ch in parse_one(text).element.get("id")))

    def test_deep_cases_are_deep(self):
        for name, depth in (("nesting 100 deep", 100), ("nesting 5 000 deep", 5000)):
            case = next(c for c in self.cases if c.name == name)
            text, _ = case.make(CTX)
            self.assertEqual(text.count("<a>"), depth)


class Certificates(unittest.TestCase):
    def test_self_signed_names_the_domain(self):
        with tempfile.TemporaryDirectory() as d:
            cert, key = tls.self_signed(d, "example.test")
            out = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-subject", "-ext", "subjectAltName"],
                                 capture_output=True, text=True, check=True).stdout
            self.assertIn("example.test", out)
            self.assertIn("DNS:example.test", out)
            self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
            both = tls.combined_pem(cert, key, os.path.join(d, "both.pem"))
            with open(both) as f:
                text = f.read()
            self.assertIn("BEGIN CERTIFICATE", text)
            self.assertIn("PRIVATE KEY", text)


if __name__ == "__main__":
    unittest.main()
