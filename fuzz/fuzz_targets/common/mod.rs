//! What every fuzz run checks about one call through the C ABI.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use xmpp_sic::ffi::sic_handle_iq;
use xmpp_sic::Status;

pub struct Input<'a> {
    pub stanza: &'a [u8],
    pub sender: &'a [u8],
    /// Empty means no target (passed as NULL, 0).
    pub target: &'a [u8],
    /// Raw sockaddr bytes; all of them are readable, and exactly they.
    pub peer: &'a [u8],
    pub flags: u32,
    /// `None`: a buffer of sic_reply_bound bytes.
    pub out_cap: Option<usize>,
}

/// The IQ's `id` and whether its single root is an `iq`, read independently
/// of the library with quick-xml's namespace-aware reader.
fn root_id(xml: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(xml).ok()?;
    let mut reader = NsReader::from_str(text);
    loop {
        match reader.read_resolved_event().ok()? {
            (_, Event::Start(s)) | (_, Event::Empty(s)) => {
                if s.local_name().as_ref() != "iq" {
                    return None;
                }
                for a in s.attributes().flatten() {
                    if a.key.as_ref() == "id" {
                        return a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok().map(|v| v.into_owned());
                    }
                }
                return None;
            }
            (_, Event::Eof) => return None,
            _ => {}
        }
    }
}

/// Parses the reply fully; returns (type, id, carries an address).
fn read_reply(xml: &[u8]) -> (String, String, bool) {
    let text = std::str::from_utf8(xml).expect("reply is UTF-8");
    let mut reader = NsReader::from_str(text);
    let (mut depth, mut roots) = (0usize, 0usize);
    let (mut kind, mut id, mut address) = (String::new(), String::new(), false);
    loop {
        let (ns, event) = reader.read_resolved_event().expect("reply is well-formed");
        let sic = matches!(ns, ResolveResult::Bound(n) if n.0.starts_with("urn:xmpp:sic:"));
        match event {
            Event::Start(ref s) | Event::Empty(ref s) => {
                if depth == 0 {
                    roots += 1;
                    assert_eq!(s.local_name().as_ref(), "iq");
                    for a in s.attributes() {
                        let a = a.expect("reply attributes are well-formed");
                        let value = a.normalized_value(quick_xml::XmlVersion::Implicit1_0).expect("escaped").into_owned();
                        match a.key.as_ref() {
                            "type" => kind = value,
                            "id" => id = value,
                            _ => {}
                        }
                    }
                }
                address |= sic && (s.local_name().as_ref() == "ip" || s.local_name().as_ref() == "address");
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                }
            }
            Event::End(_) => depth -= 1,
            Event::Text(_) | Event::GeneralRef(_) => assert!(depth > 0, "text outside the reply root"),
            Event::Eof => break,
            other => panic!("unexpected {other:?} in a reply"),
        }
    }
    assert_eq!(roots, 1, "one root");
    (kind, id, address)
}

/// RFC 7622 as the jid crate sees it: may `sender` learn the address when it
/// asks `target`? `None` when either is not a JID.
fn allowed(sender: &str, target: Option<&str>) -> Option<bool> {
    let sender = jid::Jid::new(sender).ok()?;
    let Some(target) = target else { return Some(true) };
    let target = jid::Jid::new(target).ok()?;
    let domain = |j: &jid::Jid| j.domain().as_str().trim_end_matches('.').to_owned();
    let same_domain = domain(&sender) == domain(&target);
    Some(match target.node() {
        Some(node) => same_domain && sender.node() == Some(node),
        None => same_domain && target.resource().is_none(),
    })
}

/// One call with every check; panics (a fuzz finding) when one fails.
pub fn check(input: &Input<'_>) {
    let target_len = input.target.len();
    let target_ptr = if target_len == 0 { std::ptr::null() } else { input.target.as_ptr() };
    let cap = input.out_cap.unwrap_or_else(|| xmpp_sic::reply_bound(input.stanza.len(), input.sender.len(), target_len));
    // Exactly `cap` bytes on the heap: a write past it is an ASan report.
    let mut out = vec![0u8; cap].into_boxed_slice();
    let peer_ptr = if input.peer.is_empty() { std::ptr::null() } else { input.peer.as_ptr().cast() };
    let mut len = usize::MAX;
    let call = |out: &mut [u8], len: &mut usize| {
        // SAFETY: every pointer is valid for exactly its length; the peer
        // bytes may be unaligned, which the library must cope with.
        unsafe {
            sic_handle_iq(
                input.stanza.as_ptr(),
                input.stanza.len(),
                input.sender.as_ptr().cast(),
                input.sender.len(),
                target_ptr.cast(),
                target_len,
                peer_ptr,
                input.peer.len() as libc::socklen_t,
                input.flags,
                if out.is_empty() { std::ptr::null_mut() } else { out.as_mut_ptr() },
                out.len(),
                len,
            )
        }
    };
    let status = call(&mut out, &mut len);
    assert_ne!(status, Status::Panic, "a panic was caught: a bug");
    match status {
        Status::Ok => {
            assert!(len <= cap);
            let reply = &out[..len];
            let (kind, id, address) = read_reply(reply);
            assert!(kind == "result" || kind == "error", "type {kind}");
            assert_eq!(Some(id), root_id(input.stanza), "the reply carries the request's id");
            let (sender, target) = (std::str::from_utf8(input.sender).unwrap(), std::str::from_utf8(input.target).ok().filter(|t| !t.is_empty()));
            if address || kind == "result" {
                assert_eq!(allowed(sender, target), Some(true), "address of {sender:?} sent for target {target:?}");
            }
        }
        Status::BufferTooSmall => {
            assert!(len > cap, "needed {len} but the buffer had {cap}");
            assert!(out.iter().all(|&b| b == 0), "nothing written on BUFFER_TOO_SMALL");
            let mut exact = vec![0u8; len].into_boxed_slice();
            let mut again = 0;
            assert_eq!(call(&mut exact, &mut again), Status::Ok);
            assert_eq!(again, len);
        }
        _ => {
            assert_eq!(len, usize::MAX, "out_len untouched on {status:?}");
            assert!(out.iter().all(|&b| b == 0), "nothing written on {status:?}");
        }
    }
}
