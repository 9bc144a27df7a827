//! A panic inside the handler comes back as SIC_STATUS_PANIC through the C
//! ABI, and the process carries on. Needs the test-only `panic-probe` feature:
//! `cargo test --features panic-probe --test panic_boundary`.
#![cfg(feature = "panic-probe")]

use xmpp_sic::ffi::sic_handle_iq;
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
