//! Writing the reply stanza. Rendering is a pure function of its inputs and
//! runs twice, once to count and once to copy, so that a caller's buffer is
//! either filled completely or left untouched.

use crate::escape::{self, attribute_escape, needs_attribute_escape, Context, Malformed, Piece};
use crate::parse::{Form, Ns};

/// Where rendered bytes go.
pub trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

/// Counts bytes without storing them.
#[derive(Default)]
pub struct Counter(pub usize);

impl Sink for Counter {
    fn put(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }
}

/// Copies bytes into a buffer that the counting pass proved large enough.
pub struct Filler<'a> {
    pub buf: &'a mut [u8],
    pub len: usize,
}

impl Sink for Filler<'_> {
    fn put(&mut self, bytes: &[u8]) {
        // Slicing checks the bound: an undersized buffer would be a bug in
        // the counting pass, and panics (caught at the C boundary) rather
        // than writing out of bounds.
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// RFC 6120 §8.3.2 error types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorType {
    Auth,
    Cancel,
    Modify,
}

/// The stanza errors we send, each with its RFC 6120 type and English text.
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
    pub fn condition(self) -> &'static str {
        match self {
            StanzaError::Forbidden => "forbidden",
            StanzaError::NotAllowed => "not-allowed",
            StanzaError::BadPayload | StanzaError::BadType => "bad-request",
            StanzaError::NoAddress => "service-unavailable",
        }
    }

    pub fn error_type(self) -> ErrorType {
        match self {
            StanzaError::Forbidden => ErrorType::Auth,
            StanzaError::NotAllowed | StanzaError::NoAddress => ErrorType::Cancel,
            StanzaError::BadPayload | StanzaError::BadType => ErrorType::Modify,
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            StanzaError::Forbidden => "Only the account itself may ask for its IP address",
            StanzaError::NotAllowed => "Server IP Check requests must be of type get",
            StanzaError::BadPayload => {
                "The Server IP Check element must be empty and the only child of the IQ"
            }
            StanzaError::BadType => "The IQ type must be get, set, result or error",
            StanzaError::NoAddress => "The server does not know an IP address for this connection",
        }
    }

    #[cfg(test)]
    const ALL: [StanzaError; 5] = [
        StanzaError::Forbidden,
        StanzaError::NotAllowed,
        StanzaError::BadPayload,
        StanzaError::BadType,
        StanzaError::NoAddress,
    ];
}

/// What goes inside the reply `<iq/>`.
#[derive(Clone, Copy, Debug)]
pub enum Body<'a> {
    Result {
        form: Form,
        ip: &'a str,
        port: Option<u16>,
    },
    Error(StanzaError),
}

/// Everything a reply is made of.
#[derive(Clone, Copy, Debug)]
pub struct Reply<'a> {
    pub ns: Ns,
    /// The request's `id`, still escaped as it was in the request.
    pub raw_id: &'a str,
    pub to: &'a str,
    pub from: Option<&'a str>,
    pub body: Body<'a>,
}

/// Writes `s` as the inside of a `'`-quoted attribute value.
fn put_attr_text<S: Sink>(sink: &mut S, s: &str) {
    let bytes = s.as_bytes();
    if !needs_attribute_escape(s) {
        sink.put(bytes);
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if let Some(esc) = attribute_escape(b) {
            sink.put(&bytes[start..i]);
            sink.put(esc);
            start = i + 1;
        }
    }
    sink.put(&bytes[start..]);
}

fn put_attr<S: Sink>(sink: &mut S, name: &str, value: &str) {
    sink.put(b" ");
    sink.put(name.as_bytes());
    sink.put(b"='");
    put_attr_text(sink, value);
    sink.put(b"'");
}

fn put_port<S: Sink>(sink: &mut S, port: u16) {
    let mut digits = [0u8; 5];
    let mut i = digits.len();
    let mut n = port;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    sink.put(&digits[i..]);
}

const STANZAS_NS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";

/// Renders `reply`. Fails only if the id is not valid escaped data, which
/// the parser has already ruled out.
pub fn render<S: Sink>(reply: &Reply<'_>, sink: &mut S) -> Result<(), Malformed> {
    sink.put(b"<iq");
    if let Some(uri) = reply.ns.stanza_uri() {
        sink.put(b" xmlns='");
        sink.put(uri.as_bytes());
        sink.put(b"'");
    }
    sink.put(match reply.body {
        Body::Result { .. } => b" type='result' id='",
        Body::Error(_) => b" type='error' id='",
    });
    // The id is decoded and escaped again rather than copied, so that a raw
    // `"` or `>` legal in the request cannot break out of our quoting.
    // An id with nothing to escape has nothing to decode either: one scan.
    if !needs_attribute_escape(reply.raw_id) {
        sink.put(reply.raw_id.as_bytes());
    } else {
        let mut utf8 = [0u8; 4];
        escape::decode(reply.raw_id, Context::Attribute, |piece| match piece {
            Piece::Run(s) => put_attr_text(sink, s),
            // A reference's character goes out at once, without rescanning
            // a one-character string: an id can hold thousands of them.
            Piece::Char(c) if c.is_ascii() => match attribute_escape(c as u8) {
                Some(esc) => sink.put(esc),
                None => sink.put(&[c as u8]),
            },
            Piece::Char(c) => sink.put(c.encode_utf8(&mut utf8).as_bytes()),
        })?;
    }
    sink.put(b"'");
    put_attr(sink, "to", reply.to);
    if let Some(from) = reply.from {
        put_attr(sink, "from", from);
    }
    sink.put(b">");
    match reply.body {
        Body::Result {
            form: Form::Sic0Ip,
            ip,
            ..
        } => {
            sink.put(b"<ip xmlns='urn:xmpp:sic:0'>");
            sink.put(ip.as_bytes());
            sink.put(b"</ip>");
        }
        Body::Result { form, ip, port } => {
            let ns = match form {
                Form::Sic1Address => crate::NS_SIC1,
                _ => crate::NS_SIC0,
            };
            sink.put(b"<address xmlns='");
            sink.put(ns.as_bytes());
            sink.put(b"'><ip>");
            sink.put(ip.as_bytes());
            sink.put(b"</ip>");
            // sic:0 defines no port.
            if let (Form::Sic1Address, Some(port)) = (form, port) {
                sink.put(b"<port>");
                put_port(sink, port);
                sink.put(b"</port>");
            }
            sink.put(b"</address>");
        }
        Body::Error(err) => {
            sink.put(b"<error type='");
            sink.put(match err.error_type() {
                ErrorType::Auth => b"auth",
                ErrorType::Cancel => b"cancel",
                ErrorType::Modify => b"modify",
            });
            sink.put(b"'><");
            sink.put(err.condition().as_bytes());
            sink.put(b" xmlns='");
            sink.put(STANZAS_NS.as_bytes());
            sink.put(b"'/><text xmlns='");
            sink.put(STANZAS_NS.as_bytes());
            sink.put(b"' xml:lang='en'>");
            sink.put(err.text().as_bytes());
            sink.put(b"</text></error>");
        }
    }
    sink.put(b"</iq>");
    Ok(())
}

/// Bytes of every reply that do not come from the id, `to` or `from`,
/// rounded up; a test renders every template to prove it.
pub(crate) const FIXED_OVERHEAD: usize = 512;

/// A length that always suffices for the reply to a stanza of `iq_len` bytes
/// with JIDs of these lengths: each byte of them grows at most
/// `MAX_ESCAPE_GROWTH`-fold when escaped. Inputs longer than anything valid
/// are counted at the valid maximum, since they never produce a reply, so a
/// host that trusts the bound cannot be made to allocate without limit.
pub const fn reply_bound(iq_len: usize, sender_len: usize, target_len: usize) -> usize {
    const fn at_most(n: usize, max: usize) -> usize {
        if n > max {
            max
        } else {
            n
        }
    }
    let iq_len = at_most(iq_len, crate::parse::MAX_STANZA_LEN);
    let sender_len = at_most(sender_len, crate::jid::MAX_JID_LEN);
    let target_len = at_most(target_len, crate::jid::MAX_JID_LEN);
    (iq_len + sender_len + target_len) * escape::MAX_ESCAPE_GROWTH + FIXED_OVERHEAD
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_overhead_covers_every_template() {
        let longest_ip = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255";
        let mut bodies: Vec<Body<'_>> = StanzaError::ALL.iter().map(|&e| Body::Error(e)).collect();
        for form in [Form::Sic0Ip, Form::Sic0Address, Form::Sic1Address] {
            bodies.push(Body::Result {
                form,
                ip: longest_ip,
                port: Some(65535),
            });
        }
        for body in bodies {
            let reply = Reply {
                ns: Ns::Component,
                raw_id: "",
                to: "",
                from: Some(""),
                body,
            };
            let mut count = Counter::default();
            render(&reply, &mut count).unwrap();
            assert!(count.0 <= FIXED_OVERHEAD, "{body:?} needs {}", count.0);
        }
    }

    #[test]
    fn attributes_are_escaped() {
        let reply = Reply {
            ns: Ns::Client,
            raw_id: "&quot;&lt;x&gt;&apos;&amp;\">&#10;",
            to: "a'b@x/<r>\"",
            from: None,
            body: Body::Error(StanzaError::Forbidden),
        };
        let mut out = Vec::new();
        render(&reply, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains(" id='&quot;&lt;x&gt;&apos;&amp;&quot;&gt;&#xA;'"),
            "{text}"
        );
        assert!(text.contains(" to='a&apos;b@x/&lt;r&gt;&quot;'"), "{text}");
    }
}
