//! A panic inside the handler comes back as SIC_STATUS_PANIC through the C
//! ABI, and the process carries on. Needs the test-only `panic-probe` feature:
//! `cargo test --features panic-probe --test panic_boundary`.
#![cfg(feature = "panic-probe")]

use xmpp_sic::ffi::{
    sic_handle_iq, sic_handle_parsed, SicAnswer, SicIq, SicPeer, SIC_ANSWER_RESULT, SIC_IQ_GET,
};
use xmpp_sic::Status;

fn call(iq: &str) -> (Status, usize) {
    let sender = "alice@example.com/r";
    let mut out = [0u8; 1024];
    let mut len = usize::MAX;
    // SAFETY: every pointer is valid for its length for the whole call.
    let status = unsafe {
        sic_handle_iq(
            iq.as_ptr(),
            iq.len(),
            sender.as_ptr().cast(),
            sender.len(),
            std::ptr::null(),
            0,
            std::ptr::null(),
            0,
            0,
            out.as_mut_ptr(),
            out.len(),
            &mut len,
        )
    };
    (status, len)
}

#[test]
fn a_panic_becomes_a_status() {
    let (status, len) =
        call("<iq id='xmpp-sic:panic' type='get'><address xmlns='urn:xmpp:sic:1'/></iq>");
    assert_eq!(status, Status::Panic);
    assert_eq!(len, usize::MAX, "out_len untouched");
    // The next call on the same thread works as usual.
    let (status, len) = call("<iq id='ok' type='get'><address xmlns='urn:xmpp:sic:1'/></iq>");
    assert_eq!(status, Status::Ok);
    assert!(len > 0);
}

fn call_parsed(name: &str) -> (Status, SicAnswer) {
    let (sender, ns) = ("alice@example.com/r", "urn:xmpp:sic:1");
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 5222u16.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_be_bytes([192, 0, 2, 1]).to_be(),
        },
        sin_zero: [0; 8],
    };
    let iq = SicIq {
        r#type: SIC_IQ_GET,
        payload_name: name.as_ptr().cast(),
        payload_name_len: name.len(),
        payload_ns: ns.as_ptr().cast(),
        payload_ns_len: ns.len(),
        payload_shape: 0,
        sender: sender.as_ptr().cast(),
        sender_len: sender.len(),
        target: std::ptr::null(),
        target_len: 0,
    };
    let peer = SicPeer {
        addr: std::ptr::addr_of!(addr).cast(),
        addr_len: std::mem::size_of_val(&addr) as libc::socklen_t,
        transport: 0,
        source: 0,
    };
    // SAFETY: all-zero is a valid SicAnswer (null pointers, zero numbers).
    let mut answer: SicAnswer = unsafe { std::mem::zeroed() };
    answer.kind = 99;
    // SAFETY: the structs and every pointer in them are valid for the call.
    let status = unsafe { sic_handle_parsed(&iq, &peer, 0, &mut answer) };
    (status, answer)
}

#[test]
fn a_panic_in_the_structured_entry_becomes_a_status() {
    let (status, answer) = call_parsed("xmpp-sic-panic");
    assert_eq!(status, Status::Panic);
    assert_eq!(answer.kind, 99, "answer untouched");
    let (status, answer) = call_parsed("address");
    assert_eq!(status, Status::Ok);
    assert_eq!(answer.kind, SIC_ANSWER_RESULT);
}
