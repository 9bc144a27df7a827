"""Reading XMPP's XML: a stream cut into top-level stanzas, each with its
parsed element (xml.etree, namespaces as '{ns}name') and the exact bytes it
arrived as. The bytes matter: a conforming parser normalises literal tabs
and newlines in attribute values to spaces, so only the raw start tag shows
what a server meant for an id (see raw_attribute).

Built on expat (pyexpat) directly, since ElementTree's parsers do not
report byte offsets."""

import re
import xml.etree.ElementTree as ET
import xml.parsers.expat as expat

STREAM_NS = "http://etherx.jabber.org/streams"
_PREDEFINED = {"lt": "<", "gt": ">", "amp": "&", "apos": "'", "quot": '"'}
_REFERENCE = re.compile(r"&(#x[0-9A-Fa-f]+|#[0-9]+|lt|gt|amp|apos|quot);")
_SPACE = b" \t\r\n"


class Stanza:
    """A top-level element: `element` (xml.etree) and `raw` (its bytes)."""

    __slots__ = ("element", "raw")

    def __init__(self, element, raw):
        self.element, self.raw = element, raw

    def __repr__(self):
        return f"Stanza({self.raw[:120]!r})"


def _qualified(name):
    # expat with namespace_separator '}' gives 'ns}local'; ElementTree's
    # spelling is '{ns}local'.
    return "{" + name if "}" in name else name


_START_TAG = re.compile(rb"<[^'\">]*(?:(?:'[^']*'|\"[^\"]*\")[^'\">]*)*>")


def start_tag_end(data, start):
    """The index of the '>' that ends the start tag beginning at
    data[start] ('<'), skipping quoted attribute values (which may hold a
    literal '>'). -1 when the tag is not complete in `data`."""
    m = _START_TAG.match(data, start)
    return m.end() - 1 if m else -1


def decode_references(text):
    """Replaces the five predefined entities and character references, and
    nothing else: no whitespace normalisation."""
    def one(m):
        ref = m.group(1)
        if ref.startswith("#x"):
            return chr(int(ref[2:], 16))
        if ref.startswith("#"):
            return chr(int(ref[1:]))
        return _PREDEFINED[ref]
    return _REFERENCE.sub(one, text)


def start_tag_attributes(raw):
    """{qualified name: value} of the first start tag in `raw` (bytes of a
    well-formed element), values with references decoded but literal
    whitespace kept as written."""
    end = start_tag_end(raw, 0)
    text = raw[: end if end >= 0 else len(raw)].decode("utf-8")
    attrs = {}
    i = 1
    n = len(text)
    while i < n and text[i] not in " \t\r\n/>":
        i += 1  # the element's name
    while i < n:
        while i < n and text[i] in " \t\r\n/":
            i += 1
        if i >= n:
            break
        eq = text.index("=", i)
        name = text[i:eq].strip()
        i = eq + 1
        while text[i] in " \t\r\n":
            i += 1
        quote = text[i]
        close = text.index(quote, i + 1)
        attrs[name] = decode_references(text[i + 1:close])
        i = close + 1
    return attrs


def raw_attribute(raw, name, default=None):
    """The value of attribute `name` (as written, e.g. 'id' or 'xml:lang')
    of the element whose bytes are `raw`, decoded without the attribute
    value normalisation a parser applies."""
    return start_tag_attributes(raw).get(name, default)


class StreamReader:
    """Incremental: feed() bytes as they arrive, take complete stanzas
    from `stanzas` (a list, oldest first). With stanza_depth=2 (an XMPP
    stream) the root is <stream:stream> and its children are the stanzas;
    with stanza_depth=1 each top-level element of the input is one."""

    def __init__(self, stanza_depth=2):
        self.stanza_depth = stanza_depth
        self.stanzas = []
        self.stream_attrs = None
        self.closed = False
        self._buf = bytearray()
        self._base = 0  # absolute offset of _buf[0]
        self._depth = 0
        self._start = None
        self._builder = None
        self._names = {}
        p = expat.ParserCreate(namespace_separator="}")
        p.buffer_text = True
        p.StartElementHandler = self._on_start
        p.EndElementHandler = self._on_end
        p.CharacterDataHandler = self._on_data
        self._parser = p

    def feed(self, data):
        """Parses `data`; raises expat.ExpatError on malformed input."""
        self._buf += data
        self._parser.Parse(data, False)

    def _on_start(self, name, attrs):
        self._depth += 1
        if self._depth < self.stanza_depth:
            self.stream_attrs = {_qualified(k): v for k, v in attrs.items()}
            return
        names = self._names
        tag = names.get(name)
        if tag is None:
            tag = names[name] = _qualified(name)
        if attrs:
            attrs = {names.get(k) or names.setdefault(k, _qualified(k)): v for k, v in attrs.items()}
        if self._depth == self.stanza_depth:
            self._start = self._parser.CurrentByteIndex
            self._builder = ET.TreeBuilder()
        self._builder.start(tag, attrs)

    def _on_data(self, text):
        if self._builder is not None:
            self._builder.data(text)

    def _on_end(self, name):
        depth = self._depth
        self._depth -= 1
        if depth < self.stanza_depth:
            self.closed = True
            return
        self._builder.end(self._names[name])
        if depth > self.stanza_depth:
            return
        element = self._builder.close()
        self._builder = None
        start = self._start - self._base
        head_end = start_tag_end(self._buf, start)
        if self._buf[head_end - 1] == 0x2F:  # '/': an empty-element tag
            end = head_end + 1
        else:
            end = self._buf.index(b">", self._parser.CurrentByteIndex - self._base) + 1
        self.stanzas.append(Stanza(element, bytes(self._buf[start:end])))
        # Keeps memory flat over a long pipelined run.
        del self._buf[:end]
        self._base += end


class PullStreamReader:
    """StreamReader's interface on ElementTree's C parser: about twice as
    fast, for load and benchmarks, but each Stanza's `raw` is None."""

    def __init__(self, stanza_depth=2):
        self.stanza_depth = stanza_depth
        self.stanzas = []
        self.stream_attrs = None
        self.closed = False
        self._parser = ET.XMLPullParser(events=("start", "end"))
        self._depth = 0
        self._root = None

    def feed(self, data):
        self._parser.feed(data)
        for event, element in self._parser.read_events():
            if event == "start":
                self._depth += 1
                if self._depth == self.stanza_depth - 1:
                    self._root = element
                    self.stream_attrs = dict(element.attrib)
            else:
                self._depth -= 1
                if self._depth == self.stanza_depth - 1:
                    self.stanzas.append(Stanza(element, None))
                    if self._root is not None:
                        # Keeps memory flat over a long pipelined run.
                        self._root.remove(element)
                elif self._depth < self.stanza_depth - 1:
                    self.closed = True


def parse_one(data):
    """The single element in `data` (bytes or str) as a Stanza; ValueError
    when it is not exactly one well-formed element."""
    if isinstance(data, str):
        data = data.encode()
    reader = StreamReader(stanza_depth=1)
    try:
        reader.feed(data)
        reader._parser.Parse(b"", True)
    except expat.ExpatError as e:
        raise ValueError(f"not one well-formed element: {e}") from None
    if len(reader.stanzas) != 1:
        raise ValueError(f"expected one element, found {len(reader.stanzas)}")
    return reader.stanzas[0]


def escape_attr(value):
    """Text for a quoted attribute value ('...' or "..."): every character
    that could end or change it is a reference, so the value a parser reads
    back is exactly `value`, tabs and newlines included."""
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("'", "&apos;").replace('"', "&quot;")
            .replace("\t", "&#9;").replace("\n", "&#10;").replace("\r", "&#13;"))


def escape_text(value):
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def show(element):
    """An element as text, for messages."""
    return ET.tostring(element, encoding="unicode")
