//! Arbitrary bytes through the whole sic_handle_iq path.
//!
//! Layout of an input: flags byte, two bytes of out_cap (0xFFFF: the bound),
//! then stanza NUL sender NUL target NUL peer-bytes (the peer is the rest, so
//! it may hold NULs). Seeds in fuzz/seeds/raw follow it.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let flags = u32::from(data[0] & 0x0F) | if data[0] & 0x80 != 0 { 1 << 31 } else { 0 };
    let cap = u16::from_le_bytes([data[1], data[2]]);
    let mut parts = data[3..].splitn(4, |&b| b == 0);
    let stanza = parts.next().unwrap_or(&[]);
    let sender = parts.next().unwrap_or(&[]);
    let target = parts.next().unwrap_or(&[]);
    let peer = parts.next().unwrap_or(&[]);
    common::check(&common::Input {
        stanza,
        sender,
        target,
        peer,
        flags,
        out_cap: if cap == 0xFFFF { None } else { Some(cap.into()) },
    });
});
