//! The C ABI: `include/xmpp_sic.h` is generated from this module.
//!
//! Conventions (also in the README's "API conventions"):
//! - every symbol is `sic_*`, every constant `SIC_*`;
//! - inputs are (pointer, length) pairs; `(NULL, 0)` is an empty input;
//! - outputs go to a caller-owned buffer and are written only on success
//!   (`sic_sockaddr_from_text` also zeroes `*out_len` on failure: 0 is the
//!   length the handlers read as "address unknown");
//! - every function is reentrant and thread-safe: there is no global state;
//! - no panic crosses the boundary: a caught panic is `SIC_STATUS_PANIC`;
//! - flags and statuses cross as `uint32_t`, never as Rust enums, so an
//!   out-of-range value from C is an error, not undefined behaviour.

mod panic;
mod parsed;
mod peer;
mod ptr;

pub use parsed::*;
pub use peer::sic_sockaddr_from_text;

use std::ffi::{c_char, CStr};

use libc::{sockaddr, socklen_t};

use self::panic::boundary;
use crate::{handle_iq, Flags, HandleError, Handled, Request, Status};

/// Never send `<port/>` (for addresses taken from X-Forwarded-For, whose port
/// is the proxy's).
pub const SIC_FLAG_OMIT_PORT: u32 = 1;
/// Report an IPv4-mapped IPv6 peer as `::ffff:a.b.c.d` instead of `a.b.c.d`.
pub const SIC_FLAG_KEEP_V4_MAPPED: u32 = 2;
/// Answer only `urn:xmpp:sic:1`: sic:0 requests pass, and sic:0 is not a feature.
pub const SIC_FLAG_NO_SIC0: u32 = 4;
/// Every flag this library knows; any other bit is `SIC_STATUS_INVALID_ARGUMENT`.
pub const SIC_FLAG_ALL: u32 = 7;

/// The largest stanza `sic_handle_iq` accepts, in bytes.
pub const SIC_MAX_STANZA_LEN: usize = 65536;

/// The longest JID `sic_handle_iq` accepts, in bytes (three parts of 1023
/// bytes and two separators); a longer sender or target is
/// `SIC_STATUS_INVALID_ARGUMENT`, and `sic_reply_bound` counts it at this length.
pub const SIC_MAX_JID_LEN: usize = 3071;

/// Answers a XEP-0279 "Server IP Check" request.
///
/// - `iq`, `iq_len`: the stanza as the host serialised it (at most
///   `SIC_MAX_STANZA_LEN` bytes), with or without `xmlns='jabber:client'` or
///   `'jabber:server'`. Required.
/// - `sender`, `sender_len`: the authenticated JID the host stamped on the IQ
///   (UTF-8, not NUL-terminated). Required. The stanza's own `from` is ignored.
/// - `target`, `target_len`: the JID the IQ was addressed to; `(NULL, 0)` or
///   length 0 when it had no `to`.
/// - `peer`, `peer_len`: the client's `struct sockaddr_in`/`sockaddr_in6`;
///   `(NULL, 0)` when unknown. Never read past `peer_len`. Non-IP families
///   (AF_UNIX...) make the client's answer `<service-unavailable/>`.
/// - `flags`: a bitwise or of `SIC_FLAG_*`; unknown bits are
///   `SIC_STATUS_INVALID_ARGUMENT`.
/// - `out`, `out_cap`: the caller's buffer; NULL only when `out_cap` is 0. It
///   must not overlap any input. `sic_reply_bound()` bytes always suffice.
/// - `out_len`: required. Set on `SIC_STATUS_OK` (reply length) and on
///   `SIC_STATUS_BUFFER_TOO_SMALL` (exact length needed); untouched otherwise.
///
/// Returns `SIC_STATUS_OK` when `out[0..*out_len]` holds a reply stanza (an IQ
/// result or an IQ error: send it to the sender), `SIC_STATUS_PASS` when the IQ
/// is not a Server IP Check request (route it as usual), or an error status.
/// On any status but OK nothing is written to `out` (after a caught panic
/// its contents are unspecified).
///
/// Thread-safe and reentrant; the same inputs always give the same bytes, so
/// retrying with a larger buffer is safe.
///
/// # Safety
/// Every non-NULL pointer must be valid for its length (reads, or writes for
/// `out` and `out_len`) for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn sic_handle_iq(
    iq: *const u8,
    iq_len: usize,
    sender: *const c_char,
    sender_len: usize,
    target: *const c_char,
    target_len: usize,
    peer: *const sockaddr,
    peer_len: socklen_t,
    flags: u32,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> Status {
    boundary!(Status::Panic, {
        if out_len.is_null() {
            return Status::NullArgument;
        }
        // SAFETY: the caller's contract is forwarded unchanged.
        let (status, len) = unsafe {
            handle_raw(
                iq,
                iq_len,
                sender.cast(),
                sender_len,
                target.cast(),
                target_len,
                peer,
                peer_len,
                flags,
                out,
                out_cap,
            )
        };
        if let Some(len) = len {
            // SAFETY: non-NULL (checked above) and writable per the contract;
            // hosts may hand us unaligned storage.
            unsafe { out_len.write_unaligned(len) };
        }
        status
    })
}

/// Maps the raw arguments to a [`Request`] and runs it; the length is what
/// `*out_len` receives, if anything.
///
/// # Safety
/// As for [`sic_handle_iq`].
#[allow(clippy::too_many_arguments)]
unsafe fn handle_raw(
    iq: *const u8,
    iq_len: usize,
    sender: *const u8,
    sender_len: usize,
    target: *const u8,
    target_len: usize,
    peer: *const sockaddr,
    peer_len: socklen_t,
    flags: u32,
    out: *mut u8,
    out_cap: usize,
) -> (Status, Option<usize>) {
    // SAFETY (all three): the caller's contract is forwarded unchanged. Only a
    // prefix is read of inputs longer than anything valid, which keeps slice
    // lengths far below isize::MAX and still lets the checks see the excess.
    let inputs = unsafe {
        (
            ptr::required(iq, iq_len.min(SIC_MAX_STANZA_LEN + 1)),
            ptr::required(sender, sender_len.min(SIC_MAX_JID_LEN + 1)),
            ptr::input(target, target_len.min(SIC_MAX_JID_LEN + 1)),
        )
    };
    let (stanza, sender_bytes, target_bytes) = match inputs {
        (Ok(i), Ok(s), Ok(t)) => (i, s, t),
        _ => return (Status::NullArgument, None),
    };
    if out.is_null() && out_cap > 0 || peer.is_null() && peer_len > 0 {
        return (Status::NullArgument, None);
    }
    let Some(flags) = Flags::from_bits(flags) else {
        return (Status::InvalidArgument, None);
    };
    let out_ptr = out.cast_const();
    if [
        (iq, iq_len),
        (sender, sender_len),
        (target, target_len),
        (peer.cast::<u8>(), peer_len as usize),
    ]
    .iter()
    .any(|&(p, n)| ptr::overlaps(out_ptr, out_cap, p, n))
    {
        return (Status::InvalidArgument, None);
    }
    // SAFETY: forwarded contract; NULL with a non-zero length was refused above.
    let peer = match unsafe { peer::read_peer(peer, peer_len) } {
        Ok(peer) => peer,
        Err(status) => return (status, None),
    };
    let (Ok(sender), Ok(target)) = (
        std::str::from_utf8(sender_bytes),
        std::str::from_utf8(target_bytes),
    ) else {
        return (Status::InvalidArgument, None);
    };
    let request = Request {
        stanza,
        sender,
        target: (!target.is_empty()).then_some(target),
        peer,
        flags,
    };
    let out: &mut [u8] = if out_cap == 0 {
        &mut []
    } else {
        // SAFETY: non-NULL (checked above), `out_cap` writable bytes per the
        // contract, and disjoint from every input (checked above).
        unsafe { std::slice::from_raw_parts_mut(out, out_cap) }
    };
    match handle_iq(&request, out) {
        Ok(Handled::Reply { len }) => (Status::Ok, Some(len)),
        Ok(Handled::Pass) => (Status::Pass, None),
        Err(HandleError::BufferTooSmall { needed }) => (Status::BufferTooSmall, Some(needed)),
        Err(e) => (e.status(), None),
    }
}

/// The reply length that always suffices for a stanza of `iq_len` bytes and
/// JIDs of these lengths, whatever they contain and however much escaping
/// they need: a host can allocate once. Lengths past `SIC_MAX_STANZA_LEN` and
/// `SIC_MAX_JID_LEN` count as those maxima (such input is refused before any
/// reply), so the result never exceeds about 430 KB.
#[no_mangle]
pub extern "C" fn sic_reply_bound(iq_len: usize, sender_len: usize, target_len: usize) -> usize {
    boundary!(usize::MAX, {
        crate::reply_bound(iq_len, sender_len, target_len)
    })
}

/// A static, NUL-terminated English description of a status value. Never
/// NULL, also for values no status has (`"unknown status"`).
#[no_mangle]
pub extern "C" fn sic_status_str(status: u32) -> *const c_char {
    boundary!(c"internal error".as_ptr(), {
        Status::from_u32(status)
            .map_or(c"unknown status", Status::description)
            .as_ptr()
    })
}

/// The disco#info features to advertise for these flags: index 0, 1, ... until
/// NULL. Static, NUL-terminated strings. NULL for every index when `flags`
/// has unknown bits.
#[no_mangle]
pub extern "C" fn sic_feature(flags: u32, index: usize) -> *const c_char {
    boundary!(std::ptr::null(), {
        Flags::from_bits(flags)
            .and_then(|f| crate::features(f).get(index).copied())
            .map_or(std::ptr::null(), CStr::as_ptr)
    })
}

/// The library version (`SIC_VERSION` of the header the library was built
/// with), static and NUL-terminated.
#[no_mangle]
pub extern "C" fn sic_version() -> *const c_char {
    crate::VERSION_C.as_ptr()
}

/// The ABI version the library implements. A host compares it with the
/// `SIC_ABI_VERSION` it was compiled against and refuses to load on mismatch.
#[no_mangle]
pub extern "C" fn sic_abi_version() -> u32 {
    crate::ABI_VERSION
}

#[cfg(test)]
mod tests {
    /// cbindgen needs literals; these tie them to the values the code uses.
    #[test]
    fn header_constants_match_the_code() {
        assert_eq!(super::SIC_MAX_STANZA_LEN, crate::parse::MAX_STANZA_LEN);
        assert_eq!(super::SIC_MAX_JID_LEN, crate::jid::MAX_JID_LEN);
        assert_eq!(super::SIC_FLAG_OMIT_PORT, crate::Flags::OMIT_PORT.bits());
        assert_eq!(
            super::SIC_FLAG_KEEP_V4_MAPPED,
            crate::Flags::KEEP_V4_MAPPED.bits()
        );
        assert_eq!(super::SIC_FLAG_NO_SIC0, crate::Flags::NO_SIC0.bits());
        let all = crate::Flags::OMIT_PORT | crate::Flags::KEEP_V4_MAPPED | crate::Flags::NO_SIC0;
        assert_eq!(super::SIC_FLAG_ALL, all.bits());
        assert_eq!(crate::Flags::from_bits(super::SIC_FLAG_ALL + 1), None);
    }
}
