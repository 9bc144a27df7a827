//! Near-valid IQs: an arbitrary description rendered to XML, so the fuzzer
//! spends its time around the edges of what the library answers instead of
//! in bytes that fail the first check.
#![no_main]

mod common;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum IdPiece {
    Text(String),
    Amp,
    Quot,
    Apos,
    Lt,
    Gt,
    CharRef(u32),
    HexRef(u32),
    Named(String),
    RawQuote,
    Newline,
}

#[derive(Arbitrary, Debug)]
enum StanzaNs {
    None,
    Client,
    Server,
    Component,
    Prefixed(bool),
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Kind {
    Get,
    Set,
    Result,
    Error,
    Other(String),
    Missing,
}

#[derive(Arbitrary, Debug)]
enum Ns {
    Sic0,
    Sic1,
    Other(String),
    None,
}

#[derive(Arbitrary, Debug)]
enum Style {
    Default,
    Prefix(String),
    DeclaredOnRoot,
    Undeclared,
}

#[derive(Arbitrary, Debug)]
enum Content {
    Empty,
    Whitespace(u8),
    Text(String),
    CData(String),
    Child(u8),
    Comment,
}

#[derive(Arbitrary, Debug)]
struct Element {
    name: u8,
    ns: Ns,
    style: Style,
    content: Content,
    attrs: u8,
    self_closing: bool,
}

#[derive(Arbitrary, Debug)]
enum Jid {
    Own,
    OwnBare,
    OwnOtherResource,
    Domain,
    DomainDot,
    DomainResource,
    Upper,
    Fullwidth,
    Other(String),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum Peer {
    None,
    V4([u8; 4], u16),
    V6([u8; 16], u16, u32),
    Mapped([u8; 4], u16),
    Unix,
    Short(u8),
}

#[derive(Arbitrary, Debug)]
struct Iq {
    id: Option<Vec<IdPiece>>,
    ns: StanzaNs,
    kind: Kind,
    children: Vec<Element>,
    around: u8,
    sender: Jid,
    target: Option<Jid>,
    peer: Peer,
    flags: u8,
    cap: Option<u16>,
}

fn id_text(pieces: &[IdPiece]) -> String {
    let mut s = String::new();
    for p in pieces {
        match p {
            IdPiece::Text(t) => s.extend(t.chars().filter(|c| !matches!(c, '&' | '<' | '\''))),
            IdPiece::Amp => s.push_str("&amp;"),
            IdPiece::Quot => s.push_str("&quot;"),
            IdPiece::Apos => s.push_str("&apos;"),
            IdPiece::Lt => s.push_str("&lt;"),
            IdPiece::Gt => s.push_str("&gt;"),
            IdPiece::CharRef(c) => s.push_str(&format!("&#{};", c % 0x11_0000)),
            IdPiece::HexRef(c) => s.push_str(&format!("&#x{:x};", c % 0x11_0000)),
            IdPiece::Named(n) => s.push_str(&format!("&{};", n.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>())),
            IdPiece::RawQuote => s.push('"'),
            IdPiece::Newline => s.push('\n'),
        }
    }
    s
}

fn jid(j: &Jid) -> String {
    match j {
        Jid::Own => "alice@example.com/phone".into(),
        Jid::OwnBare => "alice@example.com".into(),
        Jid::OwnOtherResource => "alice@example.com/laptop".into(),
        Jid::Domain => "example.com".into(),
        Jid::DomainDot => "Example.COM.".into(),
        Jid::DomainResource => "example.com/x".into(),
        Jid::Upper => "ALICE@example.com".into(),
        Jid::Fullwidth => "\u{ff41}lice@example.com".into(),
        Jid::Other(local) => format!("{}@example.com", local.chars().take(20).collect::<String>()),
        Jid::Raw(raw) => raw.clone(),
    }
}

fn peer(p: &Peer) -> Vec<u8> {
    fn bytes<T>(value: &T) -> Vec<u8> {
        // SAFETY: reads the initialised bytes of a plain C struct.
        unsafe { std::slice::from_raw_parts((value as *const T).cast::<u8>(), std::mem::size_of::<T>()).to_vec() }
    }
    match p {
        Peer::None => Vec::new(),
        Peer::V4(ip, port) => {
            // SAFETY: a plain C struct, for which all-zero bytes are a valid value.
            let mut s: libc::sockaddr_in = unsafe { std::mem::zeroed() };
            s.sin_family = libc::AF_INET as libc::sa_family_t;
            s.sin_port = port.to_be();
            s.sin_addr.s_addr = u32::from_ne_bytes(*ip);
            bytes(&s)
        }
        Peer::V6(ip, port, scope) => {
            // SAFETY: a plain C struct, for which all-zero bytes are a valid value.
            let mut s: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            s.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            s.sin6_port = port.to_be();
            s.sin6_addr.s6_addr = *ip;
            s.sin6_scope_id = *scope;
            bytes(&s)
        }
        Peer::Mapped(ip, port) => {
            // SAFETY: a plain C struct, for which all-zero bytes are a valid value.
            let mut s: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            s.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            s.sin6_port = port.to_be();
            s.sin6_addr.s6_addr[10..12].copy_from_slice(&[0xff, 0xff]);
            s.sin6_addr.s6_addr[12..].copy_from_slice(ip);
            bytes(&s)
        }
        Peer::Unix => {
            // SAFETY: a plain C struct, for which all-zero bytes are a valid value.
            let mut s: libc::sockaddr_un = unsafe { std::mem::zeroed() };
            s.sun_family = libc::AF_UNIX as libc::sa_family_t;
            bytes(&s)
        }
        Peer::Short(n) => {
            // SAFETY: a plain C struct, for which all-zero bytes are a valid value.
            let mut s: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            s.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            let mut b = bytes(&s);
            b.truncate(usize::from(*n) % b.len());
            b
        }
    }
}

fn element(e: &Element, out: &mut String, depth: usize) {
    let local = ["address", "ip", "query", "port"][usize::from(e.name) % 4];
    let uri = match &e.ns {
        Ns::Sic0 => "urn:xmpp:sic:0".to_owned(),
        Ns::Sic1 => "urn:xmpp:sic:1".to_owned(),
        Ns::Other(o) => o.chars().filter(|c| !matches!(c, '&' | '<' | '\'')).take(30).collect(),
        Ns::None => String::new(),
    };
    let name = match &e.style {
        Style::Prefix(p) if p.chars().all(|c| c.is_ascii_lowercase()) && !p.is_empty() && p.len() < 8 && !p.starts_with("xml") => {
            out.push_str(&format!("<{p}:{local} xmlns:{p}='{uri}'"));
            format!("{p}:{local}")
        }
        Style::DeclaredOnRoot => {
            out.push_str(&format!("<s:{local}"));
            format!("s:{local}")
        }
        Style::Undeclared => {
            out.push_str(&format!("<u:{local}"));
            format!("u:{local}")
        }
        _ => {
            out.push_str(&format!("<{local} xmlns='{uri}'"));
            local.to_owned()
        }
    };
    for i in 0..usize::from(e.attrs % 4) {
        out.push_str(&format!(" a{}='{i}'", i % 3));
    }
    if e.self_closing && matches!(e.content, Content::Empty) {
        out.push_str("/>");
        return;
    }
    out.push('>');
    match &e.content {
        Content::Empty => {}
        Content::Whitespace(n) => out.push_str(&" \n\t".repeat(usize::from(*n % 5))),
        Content::Text(t) => out.extend(t.chars().filter(|c| !matches!(c, '&' | '<'))),
        Content::CData(t) => out.push_str(&format!("<![CDATA[{}]]>", t.replace("]]>", ""))),
        Content::Child(n) if depth < 6 => {
            let child = Element { name: *n, ns: Ns::Sic1, style: Style::Default, content: Content::Empty, attrs: 0, self_closing: true };
            element(&child, out, depth + 1);
        }
        Content::Child(_) => {}
        Content::Comment => out.push_str("<!-- x -->"),
    }
    out.push_str(&format!("</{name}>"));
}

fn render(iq: &Iq) -> String {
    let (open, close) = match &iq.ns {
        StanzaNs::None => ("<iq".to_owned(), "</iq>"),
        StanzaNs::Client => ("<iq xmlns='jabber:client'".to_owned(), "</iq>"),
        StanzaNs::Server => ("<iq xmlns='jabber:server'".to_owned(), "</iq>"),
        StanzaNs::Component => ("<iq xmlns='jabber:component:accept'".to_owned(), "</iq>"),
        StanzaNs::Prefixed(server) => (format!("<c:iq xmlns:c='jabber:{}'", if *server { "server" } else { "client" }), "</c:iq>"),
        StanzaNs::Other(o) => (format!("<iq xmlns='{}'", o.chars().filter(|c| !matches!(c, '&' | '<' | '\'')).take(20).collect::<String>()), "</iq>"),
    };
    let mut s = " ".repeat(usize::from(iq.around % 3));
    s.push_str(&open);
    s.push_str(" xmlns:s='urn:xmpp:sic:1'");
    if let Some(pieces) = &iq.id {
        s.push_str(&format!(" id='{}'", id_text(pieces)));
    }
    match &iq.kind {
        Kind::Get => s.push_str(" type='get'"),
        Kind::Set => s.push_str(" type='set'"),
        Kind::Result => s.push_str(" type='result'"),
        Kind::Error => s.push_str(" type='error'"),
        Kind::Other(o) => s.push_str(&format!(" type='{}'", o.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>())),
        Kind::Missing => {}
    }
    s.push('>');
    for child in iq.children.iter().take(4) {
        element(child, &mut s, 1);
    }
    s.push_str(close);
    s.push_str(&"\n".repeat(usize::from(iq.around / 3 % 2)));
    s
}

fuzz_target!(|iq: Iq| {
    let stanza = render(&iq);
    let sender = jid(&iq.sender);
    let target = iq.target.as_ref().map(jid).unwrap_or_default();
    let peer = peer(&iq.peer);
    common::check(&common::Input {
        stanza: stanza.as_bytes(),
        sender: sender.as_bytes(),
        target: target.as_bytes(),
        peer: &peer,
        flags: u32::from(iq.flags & 0x7),
        out_cap: iq.cap.map(usize::from),
    });
});
