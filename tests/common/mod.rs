//! Test helpers: run a request and read the reply back as a namespace-resolved
//! tree, with quick-xml's NsReader (independent of the library's tokenizer).
#![allow(dead_code)]

use std::net::SocketAddr;

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use xmpp_sic::{handle_iq_to_vec, Flags, HandleError, Request};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct El {
    pub ns: String,
    pub name: String,
    /// Unprefixed attributes and `xml:lang` (as "xml:lang"), decoded.
    pub attrs: Vec<(String, String)>,
    pub children: Vec<El>,
    pub text: String,
}

impl El {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn child(&self, ns: &str, name: &str) -> Option<&El> {
        self.children.iter().find(|c| c.ns == ns && c.name == name)
    }
}

/// Parses one element; panics unless the input is exactly one well-formed element.
pub fn parse_tree(xml: &[u8]) -> El {
    let text = std::str::from_utf8(xml).expect("reply is UTF-8");
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<El> = Vec::new();
    let mut root = None;
    loop {
        let (ns, event) = reader.read_resolved_event().expect("reply is well-formed");
        let ns = match ns {
            ResolveResult::Bound(ns) => ns.0.to_owned(),
            ResolveResult::Unbound => String::new(),
            ResolveResult::Unknown(p) => panic!("unknown prefix {p:?}"),
        };
        let empty = matches!(event, Event::Empty(_));
        match event {
            Event::Start(s) | Event::Empty(s) => {
                let mut attrs = Vec::new();
                for a in s.attributes() {
                    let a = a.expect("attribute is well-formed");
                    let key = a.key.as_ref().to_owned();
                    if key.starts_with("xmlns") {
                        continue;
                    }
                    let value = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .expect("value unescapes")
                        .into_owned();
                    attrs.push((key, value));
                }
                let el = El {
                    ns,
                    name: s.local_name().as_ref().to_owned(),
                    attrs,
                    children: vec![],
                    text: String::new(),
                };
                if empty {
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(el),
                        None => root = Some(el),
                    }
                } else {
                    stack.push(el);
                }
            }
            Event::End(_) => {
                let el = stack.pop().unwrap();
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => stack
                .last_mut()
                .expect("no text outside the root")
                .text
                .push_str(&t.xml10_content()),
            Event::CData(t) => stack
                .last_mut()
                .expect("no CDATA outside the root")
                .text
                .push_str(&t.into_inner()),
            Event::GeneralRef(r) => {
                let c = match &*r {
                    "lt" => "<".to_owned(),
                    "gt" => ">".to_owned(),
                    "amp" => "&".to_owned(),
                    "apos" => "'".to_owned(),
                    "quot" => "\"".to_owned(),
                    other => other
                        .strip_prefix("#x")
                        .map(|hex| u32::from_str_radix(hex, 16))
                        .or_else(|| other.strip_prefix('#').map(str::parse))
                        .and_then(Result::ok)
                        .and_then(char::from_u32)
                        .unwrap_or_else(|| panic!("unexpected reference {other}"))
                        .to_string(),
                };
                stack.last_mut().unwrap().text.push_str(&c);
            }
            Event::Eof => break,
            other => panic!("unexpected event in reply: {other:?}"),
        }
    }
    assert!(stack.is_empty());
    root.expect("one root element")
}

pub struct Call<'a> {
    pub stanza: &'a str,
    pub sender: &'a str,
    pub target: Option<&'a str>,
    pub peer: Option<SocketAddr>,
    pub flags: Flags,
}

pub const ALICE: &str = "alice@example.com/phone";

impl<'a> Call<'a> {
    pub fn new(stanza: &'a str) -> Self {
        Call {
            stanza,
            sender: ALICE,
            target: None,
            peer: Some("203.0.113.7:40123".parse().unwrap()),
            flags: Flags::NONE,
        }
    }
    pub fn to(mut self, target: &'a str) -> Self {
        self.target = Some(target);
        self
    }
    pub fn from(mut self, sender: &'a str) -> Self {
        self.sender = sender;
        self
    }
    pub fn peer(mut self, peer: Option<&str>) -> Self {
        self.peer = peer.map(|p| p.parse().unwrap());
        self
    }
    pub fn flags(mut self, flags: Flags) -> Self {
        self.flags = flags;
        self
    }
    pub fn run(&self) -> Result<Option<Vec<u8>>, HandleError> {
        handle_iq_to_vec(&Request {
            stanza: self.stanza.as_bytes(),
            sender: self.sender,
            target: self.target,
            peer: self.peer,
            flags: self.flags,
        })
    }
    /// The reply tree; panics on pass or error.
    pub fn reply(&self) -> El {
        let bytes = self
            .run()
            .unwrap_or_else(|e| panic!("{e:?} for {}", self.stanza))
            .unwrap_or_else(|| panic!("pass for {}", self.stanza));
        parse_tree(&bytes)
    }
}

pub const STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";

/// Asserts `iq` is an RFC 6120 error reply with this type and condition.
pub fn assert_error(iq: &El, error_type: &str, condition: &str) {
    assert_eq!(iq.name, "iq");
    assert_eq!(iq.attr("type"), Some("error"), "{iq:?}");
    assert_eq!(iq.children.len(), 1, "no payload echo: {iq:?}");
    let err = &iq.children[0];
    assert_eq!(
        (err.name.as_str(), err.attr("type")),
        ("error", Some(error_type)),
        "{iq:?}"
    );
    assert!(
        err.child(STANZAS, condition).is_some(),
        "missing <{condition}/>: {iq:?}"
    );
    let text = err.child(STANZAS, "text").expect("an English <text/>");
    assert_eq!(text.attr("xml:lang"), Some("en"));
    assert!(!text.text.is_empty());
    assert_eq!(err.children.len(), 2);
}
