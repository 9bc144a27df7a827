"""What an IQ reply says, reduced to the fields a Server IP Check answer is
judged on, so a server's reply and the library's can be compared: IQ type,
id (as written: references decoded, no attribute-value normalisation),
error type and condition, and the payload (name, namespace, ip text, port,
and the order of its children)."""

from collections import namedtuple

from .xmlstream import STREAM_NS, raw_attribute
from .xmpp import CLIENT_NS, STANZAS_NS

# The library writes its replies with no xmlns (the host's stream supplies
# one); a server's arrive in jabber:client.
_ERROR_TAGS = ("error", f"{{{CLIENT_NS}}}error", "{jabber:server}error")
SIC_NAMESPACES = {"urn:xmpp:sic:0": "sic:0", "urn:xmpp:sic:1": "sic:1"}

Answer = namedtuple("Answer", "kind type id error_type condition name ns ip port children")
Answer.__doc__ = """kind: 'iq' or the stanza's local name ('error' for a
stream error, 'message', ...); port: None when absent, else its text."""


def _split(tag):
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return ns, name
    return "", tag


def summarize(stanza):
    """The Answer of a Stanza (xmlstream.Stanza: element and raw bytes)."""
    el = stanza.element
    ns, name = _split(el.tag)
    if ns == STREAM_NS or name != "iq":
        condition = None
        if ns == STREAM_NS and name == "error":
            condition = next((_split(c.tag)[1] for c in el if _split(c.tag)[1] != "text"), None)
        return Answer(name, None, None, None, condition, None, None, None, None, ())
    iq_id = raw_attribute(stanza.raw, "id") if stanza.raw is not None else el.get("id")
    error_type = condition = None
    payload = None
    for child in el:
        if child.tag in _ERROR_TAGS:
            error_type = child.get("type")
            condition = next((_split(c.tag)[1] for c in child
                              if _split(c.tag)[0] == STANZAS_NS and _split(c.tag)[1] != "text"), None)
        elif payload is None:
            payload = child
    p_name = p_ns = ip = port = None
    children = ()
    if payload is not None:
        p_ns, p_name = _split(payload.tag)
        children = tuple(_split(c.tag)[1] for c in payload)
        if p_name == "ip":
            ip = payload.text
        else:
            ip = payload.findtext(f"{{{p_ns}}}ip")
            port = payload.findtext(f"{{{p_ns}}}port")
    return Answer("iq", el.get("type"), iq_id, error_type, condition, p_name, p_ns, ip, port, children)


def describe(answer):
    """One short line for a report."""
    if answer is None:
        return "no reply"
    if answer.kind != "iq":
        return f"<{answer.kind}/>" + (f" {answer.condition}" if answer.condition else "")
    text = f"{answer.type}"
    if answer.error_type or answer.condition:
        text += f" {answer.error_type}/{answer.condition}"
    if answer.name:
        short = SIC_NAMESPACES.get(answer.ns, answer.ns)
        text += f" {short} <{answer.name}/>"
        if answer.ip is not None:
            text += f" ip={answer.ip}"
        if answer.port is not None:
            text += f" port={answer.port}"
        if answer.children and answer.name != "ip":
            text += f" [{','.join(answer.children)}]"
    return text


def differences(server, library, limit=60):
    """'field: server value != library value' for each field in which two
    Answers differ (values shortened to `limit` characters)."""
    def cut(value):
        text = repr(value)
        return text if len(text) <= limit else text[:limit] + f"...({len(text)})"
    return [f"{field} {cut(getattr(server, field))} != {cut(getattr(library, field))}"
            for field in Answer._fields if getattr(server, field) != getattr(library, field)]
