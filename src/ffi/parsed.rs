//! The structured entry point, for hosts that have parsed the stanza
//! already: the IQ's parts in, an answer struct out, no XML either way.

use std::ffi::{c_char, CStr};

use libc::{sockaddr, socklen_t};

use super::panic::boundary;
use super::{peer, ptr, SIC_MAX_JID_LEN};
use crate::{
    handle_parsed, Answer, Connection, Flags, Form, IqParts, IqType, ParsedRequest, Shape, Source,
    Status, Transport,
};

/// `sic_iq.type`: `get`.
pub const SIC_IQ_GET: u32 = 1;
/// `sic_iq.type`: `set` (answered `<not-allowed/>`).
pub const SIC_IQ_SET: u32 = 2;
/// `sic_iq.type`: `result` (never ours: `SIC_STATUS_PASS`).
pub const SIC_IQ_RESULT: u32 = 3;
/// `sic_iq.type`: `error` (never ours: `SIC_STATUS_PASS`).
pub const SIC_IQ_ERROR: u32 = 4;
/// `sic_iq.type`: any other value of the `type` attribute (answered
/// `<bad-request/>`). 0 and values above this are `SIC_STATUS_INVALID_ARGUMENT`.
pub const SIC_IQ_OTHER: u32 = 5;

/// `sic_iq.payload_shape`: the payload element has child elements.
pub const SIC_SHAPE_CHILDREN: u32 = 1;
/// `sic_iq.payload_shape`: the payload holds character data other than XML
/// whitespace (space, tab, CR, LF).
pub const SIC_SHAPE_TEXT: u32 = 2;
/// `sic_iq.payload_shape`: the payload has attributes besides namespace
/// declarations. Accepted (XEP-0279 defines none and RFC 6120 lets unknown
/// ones be ignored); reported so that the rule lives in the library.
pub const SIC_SHAPE_ATTRIBUTES: u32 = 4;
/// `sic_iq.payload_shape`: the IQ has another child element after the
/// payload, or character data other than whitespace beside it.
pub const SIC_SHAPE_SIBLINGS: u32 = 8;
/// Every shape bit; any other is `SIC_STATUS_INVALID_ARGUMENT`.
pub const SIC_SHAPE_ALL: u32 = 15;

/// `sic_peer.transport`: TCP, with or without TLS or STARTTLS (RFC 6120).
/// What `sic_handle_iq` assumes.
pub const SIC_TRANSPORT_STREAM: u32 = 0;
/// `sic_peer.transport`: XMPP over WebSocket (RFC 7395).
pub const SIC_TRANSPORT_WEBSOCKET: u32 = 1;
/// `sic_peer.transport`: BOSH (XEP-0124/0206). Never a `<port/>`: the
/// session outlives each of its HTTP connections.
pub const SIC_TRANSPORT_BOSH: u32 = 2;

/// `sic_peer.source`: the address is the peer of the server's own socket.
pub const SIC_SOURCE_SOCKET: u32 = 0;
/// `sic_peer.source`: the address and port came in a PROXY protocol header
/// (v1 or v2) from a proxy the server trusts; the port is the client's.
pub const SIC_SOURCE_PROXY_PROTOCOL: u32 = 1;
/// `sic_peer.source`: the address came in an HTTP header (X-Forwarded-For)
/// from a proxy the server trusts. Never a `<port/>`: the header has none,
/// and the connection's port is the proxy's.
pub const SIC_SOURCE_FORWARDED: u32 = 2;

/// `sic_answer.kind`: send an IQ result with the payload the answer describes.
pub const SIC_ANSWER_RESULT: u32 = 1;
/// `sic_answer.kind`: send an IQ error with the error the answer describes.
pub const SIC_ANSWER_ERROR: u32 = 2;

/// `sic_answer.form`: `<address xmlns='urn:xmpp:sic:1'><ip>IP</ip>` and,
/// when `port` is not 0, `<port>PORT</port>`, then `</address>`.
pub const SIC_FORM_SIC1_ADDRESS: u32 = 1;
/// `sic_answer.form`: `<address xmlns='urn:xmpp:sic:0'><ip>IP</ip></address>`.
pub const SIC_FORM_SIC0_ADDRESS: u32 = 2;
/// `sic_answer.form`: `<ip xmlns='urn:xmpp:sic:0'>IP</ip>`, the text directly.
pub const SIC_FORM_SIC0_IP: u32 = 3;

/// The size of `sic_answer.ip`: the longest address text and its NUL.
pub const SIC_IP_TEXT_CAP: usize = 46;

/// An IQ as the host parsed it. Strings are UTF-8, not NUL-terminated; a
/// `(NULL, 0)` pair is absent. The library keeps no pointer after the call.
#[repr(C)]
pub struct SicIq {
    /// `SIC_IQ_GET`, `SIC_IQ_SET`, `SIC_IQ_RESULT`, `SIC_IQ_ERROR` or
    /// `SIC_IQ_OTHER`.
    pub r#type: u32,
    /// The local name of the IQ's first child element; `(NULL, 0)` when the
    /// IQ has no child element.
    pub payload_name: *const c_char,
    /// Its length in bytes.
    pub payload_name_len: usize,
    /// That element's namespace URI, as the host resolved it (prefixes and
    /// default namespaces applied, references decoded).
    pub payload_ns: *const c_char,
    /// Its length in bytes.
    pub payload_ns_len: usize,
    /// `SIC_SHAPE_*` bits: what the payload holds and what stands beside it.
    pub payload_shape: u32,
    /// The authenticated JID the host stamped on the IQ. Required; the
    /// stanza's own `from` is never trusted.
    pub sender: *const c_char,
    /// Its length in bytes (at most `SIC_MAX_JID_LEN`).
    pub sender_len: usize,
    /// The JID the IQ was addressed to; `(NULL, 0)` when it had no `to`.
    pub target: *const c_char,
    /// Its length in bytes (at most `SIC_MAX_JID_LEN`).
    pub target_len: usize,
}

/// What the server knows about the client's connection. The library decides
/// from these facts whether a `<port/>` is reported.
#[repr(C)]
pub struct SicPeer {
    /// The client's address as the server accepted it, after its own proxy
    /// handling: a `struct sockaddr_in` or `sockaddr_in6`. `(NULL, 0)` when
    /// unknown; other families (AF_UNIX...) have no address to report.
    pub addr: *const sockaddr,
    /// The length of `*addr`; never read past.
    pub addr_len: socklen_t,
    /// `SIC_TRANSPORT_*`.
    pub transport: u32,
    /// `SIC_SOURCE_*`: where `addr` came from.
    pub source: u32,
}

/// The answer to send, filled by `sic_handle_parsed` on `SIC_STATUS_OK`.
/// Every pointer in it is static and NUL-terminated; nothing is to be freed.
#[repr(C)]
pub struct SicAnswer {
    /// `SIC_ANSWER_RESULT` or `SIC_ANSWER_ERROR`.
    pub kind: u32,
    /// Results: `SIC_FORM_*`, the form to answer in; 0 for errors.
    pub form: u32,
    /// Results: the payload element's local name, `"address"` or `"ip"`;
    /// NULL for errors.
    pub name: *const c_char,
    /// Results: its namespace, `"urn:xmpp:sic:1"` or `"urn:xmpp:sic:0"`;
    /// NULL for errors.
    pub ns: *const c_char,
    /// Results: the address as text (RFC 5952 for IPv6, dotted quad for
    /// IPv4), NUL-terminated; empty for errors.
    pub ip: [c_char; SIC_IP_TEXT_CAP],
    /// The length of the text in `ip`, without the NUL.
    pub ip_len: usize,
    /// Results: the `<port/>` to send; 0 means send none.
    pub port: u16,
    /// Errors: the RFC 6120 error type, `"auth"`, `"cancel"` or `"modify"`;
    /// NULL for results.
    pub error_type: *const c_char,
    /// Errors: the defined condition, an element name in
    /// `urn:ietf:params:xml:ns:xmpp-stanzas`; NULL for results.
    pub error_condition: *const c_char,
    /// Errors: an English text for the error's `<text xml:lang='en'/>`;
    /// NULL for results.
    pub error_text: *const c_char,
}

/// Answers a Server IP Check request that the host has parsed already: the
/// same decision as `sic_handle_iq` for the same request, with no XML text in
/// or out, no allocation, and a cost that does not depend on the payload's
/// depth or size (the host reports its shape).
///
/// - `iq`: the IQ's parts. Required.
/// - `peer`: the client's connection. Required (its `addr` may be absent).
/// - `flags`: a bitwise or of `SIC_FLAG_*`.
/// - `answer`: required; written only on `SIC_STATUS_OK`.
///
/// Returns `SIC_STATUS_OK` when `*answer` holds a result or an error to send
/// to the sender (the host builds the stanza with its own XML library,
/// addressed and with the id as its reply function does), `SIC_STATUS_PASS`
/// when the IQ is not a Server IP Check request (route it as if this library
/// were absent), `SIC_STATUS_NULL_ARGUMENT`, `SIC_STATUS_INVALID_ARGUMENT`
/// (an enum value or bit this library does not know, a sender or target that
/// is not a valid JID, a peer address too short for its family) or
/// `SIC_STATUS_PANIC`.
///
/// Thread-safe and reentrant.
///
/// # Safety
/// `iq`, `peer` and `answer` must each be NULL or valid for the call (reads,
/// or writes for `answer`); every non-NULL pointer inside `iq` and `peer`
/// must be valid for reads of its length.
#[no_mangle]
pub unsafe extern "C" fn sic_handle_parsed(
    iq: *const SicIq,
    peer: *const SicPeer,
    flags: u32,
    answer: *mut SicAnswer,
) -> Status {
    boundary!(Status::Panic, {
        if iq.is_null() || peer.is_null() || answer.is_null() {
            return Status::NullArgument;
        }
        // SAFETY: non-NULL (checked above) and valid for reads per the
        // contract; hosts may hand us unaligned storage.
        let (iq, peer) = unsafe { (iq.read_unaligned(), peer.read_unaligned()) };
        // SAFETY: the caller's contract for the pointers inside is forwarded.
        let outcome = unsafe { decide_parsed(&iq, &peer, flags) };
        match outcome {
            Ok(Some(filled)) => {
                // SAFETY: non-NULL (checked above) and valid for writes per
                // the contract.
                unsafe { answer.write_unaligned(filled) };
                Status::Ok
            }
            Ok(None) => Status::Pass,
            Err(status) => status,
        }
    })
}

/// 1 when `text[0..len]` is only XML whitespace (space, tab, CR, LF: the
/// `S` production of XML 1.0), else 0: what a host asks of each piece of
/// character data in the payload (and beside it) to know whether to set
/// `SIC_SHAPE_TEXT` (or `SIC_SHAPE_SIBLINGS`), so that the rule lives here
/// and not in each binding. Give the text decoded, as the host's parser
/// delivered it. `(NULL, 0)` is blank; NULL with a length is 0.
///
/// # Safety
/// A non-NULL `text` must be valid for reads of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn sic_text_is_blank(text: *const c_char, len: usize) -> u32 {
    boundary!(0, {
        // SAFETY: the caller's contract is forwarded.
        match unsafe { ptr::input(text.cast(), len) } {
            Ok(bytes) => u32::from(bytes.iter().all(|&b| crate::escape::is_space(b))),
            Err(_) => 0,
        }
    })
}

/// Checks and converts the C values, and decides.
///
/// # Safety
/// As for [`sic_handle_parsed`], for the pointers inside `iq` and `peer`.
unsafe fn decide_parsed(
    iq: &SicIq,
    peer: &SicPeer,
    flags: u32,
) -> Result<Option<SicAnswer>, Status> {
    // SAFETY (all four): the caller's contract is forwarded. Only a prefix of
    // an over-long JID is read, which keeps slice lengths far below
    // isize::MAX and still lets the JID check see the excess.
    let (name, ns, sender, target) = unsafe {
        (
            ptr::input(iq.payload_name.cast(), iq.payload_name_len)?,
            ptr::input(iq.payload_ns.cast(), iq.payload_ns_len)?,
            ptr::required(iq.sender.cast(), iq.sender_len.min(SIC_MAX_JID_LEN + 1))?,
            ptr::input(iq.target.cast(), iq.target_len.min(SIC_MAX_JID_LEN + 1))?,
        )
    };
    let kind = match iq.r#type {
        SIC_IQ_GET => IqType::Get,
        SIC_IQ_SET => IqType::Set,
        SIC_IQ_RESULT => IqType::Result,
        SIC_IQ_ERROR => IqType::Error,
        SIC_IQ_OTHER => IqType::Unknown,
        _ => return Err(Status::InvalidArgument),
    };
    let transport = match peer.transport {
        SIC_TRANSPORT_STREAM => Transport::Stream,
        SIC_TRANSPORT_WEBSOCKET => Transport::WebSocket,
        SIC_TRANSPORT_BOSH => Transport::Bosh,
        _ => return Err(Status::InvalidArgument),
    };
    let source = match peer.source {
        SIC_SOURCE_SOCKET => Source::Socket,
        SIC_SOURCE_PROXY_PROTOCOL => Source::ProxyProtocol,
        SIC_SOURCE_FORWARDED => Source::Forwarded,
        _ => return Err(Status::InvalidArgument),
    };
    let shape = Shape::from_bits(iq.payload_shape).ok_or(Status::InvalidArgument)?;
    let flags = Flags::from_bits(flags).ok_or(Status::InvalidArgument)?;
    if peer.addr.is_null() && peer.addr_len > 0 {
        return Err(Status::NullArgument);
    }
    // SAFETY: forwarded contract; NULL with a non-zero length was refused above.
    let addr = unsafe { peer::read_peer(peer.addr, peer.addr_len) }?;
    let utf8 = |bytes| std::str::from_utf8(bytes).map_err(|_| Status::InvalidArgument);
    let (name, ns, sender, target) = (utf8(name)?, utf8(ns)?, utf8(sender)?, utf8(target)?);
    let request = ParsedRequest {
        iq: IqParts {
            kind,
            payload: (!name.is_empty()).then_some((name, ns)),
            shape,
        },
        sender,
        target: (!target.is_empty()).then_some(target),
        connection: Connection {
            addr,
            transport,
            source,
        },
        flags,
    };
    let answer = handle_parsed(&request).map_err(|e| e.status())?;
    Ok(answer.map(answer_for_c))
}

fn answer_for_c(answer: Answer) -> SicAnswer {
    let mut out = SicAnswer {
        kind: SIC_ANSWER_ERROR,
        form: 0,
        name: std::ptr::null(),
        ns: std::ptr::null(),
        ip: [0; SIC_IP_TEXT_CAP],
        ip_len: 0,
        port: 0,
        error_type: std::ptr::null(),
        error_condition: std::ptr::null(),
        error_text: std::ptr::null(),
    };
    match answer {
        Answer::Result { form, ip, port } => {
            let (code, name, ns) = match form {
                Form::Sic1Address => (SIC_FORM_SIC1_ADDRESS, c"address", crate::NS_SIC1_C),
                Form::Sic0Address => (SIC_FORM_SIC0_ADDRESS, c"address", crate::NS_SIC0_C),
                Form::Sic0Ip => (SIC_FORM_SIC0_IP, c"ip", crate::NS_SIC0_C),
            };
            out.kind = SIC_ANSWER_RESULT;
            out.form = code;
            out.name = name.as_ptr();
            out.ns = ns.as_ptr();
            let text = crate::addr::ip_text(ip);
            // The text is at most 45 bytes, so the NUL always fits after it.
            for (dst, &src) in out.ip.iter_mut().zip(text.as_bytes()) {
                *dst = src as c_char;
            }
            out.ip_len = text.as_bytes().len();
            out.port = port.unwrap_or(0);
        }
        Answer::Error(err) => {
            let (kind, condition, text): (&CStr, &CStr, &CStr) = err.parts();
            out.error_type = kind.as_ptr();
            out.error_condition = condition.as_ptr();
            out.error_text = text.as_ptr();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// cbindgen needs literals; these tie them to the values the code uses.
    #[test]
    fn header_constants_match_the_code() {
        assert_eq!(SIC_IP_TEXT_CAP, crate::addr::MAX_IP_TEXT + 1);
        let shapes = [
            (SIC_SHAPE_CHILDREN, Shape::CHILDREN),
            (SIC_SHAPE_TEXT, Shape::TEXT),
            (SIC_SHAPE_ATTRIBUTES, Shape::ATTRIBUTES),
            (SIC_SHAPE_SIBLINGS, Shape::SIBLINGS),
        ];
        let mut all = 0;
        for (c, rust) in shapes {
            assert_eq!(c, rust.bits());
            all |= c;
        }
        assert_eq!(SIC_SHAPE_ALL, all);
        assert_eq!(Shape::from_bits(SIC_SHAPE_ALL + 1), None);
    }
}
