//! The decision: what a Server IP Check request is answered with, from the
//! parts of the IQ, the sender and target, and what the server knows about the
//! client's connection. Pure and allocation-free; both entry points (the raw
//! stanza and the host-parsed parts) end here, so they cannot disagree.

use std::ffi::CStr;
use std::net::{IpAddr, SocketAddr};

use crate::addr::reported_ip;
use crate::jid::Jid;
use crate::Flags;

/// The IQ's `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IqType {
    /// `get`: the only type a request is answered for.
    Get,
    /// `set`: answered `<not-allowed/>`.
    Set,
    /// `result`: never ours.
    Result,
    /// `error`: never ours.
    Error,
    /// A type RFC 6120 does not define: answered `<bad-request/>`.
    Unknown,
}

/// Which XEP-0279 request form was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// `<address xmlns='urn:xmpp:sic:1'/>` (XEP v0.2).
    Sic1Address,
    /// `<ip xmlns='urn:xmpp:sic:0'/>` (XEP v0.1, what slixmpp sends).
    Sic0Ip,
    /// `<address xmlns='urn:xmpp:sic:0'/>` (ejabberd's form).
    Sic0Address,
}

/// The two Server IP Check namespaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SicNs {
    /// `urn:xmpp:sic:0` (XEP v0.1).
    Sic0,
    /// `urn:xmpp:sic:1` (XEP v0.2).
    Sic1,
}

impl SicNs {
    /// The namespace a (decoded) URI names, if it is one of ours.
    pub fn of_uri(uri: &str) -> Option<SicNs> {
        match uri {
            crate::NS_SIC1 => Some(SicNs::Sic1),
            crate::NS_SIC0 => Some(SicNs::Sic0),
            _ => None,
        }
    }

    /// Its URI.
    pub const fn uri(self) -> &'static str {
        match self {
            SicNs::Sic0 => crate::NS_SIC0,
            SicNs::Sic1 => crate::NS_SIC1,
        }
    }
}

impl Form {
    /// The request form of an element, given its local name and namespace,
    /// or `None` when it is not one we answer.
    pub fn of(local: &str, ns: Option<SicNs>, flags: Flags) -> Option<Form> {
        match (ns?, local) {
            (SicNs::Sic1, "address") => Some(Form::Sic1Address),
            _ if flags.contains(Flags::NO_SIC0) => None,
            (SicNs::Sic0, "ip") => Some(Form::Sic0Ip),
            (SicNs::Sic0, "address") => Some(Form::Sic0Address),
            _ => None,
        }
    }

    /// The local name of the reply's payload element (the request's own).
    pub const fn element(self) -> &'static str {
        match self {
            Form::Sic0Ip => "ip",
            Form::Sic1Address | Form::Sic0Address => "address",
        }
    }

    /// The namespace of the reply's payload element (the request's own).
    pub const fn namespace(self) -> &'static str {
        match self {
            Form::Sic1Address => SicNs::Sic1.uri(),
            Form::Sic0Ip | Form::Sic0Address => SicNs::Sic0.uri(),
        }
    }
}

/// What the payload element holds besides its name, and what stands beside
/// it in the IQ: a bit set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Shape(u32);

impl Shape {
    /// An empty payload, alone in its IQ.
    pub const EMPTY: Shape = Shape(0);
    /// The payload has child elements.
    pub const CHILDREN: Shape = Shape(1);
    /// The payload has character data other than XML whitespace.
    pub const TEXT: Shape = Shape(2);
    /// The payload has attributes besides namespace declarations. Accepted:
    /// XEP-0279 defines none, and RFC 6120 lets a receiver ignore what it
    /// does not know. Hosts report it so that this rule stays here.
    pub const ATTRIBUTES: Shape = Shape(4);
    /// The IQ has another child element after the payload, or character data
    /// other than whitespace beside it.
    pub const SIBLINGS: Shape = Shape(8);
    const ALL: u32 = 15;
    /// What makes a request malformed (`<bad-request/>`).
    const UNCLEAN: Shape = Shape(1 | 2 | 8);

    /// The parser's own bit, never reported: the IQ has a second child
    /// element, so depth 2 is no longer inside the payload.
    const SECOND_CHILD: u32 = 16;
    /// What the parser sets when the IQ's second child element opens.
    pub(crate) const SIBLINGS_AND_SECOND_CHILD: Shape = Shape(8 | Self::SECOND_CHILD);

    /// While parsing: no second child element has opened yet.
    pub(crate) const fn in_first_child(self) -> bool {
        self.0 & Self::SECOND_CHILD == 0
    }

    /// The bits a caller sees, without the parser's own.
    pub(crate) const fn reported(self) -> Shape {
        Shape(self.0 & Self::ALL)
    }

    /// Accepts only known bits.
    pub const fn from_bits(bits: u32) -> Option<Shape> {
        if bits & !Self::ALL == 0 {
            Some(Shape(bits))
        } else {
            None
        }
    }

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Adds the bits of `other`.
    pub fn insert(&mut self, other: Shape) {
        self.0 |= other.0;
    }

    /// True when any bit of `other` is set.
    pub const fn intersects(self, other: Shape) -> bool {
        self.0 & other.0 != 0
    }
}

/// How the client is connected to the server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Transport {
    /// A TCP connection carrying an XML stream, with or without TLS (RFC 6120).
    #[default]
    Stream,
    /// An XMPP stream over WebSocket (RFC 7395).
    WebSocket,
    /// BOSH (XEP-0124/0206): the session outlives each of its HTTP
    /// connections, so no port identifies the client.
    Bosh,
}

/// Where the server took the client's address from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Source {
    /// The peer of the server's own socket.
    #[default]
    Socket,
    /// A PROXY protocol header from a proxy the server trusts: address and
    /// port are the client's.
    ProxyProtocol,
    /// An HTTP header such as X-Forwarded-For from a proxy the server trusts:
    /// the address is the client's, but the header carries no port.
    Forwarded,
}

/// What the server knows about the client's connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Connection {
    /// The client's address as the server accepted it; `None` when unknown
    /// or not an IP address (a Unix socket).
    pub addr: Option<SocketAddr>,
    /// How the client is connected.
    pub transport: Transport,
    /// Where `addr` came from.
    pub source: Source,
}

impl Connection {
    /// A direct TCP connection from `addr`.
    pub const fn socket(addr: Option<SocketAddr>) -> Connection {
        Connection {
            addr,
            transport: Transport::Stream,
            source: Source::Socket,
        }
    }

    /// The port to report: only the source port of the client's own
    /// connection, as the server saw it.
    #[inline]
    fn port(&self, flags: Flags) -> Option<u16> {
        let port = self.addr?.port();
        let own_connection = self.transport != Transport::Bosh && self.source != Source::Forwarded;
        (own_connection && port != 0 && !flags.contains(Flags::OMIT_PORT)).then_some(port)
    }
}

/// The parts of an IQ the decision reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parts {
    /// The IQ's type.
    pub kind: IqType,
    /// The request form of the IQ's first child element, `None` when it has
    /// none or it is not a Server IP Check element.
    pub form: Option<Form>,
    /// The payload's shape.
    pub shape: Shape,
}

/// The stanza errors we answer with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StanzaError {
    /// Asking about another account or domain.
    Forbidden,
    /// `type='set'`.
    NotAllowed,
    /// The payload has content, or siblings.
    BadPayload,
    /// The IQ type is none of get, set, result, error.
    BadType,
    /// The host did not give an IP address for this connection.
    NoAddress,
}

impl StanzaError {
    /// Every error, for tests that go through them all.
    #[cfg(test)]
    pub(crate) const ALL: [StanzaError; 5] = [
        StanzaError::Forbidden,
        StanzaError::NotAllowed,
        StanzaError::BadPayload,
        StanzaError::BadType,
        StanzaError::NoAddress,
    ];

    /// The RFC 6120 error type, condition and English text, the one table
    /// both the rendered stanza and the structured answer read.
    pub const fn parts(self) -> (&'static CStr, &'static CStr, &'static CStr) {
        match self {
            StanzaError::Forbidden => (
                c"auth",
                c"forbidden",
                c"Only the account itself may ask for its IP address",
            ),
            StanzaError::NotAllowed => (
                c"cancel",
                c"not-allowed",
                c"Server IP Check requests must be of type get",
            ),
            StanzaError::BadPayload => (
                c"modify",
                c"bad-request",
                c"The Server IP Check element must be empty and the only child of the IQ",
            ),
            StanzaError::BadType => (
                c"modify",
                c"bad-request",
                c"The IQ type must be get, set, result or error",
            ),
            StanzaError::NoAddress => (
                c"cancel",
                c"service-unavailable",
                c"The server does not know an IP address for this connection",
            ),
        }
    }
}

/// An answer to a Server IP Check request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// An IQ result carrying the address.
    Result {
        /// The form to answer in (the request's own).
        form: Form,
        /// The client's address (an IPv4-mapped one already unmapped unless
        /// the flags keep it).
        ip: IpAddr,
        /// The port to report, if any (never for sic:0, which defines none).
        port: Option<u16>,
    },
    /// An IQ error.
    Error(StanzaError),
}

/// Decides the answer, or `None` when the IQ is not ours to answer.
#[inline(always)]
pub fn decide(
    parts: &Parts,
    sender: &Jid<'_>,
    target: Option<&Jid<'_>>,
    conn: &Connection,
    flags: Flags,
) -> Option<Answer> {
    let form = match (parts.kind, parts.form) {
        (IqType::Result | IqType::Error, _) | (_, None) => return None,
        (_, Some(form)) => form,
    };
    let error = if parts.kind == IqType::Unknown {
        StanzaError::BadType
    } else if parts.shape.intersects(Shape::UNCLEAN) {
        StanzaError::BadPayload
    } else if !target.is_none_or(|t| t.is_own_account_or_domain_of(sender)) {
        StanzaError::Forbidden
    } else if parts.kind == IqType::Set {
        StanzaError::NotAllowed
    } else if let Some(addr) = conn.addr {
        return Some(Answer::Result {
            form,
            ip: reported_ip(addr.ip(), flags),
            // sic:0 defines no port.
            port: conn.port(flags).filter(|_| form == Form::Sic1Address),
        });
    } else {
        StanzaError::NoAddress
    };
    Some(Answer::Error(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(addr: &str, transport: Transport, source: Source) -> Connection {
        Connection {
            addr: Some(addr.parse().unwrap()),
            transport,
            source,
        }
    }

    #[test]
    fn ports_only_from_the_clients_own_connection() {
        use Source::*;
        use Transport::*;
        let cases = [
            (Stream, Socket, Some(5222)),
            (Stream, ProxyProtocol, Some(5222)),
            (WebSocket, Socket, Some(5222)),
            (WebSocket, Forwarded, None),
            (Bosh, Socket, None),
            (Bosh, Forwarded, None),
            (Stream, Forwarded, None),
        ];
        for (transport, source, want) in cases {
            let c = conn("192.0.2.1:5222", transport, source);
            assert_eq!(c.port(Flags::NONE), want, "{transport:?} {source:?}");
            assert_eq!(c.port(Flags::OMIT_PORT), None);
        }
        assert_eq!(
            conn("192.0.2.1:0", Stream, Socket).port(Flags::NONE),
            None,
            "port 0 is no port"
        );
    }

    #[test]
    fn forms_by_name_and_namespace() {
        let of = |local, uri, flags| Form::of(local, SicNs::of_uri(uri), flags);
        assert_eq!(
            of("address", crate::NS_SIC1, Flags::NONE),
            Some(Form::Sic1Address)
        );
        assert_eq!(of("ip", crate::NS_SIC0, Flags::NONE), Some(Form::Sic0Ip));
        assert_eq!(of("ip", crate::NS_SIC0, Flags::NO_SIC0), None);
        assert_eq!(of("ip", crate::NS_SIC1, Flags::NONE), None);
        assert_eq!(of("Address", crate::NS_SIC1, Flags::NONE), None);
        assert_eq!(of("address", "urn:xmpp:sic:1 ", Flags::NONE), None);
        for form in [Form::Sic1Address, Form::Sic0Ip, Form::Sic0Address] {
            assert_eq!(
                of(form.element(), form.namespace(), Flags::NONE),
                Some(form)
            );
        }
    }
}
