"""The agreement test's requests: Server IP Check IQs as a client writes
them (ids full of references, every form, prefixes, payload shapes, deep
nesting, every kind of target, every IQ type, xml:lang). Each case makes
its stanza from the sender's context, so the same corpus runs against any
server and account.

A case's `via` says which connection sends it: v4 and v6 (plain TCP on
127.0.0.1 and ::1), starttls, tls (direct TLS). `server_first`, when set,
is why the server, not the module, is expected to answer (RFC 6120
routing); the agreement test checks that claim and reports such cases
apart, never as agreement. `known` maps a server to (why it changes the
request before any module sees it, the request as it then delivers it):
the test checks that the server's answer is exactly the library's answer to
the delivered request, and reports the case apart; any other answer fails.

A case's twin is the same request with its Server IP Check namespaces
replaced by one no module handles: what the server answers with no module.
Deep payloads have a shallow twin: servers echo an unhandled IQ's payload
in their error, and ejabberd 23.01 crashes serialising one 5 000 deep (its
own weakness, HOSTS.md), which would blame the module for the twin."""

from collections import namedtuple

from .xmlstream import escape_attr

SIC0, SIC1 = "urn:xmpp:sic:0", "urn:xmpp:sic:1"
A1 = f"<address xmlns='{SIC1}'/>"
A0 = f"<address xmlns='{SIC0}'/>"
IP0 = f"<ip xmlns='{SIC0}'/>"
OTHER_DOMAIN = "example.org"
# 2 500 times 'é&x😀' (four characters, one astral): 10 000 characters.
LONG_ID_XML = "é&amp;x😀" * 2500

UNHANDLED_NS = "urn:xmpp:testkit:unhandled"

Case = namedtuple("Case", "name make via server_first twin known")


class Context(namedtuple("Context", "user domain jid other_user")):
    """Who sends: `jid` is the full JID the server bound."""

    @property
    def bare(self):
        return f"{self.user}@{self.domain}"

    @property
    def resource(self):
        return self.jid.split("/", 1)[1]


def iq(*, kind="get", id_xml="q1", to=None, payload=A1, attrs=""):
    """(stanza text, target): `id_xml` goes into the attribute as written
    (references and all); `to` is a JID, escaped here."""
    to_attr = f" to='{escape_attr(to)}'" if to is not None else ""
    return f"<iq type='{kind}' id='{id_xml}'{to_attr}{attrs}>{payload}</iq>", to


def nested(depth, form=A1):
    """`form` holding elements nested `depth` deep."""
    name, ns = ("ip", SIC0) if form == IP0 else ("address", SIC1 if form == A1 else SIC0)
    return f"<{name} xmlns='{ns}'>" + "<a>" * depth + "</a>" * depth + f"</{name}>"


def twin_of(make):
    """A twin maker: `make`'s stanza with the sic namespaces replaced."""
    def twin(ctx):
        text, target = make(ctx)
        return text.replace(SIC1, UNHANDLED_NS).replace(SIC0, UNHANDLED_NS), target
    return twin


def corpus():
    cases = []

    def add(name, make, via="v4", server_first=None, twin=None, known=None):
        cases.append(Case(name, make, via, server_first, twin or twin_of(make), known or {}))

    # ids: every predefined entity, whitespace references, non-ASCII,
    # astral, 10 000 characters, empty.
    for name, id_xml in [
        ("id: the five predefined entities", "a&amp;b&lt;c&gt;d&quot;e&apos;f"),
        ("id: &#9; (tab)", "a&#9;b"),
        ("id: &#10; (newline)", "a&#10;b"),
        ("id: &#13; (carriage return)", "a&#13;b"),
        ("id: &#9;&#10;&#13; and a space together", "&#9;&#10;&#13; &#9;x"),
        ("id: entities and whitespace references mixed", "&lt;&#10;&amp;&#9;&apos;&#13;&gt;"),
        ("id: hexadecimal references, one astral", "&#x41;&#x1F600;&#xE9;"),
        ("id: literal non-ASCII", "héllo wörld 日本語"),
        ("id: literal astral characters (emoji)", "😀🎉𝄞"),
        ("id: 10 000 characters", LONG_ID_XML),
        ("id: empty", ""),
        ("id: a literal '>' and two spaces", "a>b  c"),
    ]:
        add(name, lambda c, i=id_xml: iq(id_xml=i))
    add("id: in double quotes, holding an apostrophe",
        lambda c: (f"<iq type=\"get\" id=\"it's &#10;\">{A1}</iq>", None))

    # The three forms, over each transport.
    forms = [("sic:1 <address/>", A1), ("sic:0 <ip/>", IP0), ("sic:0 <address/>", A0)]
    for via in ("v4", "v6"):
        for name, form in forms:
            add(f"{name}, no to, over {via}", lambda c, f=form: iq(payload=f), via)
    add("sic:1 <address/> over STARTTLS", lambda c: iq(payload=A1), "starttls")
    add("sic:0 <ip/> over STARTTLS", lambda c: iq(payload=IP0), "starttls")
    add("sic:1 <address/> over direct TLS", lambda c: iq(payload=A1), "tls")
    add("sic:0 <address/> over direct TLS", lambda c: iq(payload=A0), "tls")

    # Prefixes and namespace declarations.
    add("prefixed sic:1 <s:address/>", lambda c: iq(payload=f"<s:address xmlns:s='{SIC1}'/>"))
    add("prefixed sic:0 <s:ip/>", lambda c: iq(payload=f"<s:ip xmlns:s='{SIC0}'/>"))
    add("prefixed sic:0 <s:address/>", lambda c: iq(payload=f"<s:address xmlns:s='{SIC0}'/>"))
    add("prefix declared on the iq, used by the payload",
        lambda c: iq(attrs=f" xmlns:s='{SIC1}'", payload="<s:address/>"))
    add("payload with an extra namespace declaration",
        lambda c: iq(payload=f"<address xmlns='{SIC1}' xmlns:x='urn:example:x'/>"))

    # Payload shapes.
    add("payload with an attribute", lambda c: iq(payload=f"<address xmlns='{SIC1}' foo='bar'/>"))
    add("payload with a namespaced attribute",
        lambda c: iq(payload=f"<address xmlns='{SIC1}' xmlns:x='urn:example:x' x:foo='bar'/>"))
    add("payload with xml:lang", lambda c: iq(payload=f"<ip xmlns='{SIC0}' xml:lang='de'/>"))
    add("payload with text", lambda c: iq(payload=f"<address xmlns='{SIC1}'>hello</address>"))
    add("payload with an entity as its text", lambda c: iq(payload=f"<ip xmlns='{SIC0}'>&amp;</ip>"))
    add("payload with whitespace only", lambda c: iq(payload=f"<address xmlns='{SIC1}'> \n\t </address>"))
    add("payload with whitespace references only",
        lambda c: iq(payload=f"<address xmlns='{SIC1}'>&#9;&#10;&#13;&#32;</address>"))
    add("payload with a child (a client-supplied ip)",
        lambda c: iq(payload=f"<address xmlns='{SIC1}'><ip>192.0.2.1</ip></address>"))
    add("sic:0 <ip/> with an empty child", lambda c: iq(payload=f"<ip xmlns='{SIC0}'><x/></ip>"))
    add("another element after the payload",
        lambda c: iq(payload=A1 + "<extra xmlns='urn:example:x'/>"))
    add("text before the payload", lambda c: iq(payload="junk" + A1),
        known={"ejabberd": ("ejabberd's codec (xmpp:decode) drops an IQ's character data before any module "
                            "sees the #iq{}, so the binding cannot report it",
                            lambda c: iq(payload=A1))})
    shallow = twin_of(lambda c: iq(payload=nested(1)))
    add("nesting 100 deep", lambda c: iq(payload=nested(100)), twin=shallow)
    add("nesting 1 000 deep", lambda c: iq(payload=nested(1000)), twin=shallow)
    add("nesting 5 000 deep", lambda c: iq(payload=nested(5000)), twin=shallow)
    add("nesting 1 000 deep in sic:0 <ip/>", lambda c: iq(payload=nested(1000, IP0)),
        twin=twin_of(lambda c: iq(payload=nested(1, IP0))))
    add("not a request: <query xmlns='urn:xmpp:sic:1'/>", lambda c: iq(payload=f"<query xmlns='{SIC1}'/>"))
    add("not a request: <address xmlns='urn:xmpp:sic:2'/>",
        lambda c: iq(payload="<address xmlns='urn:xmpp:sic:2'/>"))

    # Targets.
    add("to the own bare JID", lambda c: iq(to=c.bare))
    add("to the own bare JID, sic:0 <ip/>", lambda c: iq(to=c.bare, payload=IP0))
    add("to the own bare JID, node upper-case", lambda c: iq(to=f"{c.user.upper()}@{c.domain}"))
    add("to the own bare JID, domain upper-case", lambda c: iq(to=f"{c.user}@{c.domain.upper()}"))
    add("to the own bare JID, mixed case", lambda c: iq(to=f"{c.user.capitalize()}@{c.domain.capitalize()}"))
    add("to the domain", lambda c: iq(to=c.domain))
    add("to the domain, upper-case", lambda c: iq(to=c.domain.upper()))
    add("to the domain, sic:0 <address/>", lambda c: iq(to=c.domain, payload=A0))
    add("to another user", lambda c: iq(to=f"{c.other_user}@{c.domain}"))
    add("to another user, sic:0 <ip/>", lambda c: iq(to=f"{c.other_user}@{c.domain}", payload=IP0))
    add("to an account that does not exist", lambda c: iq(to=f"nobody@{c.domain}"))
    add("to the own full JID", lambda c: iq(to=c.jid),
        server_first="an IQ to a connected full JID is routed to that client (RFC 6120 §10.5.4)")
    add("to the own full JID, resource case changed",
        lambda c: iq(to=f"{c.bare}/{c.resource.swapcase()}"),
        server_first="resources are case-sensitive: an offline full JID, answered by the server "
                     "(RFC 6120 §8.5.3.2.1)")
    add("to another domain", lambda c: iq(to=OTHER_DOMAIN),
        server_first="a remote domain: routed to s2s, which is off")
    add("to a user of another domain", lambda c: iq(to=f"{c.user}@{OTHER_DOMAIN}"),
        server_first="a remote domain: routed to s2s, which is off")
    add("a forged from is not the sender", lambda c: iq(attrs=f" from='{c.other_user}@{c.domain}/x'"))

    # IQ types.
    add("type set, sic:1", lambda c: iq(kind="set"))
    add("type set, sic:0 <ip/>", lambda c: iq(kind="set", payload=IP0))
    add("type set, sic:0 <address/> to the domain", lambda c: iq(kind="set", to=c.domain, payload=A0))
    add("type set to another user", lambda c: iq(kind="set", to=f"{c.other_user}@{c.domain}"))
    add("type result carrying a payload", lambda c: iq(kind="result"))
    add("type error carrying a payload", lambda c: iq(kind="error"))
    add("type 'fetch' (not an IQ type)", lambda c: iq(kind="fetch"))

    # xml:lang on the iq.
    add("xml:lang on the iq, get", lambda c: iq(attrs=" xml:lang='fr'"))
    add("xml:lang on the iq, set", lambda c: iq(kind="set", attrs=" xml:lang='fr'"))
    add("xml:lang on the iq, to another user",
        lambda c: iq(to=f"{c.other_user}@{c.domain}", attrs=" xml:lang='ja'"))
    return cases
