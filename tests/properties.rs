//! Properties over generated input: nothing panics, every reply re-parses as
//! one IQ carrying the request's id, fits sic_reply_bound, an address only
//! ever goes to the account it belongs to, and the structured entry answers
//! what the raw one does for the same request.

mod common;

use std::net::{IpAddr, SocketAddr};

use common::{parse_tree, El};
use proptest::prelude::*;
use xmpp_sic::{
    handle_iq, handle_iq_to_vec, handle_parsed, parse_parts, reply_bound, Answer, Connection,
    Flags, HandleError, Handled, IqParts, IqType, ParsedRequest, Request, Shape,
};

fn flags() -> impl Strategy<Value = Flags> {
    (0u32..8).prop_map(|b| Flags::from_bits(b).unwrap())
}

fn peer() -> impl Strategy<Value = Option<SocketAddr>> {
    prop_oneof![
        Just(None),
        (any::<u32>(), any::<u16>())
            .prop_map(|(ip, port)| Some(SocketAddr::new(IpAddr::V4(ip.into()), port))),
        (any::<u128>(), any::<u16>())
            .prop_map(|(ip, port)| Some(SocketAddr::new(IpAddr::V6(ip.into()), port))),
    ]
}

fn escape_attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('\'', "&apos;")
        .replace('\n', "&#10;")
        .replace('\t', "&#9;")
}

const SENDER: &str = "alice@example.com/phone";
/// Targets, and whether SENDER may learn its address through them.
const TARGETS: [(Option<&str>, bool); 10] = [
    (None, true),
    (Some("alice@example.com"), true),
    (Some("ALICE@example.com/other"), true),
    (Some("example.com."), true),
    (Some("Example.Com"), true),
    (Some("bob@example.com"), false),
    (Some("alice@example.org"), false),
    (Some("example.com/res"), false),
    (Some("\u{FF41}lice@example.com"), true),
    (Some("alice@sub.example.com"), false),
];

#[derive(Debug, Clone)]
struct Generated {
    stanza: String,
    id: String,
}

fn near_valid_iq() -> impl Strategy<Value = Generated> {
    let id = "[a-zA-Z0-9 '\"<>&\n\t\u{e9}\u{1F600}-]{0,24}";
    let stanza_ns = prop_oneof![
        Just(""),
        Just(" xmlns='jabber:client'"),
        Just(" xmlns='jabber:server'"),
        Just(" xmlns='urn:bad'")
    ];
    let kind = prop_oneof![
        Just("get"),
        Just("set"),
        Just("result"),
        Just("error"),
        Just("bogus")
    ];
    let payload = prop_oneof![
        Just("<address xmlns='urn:xmpp:sic:1'/>".to_owned()),
        Just("<ip xmlns='urn:xmpp:sic:0'/>".to_owned()),
        Just("<address xmlns='urn:xmpp:sic:0'/>".to_owned()),
        Just("<s:address xmlns:s='urn:xmpp:sic:1'></s:address>".to_owned()),
        Just("<address xmlns='urn:xmpp:sic:1'> \n </address>".to_owned()),
        Just("<address xmlns='urn:xmpp:sic:1'><ip/></address>".to_owned()),
        Just("<address xmlns='urn:xmpp:sic:1' a='1'/>".to_owned()),
        Just("<ip xmlns='urn:xmpp:sic:0' xmlns:p='urn:p' p:a='&amp;'/>".to_owned()),
        Just("<address xmlns='urn:xmpp:sic:1'><![CDATA[ ]]></address>".to_owned()),
        Just("<address xmlns='urn:xmpp:sic:1'>&#65;</address>".to_owned()),
        Just("<address xmlns='urn:xmpp:sic:1'>x</address>".to_owned()),
        Just("<query xmlns='jabber:iq:version'/>".to_owned()),
        Just("<s:address/>".to_owned()),
        Just(String::new()),
    ];
    let sibling = prop_oneof![
        Just(""),
        Just(""),
        Just("<x xmlns='urn:other'/>"),
        Just(" "),
        Just("text"),
        Just("<!-- c -->")
    ];
    (id, stanza_ns, kind, payload, sibling).prop_map(|(id, ns, kind, payload, sibling)| Generated {
        stanza: format!(
            "<iq{ns} id='{}' type='{kind}'>{payload}{sibling}</iq>",
            escape_attr(&id)
        ),
        id,
    })
}

/// Checks what must hold for every OK reply.
fn check_reply(bytes: &[u8], req: &Request<'_>, may_see: bool) -> El {
    let iq = parse_tree(bytes);
    assert_eq!(iq.name, "iq");
    assert!(
        matches!(iq.attr("type"), Some("result" | "error")),
        "{iq:?}"
    );
    assert_eq!(iq.attr("to"), Some(req.sender));
    assert_eq!(iq.attr("from"), req.target);
    if iq.attr("type") == Some("result") {
        assert!(
            may_see,
            "address leaked to {:?} about {:?}",
            req.sender, req.target
        );
    }
    assert!(
        bytes.len()
            <= reply_bound(
                req.stanza.len(),
                req.sender.len(),
                req.target.map_or(0, str::len)
            )
    );
    iq
}

/// What a host hands the structured entry, read from the stanza by the test's
/// own parser (quick-xml's NsReader, as a host would use its own), never by
/// the library's.
fn host_parts(iq: &El) -> (IqType, Option<(&str, &str)>, Shape) {
    let kind = match iq.attr("type") {
        Some("get") => IqType::Get,
        Some("set") => IqType::Set,
        Some("result") => IqType::Result,
        Some("error") => IqType::Error,
        _ => IqType::Unknown,
    };
    let blank = |t: &str| t.bytes().all(|b| b" \t\r\n".contains(&b));
    let Some(first) = iq.children.first() else {
        return (kind, None, Shape::EMPTY);
    };
    let mut bits = 0;
    for (set, bit) in [
        (!first.children.is_empty(), Shape::CHILDREN),
        (!blank(&first.text), Shape::TEXT),
        (!first.attrs.is_empty(), Shape::ATTRIBUTES),
        (iq.children.len() > 1 || !blank(&iq.text), Shape::SIBLINGS),
    ] {
        if set {
            bits |= bit.bits();
        }
    }
    let shape = Shape::from_bits(bits).unwrap();
    (kind, Some((first.name.as_str(), first.ns.as_str())), shape)
}

/// The raw entry's reply, checked against the structured entry's answer.
fn assert_same_answer(reply: &El, answer: &Answer) {
    match answer {
        Answer::Result { form, ip, port } => {
            assert_eq!(reply.attr("type"), Some("result"));
            let payload = reply.child(form.namespace(), form.element()).unwrap();
            let (ip_text, port_text) = match payload.child(form.namespace(), "ip") {
                Some(ip_el) => (
                    ip_el.text.as_str(),
                    payload
                        .child(form.namespace(), "port")
                        .map(|p| p.text.as_str()),
                ),
                None => (payload.text.as_str(), None),
            };
            assert_eq!(ip_text, ip.to_string());
            assert_eq!(port_text, port.map(|p| p.to_string()).as_deref());
        }
        Answer::Error(err) => {
            assert_eq!(reply.attr("type"), Some("error"));
            let (kind, condition, text) = err.parts();
            let error = &reply.children[0];
            assert_eq!(error.attr("type"), kind.to_str().ok());
            let stanzas = "urn:ietf:params:xml:ns:xmpp-stanzas";
            assert!(error.child(stanzas, condition.to_str().unwrap()).is_some());
            assert_eq!(
                error.child(stanzas, "text").map(|t| t.text.as_str()),
                text.to_str().ok()
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn both_entries_agree(generated in near_valid_iq(), target in 0..TARGETS.len(), peer in peer(), flags in flags()) {
        let (target, _) = TARGETS[target];
        let req = Request { stanza: generated.stanza.as_bytes(), sender: SENDER, target, peer, flags };
        let raw = handle_iq_to_vec(&req);
        if raw == Err(HandleError::MalformedStanza) {
            // Not XML a host would have parsed: nothing to compare.
            return Ok(());
        }
        let request = parse_tree(generated.stanza.as_bytes());
        let (kind, payload, shape) = host_parts(&request);
        // The library's parser reads the same parts as an independent one.
        let core = parse_parts(generated.stanza.as_bytes()).unwrap();
        prop_assert_eq!((core.kind, core.shape), (kind, shape));
        prop_assert_eq!(core.payload.map(|p| p.0), payload.map(|p| p.0));
        let parsed = ParsedRequest {
            iq: IqParts { kind, payload, shape },
            sender: SENDER,
            target,
            connection: Connection::socket(peer),
            flags,
        };
        match (raw, handle_parsed(&parsed)) {
            (Ok(None), Ok(None)) => {}
            (Ok(Some(bytes)), Ok(Some(answer))) => assert_same_answer(&parse_tree(&bytes), &answer),
            (raw, structured) => prop_assert!(false, "{} gave {:?} and {:?}", generated.stanza, raw, structured),
        }
    }

    #[test]
    fn arbitrary_input_never_panics(stanza in proptest::collection::vec(any::<u8>(), 0..300), sender in ".{0,40}", target in proptest::option::of(".{0,40}"), peer in peer(), flags in flags()) {
        let req = Request { stanza: &stanza, sender: &sender, target: target.as_deref(), peer, flags };
        if let Ok(Some(bytes)) = handle_iq_to_vec(&req) {
            parse_tree(&bytes);
        }
    }

    #[test]
    fn near_valid_iqs(generated in near_valid_iq(), target in 0..TARGETS.len(), peer in peer(), flags in flags()) {
        let (target, may_see) = TARGETS[target];
        let req = Request { stanza: generated.stanza.as_bytes(), sender: SENDER, target, peer, flags };
        match handle_iq_to_vec(&req) {
            Ok(Some(bytes)) => {
                let iq = check_reply(&bytes, &req, may_see);
                // The id comes back as the request's, after attribute-value
                // normalisation of its literal tabs and newlines.
                prop_assert_eq!(iq.attr("id"), Some(generated.id.as_str()));
                // A buffer one byte short gets the exact size and no bytes.
                let mut short = vec![0u8; bytes.len() - 1];
                prop_assert_eq!(handle_iq(&req, &mut short), Err(HandleError::BufferTooSmall { needed: bytes.len() }));
                prop_assert!(short.iter().all(|&b| b == 0));
                let mut exact = vec![0u8; bytes.len()];
                prop_assert_eq!(handle_iq(&req, &mut exact), Ok(Handled::Reply { len: bytes.len() }));
                prop_assert_eq!(exact, bytes);
            }
            Ok(None) | Err(HandleError::MalformedStanza) => {}
            Err(e) => prop_assert!(false, "unexpected {:?} for {}", e, generated.stanza),
        }
    }

    #[test]
    fn the_bound_always_suffices(id in "['\"<>&\t\n\r]{0,64}", local in "[a-z'<>&\"]{1,20}", resource in "[ -~]{1,20}") {
        let sender = format!("{local}@example.com/{resource}");
        let stanza = format!("<iq id='{}' type='get'><address xmlns='urn:xmpp:sic:1'/></iq>", escape_attr(&id).replace('\r', "&#13;"));
        let peer = Some("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe]:65535".parse().unwrap());
        let req = Request { stanza: stanza.as_bytes(), sender: &sender, target: Some(&sender), peer, flags: Flags::NONE };
        let mut out = vec![0u8; reply_bound(stanza.len(), sender.len(), sender.len())];
        match handle_iq(&req, &mut out) {
            Ok(Handled::Reply { len }) => { check_reply(&out[..len], &req, true); }
            Err(HandleError::InvalidArgument) => {} // a localpart with forbidden characters
            other => prop_assert!(false, "{:?}", other),
        }
    }
}
