//! Writing the reply stanza. Rendering is a pure function of its inputs and
//! runs twice, once to count and once to copy, so that a caller's buffer is
//! either filled completely or left untouched.

use crate::addr::ip_text;
use crate::decide::{Answer, Form, StanzaError};
use crate::escape::{self, attribute_escape, AttrText, Context, Malformed, Piece};
use crate::parse::Ns;

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

/// Everything a reply is made of.
#[derive(Clone, Copy, Debug)]
pub struct Reply<'a> {
    pub ns: Ns,
    /// The request's `id`, still escaped as it was in the request.
    pub id: AttrText<'a>,
    pub to: AttrText<'a>,
    pub from: Option<AttrText<'a>>,
    /// By value: a few words, and rendering is inlined into the handler,
    /// where reading them through a reference cost 7 more instructions per
    /// request than holding a copy.
    pub body: Answer,
}

/// Writes plain data as the inside of a `'`-quoted attribute value.
fn put_attr_text<S: Sink>(sink: &mut S, s: AttrText<'_>) {
    let bytes = s.text.as_bytes();
    if s.verbatim {
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

/// "00" to "99": a port is written two digits a step, with one division by
/// 100 (a multiplication) each, instead of one division by 10 a digit.
const DIGIT_PAIRS: [[u8; 2]; 100] = {
    let mut table = [[0u8; 2]; 100];
    let mut n = 0;
    while n < 100 {
        table[n] = [b'0' + (n / 10) as u8, b'0' + (n % 10) as u8];
        n += 1;
    }
    table
};

fn put_port<S: Sink>(sink: &mut S, port: u16) {
    let mut digits = [0u8; 5];
    let mut i = digits.len();
    let mut n = usize::from(port);
    while n >= 100 {
        i -= 2;
        digits[i..i + 2].copy_from_slice(&DIGIT_PAIRS[n % 100]);
        n /= 100;
    }
    if n >= 10 {
        i -= 2;
        digits[i..i + 2].copy_from_slice(&DIGIT_PAIRS[n]);
    } else {
        i -= 1;
        digits[i] = b'0' + n as u8;
    }
    sink.put(&digits[i..]);
}

// The reply is written as a few long fixed fragments around the variable
// parts, each fragment one copy, rather than tag by tag: copies of a few bytes
// each cost more in calls and bounds checks than in bytes.

macro_rules! stanzas_ns {
    () => {
        "urn:ietf:params:xml:ns:xmpp-stanzas"
    };
}

/// From `<iq` to the opening quote of the id.
fn head(ns: Ns, result: bool) -> &'static [u8] {
    match (ns, result) {
        (Ns::Client, true) => b"<iq xmlns='jabber:client' type='result' id='",
        (Ns::Client, false) => b"<iq xmlns='jabber:client' type='error' id='",
        (Ns::Server, true) => b"<iq xmlns='jabber:server' type='result' id='",
        (Ns::Server, false) => b"<iq xmlns='jabber:server' type='error' id='",
        (Ns::Component, true) => b"<iq xmlns='jabber:component:accept' type='result' id='",
        (Ns::Component, false) => b"<iq xmlns='jabber:component:accept' type='error' id='",
        (_, true) => b"<iq type='result' id='",
        (_, false) => b"<iq type='error' id='",
    }
}

/// The error element and the end of the stanza, after the last attribute.
fn put_error<S: Sink>(sink: &mut S, err: StanzaError) {
    let (kind, condition, text) = err.parts();
    sink.put(b"'><error type='");
    sink.put(kind.to_bytes());
    sink.put(b"'><");
    sink.put(condition.to_bytes());
    sink.put(
        concat!(
            " xmlns='",
            stanzas_ns!(),
            "'/><text xmlns='",
            stanzas_ns!(),
            "' xml:lang='en'>"
        )
        .as_bytes(),
    );
    // Static English text with nothing to escape (a test checks).
    sink.put(text.to_bytes());
    sink.put(b"</text></error></iq>");
}

/// Renders `reply`. Fails only if the id is not valid escaped data, which
/// the parser has already ruled out.
pub fn render<S: Sink>(reply: &Reply<'_>, sink: &mut S) -> Result<(), Malformed> {
    sink.put(head(reply.ns, matches!(reply.body, Answer::Result { .. })));
    // The id is decoded and escaped again rather than copied, so that a raw
    // `"` or `>` legal in the request cannot break out of our quoting.
    // An id with nothing to escape has nothing to decode either.
    if reply.id.verbatim {
        sink.put(reply.id.text.as_bytes());
    } else {
        let mut utf8 = [0u8; 4];
        escape::decode(reply.id.text, Context::Attribute, |piece| match piece {
            Piece::Run(s) => put_attr_text(sink, AttrText::scanned(s)),
            // A reference's character goes out at once, without rescanning
            // a one-character string: an id can hold thousands of them.
            Piece::Char(c) if c.is_ascii() => match attribute_escape(c as u8) {
                Some(esc) => sink.put(esc),
                None => sink.put(&[c as u8]),
            },
            Piece::Char(c) => sink.put(c.encode_utf8(&mut utf8).as_bytes()),
        })?;
    }
    sink.put(b"' to='");
    put_attr_text(sink, reply.to);
    if let Some(from) = reply.from {
        sink.put(b"' from='");
        put_attr_text(sink, from);
    }
    match reply.body {
        Answer::Result {
            form: Form::Sic0Ip,
            ip,
            ..
        } => {
            sink.put(b"'><ip xmlns='urn:xmpp:sic:0'>");
            sink.put(ip_text(ip).as_bytes());
            sink.put(b"</ip></iq>");
        }
        Answer::Result { form, ip, port } => {
            sink.put(match form {
                Form::Sic1Address => b"'><address xmlns='urn:xmpp:sic:1'><ip>",
                _ => b"'><address xmlns='urn:xmpp:sic:0'><ip>",
            });
            sink.put(ip_text(ip).as_bytes());
            match port {
                Some(port) => {
                    sink.put(b"</ip><port>");
                    put_port(sink, port);
                    sink.put(b"</port></address></iq>");
                }
                None => sink.put(b"</ip></address></iq>"),
            }
        }
        Answer::Error(err) => put_error(sink, err),
    }
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
        let longest_ip = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap();
        let mut bodies: Vec<Answer> = StanzaError::ALL.iter().map(|&e| Answer::Error(e)).collect();
        for form in [Form::Sic0Ip, Form::Sic0Address, Form::Sic1Address] {
            bodies.push(Answer::Result {
                form,
                ip: longest_ip,
                port: Some(65535),
            });
        }
        for body in &bodies {
            let reply = Reply {
                ns: Ns::Component,
                id: AttrText::scanned(""),
                to: AttrText::scanned(""),
                from: Some(AttrText::scanned("")),
                body: *body,
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
            id: AttrText::scanned("&quot;&lt;x&gt;&apos;&amp;\">&#10;"),
            to: AttrText::scanned("a'b@x/<r>\""),
            from: None,
            body: Answer::Error(StanzaError::Forbidden),
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

    #[test]
    fn every_port() {
        for port in 0..=u16::MAX {
            let mut out = Vec::new();
            put_port(&mut out, port);
            assert_eq!(out, port.to_string().as_bytes());
        }
    }

    /// The error texts go out unescaped: they must need no escaping.
    #[test]
    fn error_texts_need_no_escaping() {
        for err in StanzaError::ALL {
            let (kind, condition, text) = err.parts();
            for part in [kind, condition, text] {
                let bytes = part.to_bytes();
                assert!(
                    bytes.iter().all(|&b| attribute_escape(b).is_none()),
                    "{part:?}"
                );
            }
        }
    }
}
