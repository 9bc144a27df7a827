//! Reading the peer's `struct sockaddr` without ever reading past `peer_len`.

use std::mem::{offset_of, size_of};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use libc::{sa_family_t, sockaddr, sockaddr_in, sockaddr_in6, socklen_t};

use crate::Status;

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
