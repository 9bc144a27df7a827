//! Both C entry points on the same request must give the same answer: the
//! raw stanza through `sic_handle_iq`, and its parts (as the library's own
//! parser reads them) through `sic_handle_parsed`, with the same sender,
//! target, peer and flags. The input also chooses a transport and an address
//! source, which only the structured entry takes: for a plain socket it must
//! match the raw entry exactly, for the others the port rule must hold.
//!
//! Layout of an input: flags byte, connection byte (low nibble transport,
//! high nibble source, both taken modulo 4 so invalid values occur), then
//! stanza NUL sender NUL target NUL peer-bytes. Seeds: fuzz/seeds/agree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use xmpp_sic::ffi::{
    sic_handle_iq, sic_handle_parsed, sic_reply_bound, SicAnswer, SicIq, SicPeer,
    SIC_ANSWER_ERROR, SIC_ANSWER_RESULT, SIC_IQ_ERROR, SIC_IQ_GET, SIC_IQ_OTHER, SIC_IQ_RESULT,
    SIC_IQ_SET, SIC_SOURCE_SOCKET, SIC_TRANSPORT_STREAM,
};
use xmpp_sic::{parse_parts, IqType, Status};

/// What a reply says, read with quick-xml: type, then for a result the
/// payload's (name, ns, ip, port), for an error (type, condition).
#[derive(Debug, PartialEq, Eq)]
enum Said {
    Result(String, String, String, Option<String>),
    Error(String, String),
}

fn read_reply(xml: &[u8]) -> Said {
    let mut reader = NsReader::from_str(std::str::from_utf8(xml).expect("UTF-8 reply"));
    let mut path: Vec<(String, String)> = Vec::new();
    let (mut kind, mut payload, mut ip, mut port, mut err_type, mut condition) =
        (String::new(), None, String::new(), None, String::new(), String::new());
    loop {
        let (ns, event) = reader.read_resolved_event().expect("well-formed reply");
        let ns = match ns {
            ResolveResult::Bound(n) => n.0.to_owned(),
            _ => String::new(),
        };
        match event {
            Event::Start(ref s) | Event::Empty(ref s) => {
                let name = s.local_name().as_ref().to_owned();
                for a in s.attributes().flatten() {
                    let value = a.normalized_value(quick_xml::XmlVersion::Implicit1_0).unwrap().into_owned();
                    match (path.len(), a.key.as_ref()) {
                        (0, "type") => kind = value,
                        (1, "type") => err_type = value,
                        _ => {}
                    }
                }
                match path.len() {
                    1 if kind == "result" => payload = Some((name.clone(), ns.clone())),
                    2 if kind == "error" && name != "text" => condition = name.clone(),
                    _ => {}
                }
                if matches!(event, Event::Start(_)) {
                    path.push((name, ns));
                }
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Text(t) => {
                let text = t.xml10_content().into_owned();
                match path.last().map(|(n, _)| n.as_str()) {
                    Some("ip") => ip = text,
                    Some("port") => port = Some(text),
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    match payload {
        Some((name, ns)) => Said::Result(name, ns, ip, port),
        None => Said::Error(err_type, condition),
    }
}

fn cstr(p: *const std::ffi::c_char) -> String {
    // SAFETY: the library documents these as static NUL-terminated strings.
    unsafe { std::ffi::CStr::from_ptr(p) }.to_str().unwrap().to_owned()
}

fn said_by(answer: &SicAnswer) -> Said {
    match answer.kind {
        SIC_ANSWER_RESULT => {
            let ip: Vec<u8> = answer.ip[..answer.ip_len].iter().map(|&c| c as u8).collect();
            assert_eq!(answer.ip[answer.ip_len], 0, "NUL after the ip text");
            Said::Result(
                cstr(answer.name),
                cstr(answer.ns),
                String::from_utf8(ip).unwrap(),
                (answer.port != 0).then(|| answer.port.to_string()),
            )
        }
        SIC_ANSWER_ERROR => Said::Error(cstr(answer.error_type), cstr(answer.error_condition)),
        other => panic!("answer kind {other}"),
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let flags = u32::from(data[0] & 0x0F);
    let (transport, source) = (u32::from(data[1] & 3), u32::from(data[1] >> 4 & 3));
    let mut fields = data[2..].splitn(4, |&b| b == 0);
    let stanza = fields.next().unwrap_or(&[]);
    let sender = fields.next().unwrap_or(&[]);
    let target = fields.next().unwrap_or(&[]);
    let peer = fields.next().unwrap_or(&[]);
    let target_ptr = if target.is_empty() { std::ptr::null() } else { target.as_ptr() };
    let peer_ptr = if peer.is_empty() { std::ptr::null() } else { peer.as_ptr() };

    let cap = sic_reply_bound(stanza.len(), sender.len(), target.len());
    let mut out = vec![0u8; cap];
    let mut out_len = 0usize;
    // SAFETY: every pointer is valid for its length; out holds cap bytes.
    let raw = unsafe {
        sic_handle_iq(
            stanza.as_ptr(),
            stanza.len(),
            sender.as_ptr().cast(),
            sender.len(),
            target_ptr.cast(),
            target.len(),
            peer_ptr.cast(),
            peer.len() as libc::socklen_t,
            flags,
            out.as_mut_ptr(),
            cap,
            &mut out_len,
        )
    };
    let Ok(parts) = parse_parts(stanza) else {
        assert!(
            matches!(raw, Status::MalformedStanza | Status::InvalidArgument | Status::NullArgument),
            "the parser refused what the raw entry answered: {raw:?}"
        );
        return;
    };
    let (name, ns) = parts.payload.unwrap_or(("", ""));
    let iq = SicIq {
        r#type: match parts.kind {
            IqType::Get => SIC_IQ_GET,
            IqType::Set => SIC_IQ_SET,
            IqType::Result => SIC_IQ_RESULT,
            IqType::Error => SIC_IQ_ERROR,
            IqType::Unknown => SIC_IQ_OTHER,
        },
        payload_name: name.as_ptr().cast(),
        payload_name_len: name.len(),
        payload_ns: ns.as_ptr().cast(),
        payload_ns_len: ns.len(),
        payload_shape: parts.shape.bits(),
        sender: sender.as_ptr().cast(),
        sender_len: sender.len(),
        target: target_ptr.cast(),
        target_len: target.len(),
    };
    let conn = SicPeer {
        addr: peer_ptr.cast(),
        addr_len: peer.len() as libc::socklen_t,
        transport,
        source,
    };
    // SAFETY: an all-zero SicAnswer is valid (null pointers, zero numbers).
    let mut answer: SicAnswer = unsafe { std::mem::zeroed() };
    // SAFETY: the structs and every pointer in them are valid for the call.
    let parsed = unsafe { sic_handle_parsed(&iq, &conn, flags, &mut answer) };

    if transport > 2 || source > 2 {
        assert_eq!(parsed, Status::InvalidArgument);
        return;
    }
    // A stanza error answer is Ok in both; every other status must match.
    assert_eq!(raw, parsed, "statuses differ");
    if raw != Status::Ok {
        return;
    }
    let from_raw = read_reply(&out[..out_len]);
    let from_parsed = said_by(&answer);
    if transport == SIC_TRANSPORT_STREAM && source == SIC_SOURCE_SOCKET {
        assert_eq!(from_raw, from_parsed);
    } else {
        // Only the port may differ, and only by being left out.
        match (from_raw, from_parsed) {
            (Said::Result(n1, s1, i1, p1), Said::Result(n2, s2, i2, p2)) => {
                assert_eq!((n1, s1, i1), (n2, s2, i2));
                // BOSH (2) and forwarded addresses (2) never carry a port.
                if transport == 2 || source == 2 {
                    assert_eq!(p2, None);
                } else {
                    assert_eq!(p1, p2);
                }
            }
            (a, b) => assert_eq!(a, b),
        }
    }
});
