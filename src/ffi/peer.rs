//! The peer's `struct sockaddr`: read without ever reading past `peer_len`,
//! and made from the text a host holds (`sic_sockaddr_from_text`).

use std::ffi::{c_char, CStr};
use std::mem::{offset_of, size_of};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use libc::{sa_family_t, sockaddr, sockaddr_in, sockaddr_in6, sockaddr_storage, socklen_t};

use super::panic::boundary;
use super::ptr;
use crate::addr_text::{self, MAX_ADDR_TEXT};
use crate::Status;

/// Fills `*out` with the client's address given as text, for a host that
/// holds it so (it logs it, or luasocket gave it): a `struct sockaddr_in`
/// for a dotted quad, a `struct sockaddr_in6` for IPv6 text, with `port` in
/// network byte order. Pass `out` as `sic_peer.addr` (or `sic_handle_iq`'s
/// `peer`) and `*out_len` as its length.
///
/// - `ip`, `ip_len`: the text, not NUL-terminated: `192.0.2.1`,
///   `2001:db8::1`, `::ffff:192.0.2.1` (kept IPv6: the reply unmaps it unless
///   `SIC_FLAG_KEEP_V4_MAPPED`), `fe80::1%eth0` or `fe80::1%2` (the zone, an
///   interface name or else a decimal number, becomes `sin6_scope_id`; replies
///   never show it). Required.
/// - `port`: the client's port in host byte order; 0 when unknown.
/// - `out`: required; on `SIC_STATUS_OK` all of it is written (bytes past the
///   address are zero), on any other status none of it.
/// - `out_len`: required; the address's length on `SIC_STATUS_OK`, 0 on any
///   other status, so a host that passes `(out, *out_len)` on regardless
///   passes an unknown address, never a stale one.
///
/// Returns `SIC_STATUS_OK`, `SIC_STATUS_NULL_ARGUMENT`,
/// `SIC_STATUS_INVALID_ARGUMENT` when the text is no address (empty, longer
/// than any address can be, a NUL, a space, brackets or a port in it, an
/// IPv4 octet with a leading zero, a zone on IPv4, an empty zone, a zone
/// that names no interface and is no number below 2^32) or `*out` overlaps
/// it, or `SIC_STATUS_PANIC`. The address is accepted and refused as glibc's
/// `inet_pton` does.
///
/// Thread-safe and reentrant; no allocation. A zone is looked up with
/// `if_nametoindex`.
///
/// # Safety
/// A non-NULL `ip` must be valid for reads of `ip_len` bytes; non-NULL `out`
/// and `out_len` must be valid for writes (any alignment).
#[no_mangle]
pub unsafe extern "C" fn sic_sockaddr_from_text(
    ip: *const c_char,
    ip_len: usize,
    port: u16,
    out: *mut sockaddr_storage,
    out_len: *mut socklen_t,
) -> Status {
    let failed = |status| {
        if !out_len.is_null() {
            // SAFETY: non-NULL and writable per the contract; hosts may hand
            // us unaligned storage.
            unsafe { out_len.write_unaligned(0) };
        }
        status
    };
    boundary!(failed(Status::Panic), {
        if out_len.is_null() {
            return Status::NullArgument;
        }
        // SAFETY: the caller's contract is forwarded.
        match unsafe { fill_from_text(ip, ip_len, port, out) } {
            Ok(len) => {
                // SAFETY: as in `failed`.
                unsafe { out_len.write_unaligned(len) };
                Status::Ok
            }
            Err(status) => failed(status),
        }
    })
}

/// Writes `*out` and returns its length.
///
/// # Safety
/// As for [`sic_sockaddr_from_text`].
unsafe fn fill_from_text(
    ip: *const c_char,
    ip_len: usize,
    port: u16,
    out: *mut sockaddr_storage,
) -> Result<socklen_t, Status> {
    // SAFETY: the caller's contract is forwarded. Only a prefix of an
    // over-long text is read, which is enough to refuse it.
    let text = unsafe { ptr::required(ip.cast(), ip_len.min(MAX_ADDR_TEXT + 1)) }?;
    if out.is_null() {
        return Err(Status::NullArgument);
    }
    let out_size = size_of::<sockaddr_storage>();
    if ptr::overlaps(out.cast_const().cast(), out_size, ip.cast(), ip_len) {
        return Err(Status::InvalidArgument);
    }
    // SAFETY: `name` is NUL-terminated, and if_nametoindex only reads it.
    let if_index = |name: &CStr| unsafe { libc::if_nametoindex(name.as_ptr()) };
    let addr = addr_text::parse(text, port, if_index).ok_or(Status::InvalidArgument)?;
    let (storage, len) = sockaddr_of(addr);
    // SAFETY: non-NULL (checked above), writable per the contract and
    // disjoint from the text (checked above); any alignment.
    unsafe { out.write_unaligned(storage) };
    Ok(len)
}

/// `addr` as the kernel would report it: a `sockaddr_in` or `sockaddr_in6`
/// at the start of zeroed storage, and its length.
fn sockaddr_of(addr: SocketAddr) -> (sockaddr_storage, socklen_t) {
    // SAFETY: C structs of integers and byte arrays only, for which all
    // zero bytes are a valid value (and the unset fields' right one).
    let mut storage: sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            // SAFETY: as above.
            let mut sin: sockaddr_in = unsafe { std::mem::zeroed() };
            sin.sin_family = libc::AF_INET as sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
            // SAFETY: sockaddr_storage is larger and at least as aligned as
            // every sockaddr type (that is its purpose).
            unsafe {
                std::ptr::addr_of_mut!(storage)
                    .cast::<sockaddr_in>()
                    .write(sin)
            };
            size_of::<sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            // SAFETY: as above.
            let mut sin6: sockaddr_in6 = unsafe { std::mem::zeroed() };
            sin6.sin6_family = libc::AF_INET6 as sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_addr.s6_addr = a.ip().octets();
            sin6.sin6_scope_id = a.scope_id();
            // SAFETY: as for sockaddr_in.
            unsafe {
                std::ptr::addr_of_mut!(storage)
                    .cast::<sockaddr_in6>()
                    .write(sin6)
            };
            size_of::<sockaddr_in6>()
        }
    };
    (storage, len as socklen_t)
}

/// `Ok(None)` means no usable IP address: unknown (NULL or length 0), or a
/// family that has none (AF_UNIX and the like); the client then gets
/// `<service-unavailable/>`.
///
/// # Safety
/// A non-NULL `peer` must point to `len` readable bytes.
pub(super) unsafe fn read_peer(
    peer: *const sockaddr,
    len: socklen_t,
) -> Result<Option<SocketAddr>, Status> {
    let len = len as usize;
    if len == 0 {
        return Ok(None);
    }
    if peer.is_null() {
        return Err(Status::NullArgument);
    }
    if len < offset_of!(sockaddr, sa_family) + size_of::<sa_family_t>() {
        return Err(Status::InvalidArgument);
    }
    // SAFETY: the family field lies within the `len` readable bytes (checked
    // above); hosts may pass unaligned storage, hence read_unaligned.
    let family = unsafe { std::ptr::addr_of!((*peer).sa_family).read_unaligned() };
    match i32::from(family) {
        libc::AF_INET => {
            if len < size_of::<sockaddr_in>() {
                return Err(Status::InvalidArgument);
            }
            // SAFETY: `len` covers a whole sockaddr_in (checked above).
            let sin = unsafe { peer.cast::<sockaddr_in>().read_unaligned() };
            let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            Ok(Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            ))))
        }
        libc::AF_INET6 => {
            if len < size_of::<sockaddr_in6>() {
                return Err(Status::InvalidArgument);
            }
            // SAFETY: `len` covers a whole sockaddr_in6 (checked above).
            let sin6 = unsafe { peer.cast::<sockaddr_in6>().read_unaligned() };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            let port = u16::from_be(sin6.sin6_port);
            Ok(Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                port,
                0,
                sin6.sin6_scope_id,
            ))))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `sic_sockaddr_from_text` writes is what `sic_handle_*` reads.
    #[test]
    fn written_addresses_read_back() {
        for text in [
            "192.0.2.1:5222",
            "[2001:db8::1]:1",
            "[::ffff:192.0.2.1]:0",
            "[fe80::1%7]:65535",
        ] {
            let addr: SocketAddr = text.parse().unwrap();
            let (storage, len) = sockaddr_of(addr);
            // SAFETY: `storage` holds `len` initialised bytes.
            let back = unsafe { read_peer(std::ptr::addr_of!(storage).cast(), len) };
            assert_eq!(back, Ok(Some(addr)), "{text}");
        }
    }

    #[test]
    fn network_byte_order() {
        let (storage, len) = sockaddr_of("192.0.2.1:5222".parse().unwrap());
        assert_eq!(len as usize, size_of::<sockaddr_in>());
        // SAFETY: sockaddr_storage is aligned for sockaddr_in and holds one.
        let sin = unsafe { &*std::ptr::addr_of!(storage).cast::<sockaddr_in>() };
        assert_eq!(sin.sin_port.to_ne_bytes(), [0x14, 0x66]);
        assert_eq!(sin.sin_addr.s_addr.to_ne_bytes(), [192, 0, 2, 1]);
    }
}
