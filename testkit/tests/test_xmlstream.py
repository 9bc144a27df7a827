import unittest
import xml.etree.ElementTree as ET

from testkit.xmlstream import (STREAM_NS, PullStreamReader, StreamReader, decode_references, escape_attr,
                               parse_one, raw_attribute, start_tag_end)

HEAD = (b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
        b"xmlns:stream='http://etherx.jabber.org/streams' id='s1'>")
STANZAS = [
    b"<iq type='result' id='a&#10;b' to='x@y/z'><address xmlns='urn:xmpp:sic:1'><ip>::1</ip>"
    b"<port>5</port></address></iq>",
    b"<iq type='get' id='e' note='a>b'/>",
    b"<message id=\"q\" xml:lang='en'><body>h&amp;i \xf0\x9f\x98\x80</body></message>",
    b"<iq type='error' id='x\ty'><s:address xmlns:s='urn:xmpp:sic:0'/><error type='cancel'>"
    b"<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
]


def feed_in(reader, data, step):
    for i in range(0, len(data), step):
        reader.feed(data[i:i + step])


class Stream(unittest.TestCase):
    def test_stanzas_and_their_exact_bytes_in_any_chunking(self):
        data = HEAD + b"\n ".join(STANZAS) + b"</stream:stream>"
        for step in (1, 2, 7, 64, len(data)):
            reader = StreamReader()
            feed_in(reader, data, step)
            self.assertEqual([s.raw for s in reader.stanzas], STANZAS, f"chunks of {step}")
            self.assertTrue(reader.closed)
            self.assertEqual(reader.stream_attrs["id"], "s1")

    def test_elements_are_namespaced_like_elementtree(self):
        reader = StreamReader()
        reader.feed(HEAD + b"".join(STANZAS))
        first, _, message, error = (s.element for s in reader.stanzas)
        self.assertEqual(first.tag, "{jabber:client}iq")
        self.assertEqual(first.findtext("{urn:xmpp:sic:1}address/{urn:xmpp:sic:1}port"), "5")
        self.assertEqual(first.get("id"), "a\nb")
        self.assertEqual(message.get("{http://www.w3.org/XML/1998/namespace}lang"), "en")
        self.assertEqual(message.findtext("{jabber:client}body"), "h&i \U0001F600")
        self.assertEqual(error[0].tag, "{urn:xmpp:sic:0}address")
        # What a conforming parser does to a literal tab in an attribute.
        self.assertEqual(error.get("id"), "x y")

    def test_pull_reader_gives_the_same_elements(self):
        data = HEAD + b"".join(STANZAS) + b"</stream:stream>"
        exact, fast = StreamReader(), PullStreamReader()
        feed_in(exact, data, 5)
        feed_in(fast, data, 5)
        self.assertEqual([ET.tostring(s.element) for s in exact.stanzas],
                         [ET.tostring(s.element) for s in fast.stanzas])
        self.assertTrue(fast.closed)
        self.assertTrue(all(s.raw is None for s in fast.stanzas))

    def test_stream_error(self):
        reader = StreamReader()
        reader.feed(HEAD + b"<stream:error><invalid-from xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
                           b"</stream:error></stream:stream>")
        self.assertEqual(reader.stanzas[0].element.tag, f"{{{STREAM_NS}}}error")
        self.assertTrue(reader.closed)

    def test_depth_does_not_matter(self):
        deep = b"<iq id='d'><x xmlns='urn:e'>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</x></iq>"
        reader = StreamReader()
        feed_in(reader, HEAD + deep, 4096)
        self.assertEqual(reader.stanzas[0].raw, deep)

    def test_malformed_input_raises(self):
        reader = StreamReader()
        with self.assertRaises(Exception):
            reader.feed(HEAD + b"<iq></message>")


class RawAttributes(unittest.TestCase):
    def test_values_as_written(self):
        raw = b"<iq a='x&#9;y' b=\"it's\" c = 'l\nm' d='&lt;&#x1F600;&amp;&#233;'><z/></iq>"
        self.assertEqual(raw_attribute(raw, "a"), "x\ty")
        self.assertEqual(raw_attribute(raw, "b"), "it's")
        self.assertEqual(raw_attribute(raw, "c"), "l\nm")
        self.assertEqual(raw_attribute(raw, "d"), "<\U0001F600&\u00e9")
        self.assertIsNone(raw_attribute(raw, "z"))

    def test_qualified_names_and_empty_values(self):
        raw = "<iq xml:lang='fr' id='' to='é'/>".encode()
        self.assertEqual(raw_attribute(raw, "xml:lang"), "fr")
        self.assertEqual(raw_attribute(raw, "id"), "")
        self.assertEqual(raw_attribute(raw, "to"), "é")

    def test_decode_references_only(self):
        self.assertEqual(decode_references("&amp;lt; &#10;&#xA;"), "&lt; \n\n")

    def test_start_tag_end_skips_quotes(self):
        self.assertEqual(start_tag_end(b"<a x='>' y=\"'>\"/>", 0), 16)
        self.assertEqual(start_tag_end(b"<a x='>", 0), -1)


class Escaping(unittest.TestCase):
    def test_escape_attr_round_trips_through_a_parser(self):
        value = "a&b<c>d'e\"f\tg\nh\ri \U0001F600"
        for quote in ("'", '"'):
            element = ET.fromstring(f"<x v={quote}{escape_attr(value)}{quote}/>")
            self.assertEqual(element.get("v"), value)

    def test_parse_one(self):
        stanza = parse_one("<iq id='1'><x/></iq>")
        self.assertEqual(stanza.element.tag, "iq")
        self.assertEqual(stanza.raw, b"<iq id='1'><x/></iq>")
        with self.assertRaises(ValueError):
            parse_one(b"<a/><b/>")


if __name__ == "__main__":
    unittest.main()
