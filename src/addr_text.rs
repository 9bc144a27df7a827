//! A client's address from the text a host holds it as (what it logs, what
//! luasocket returns): `192.0.2.1`, `2001:db8::1`, `::ffff:192.0.2.1`,
//! `fe80::1%eth0`, `fe80::1%2`. The rule lives here so that no binding needs
//! one of its own.
//!
//! The address itself is parsed by std, which accepts and refuses what
//! glibc's `inet_pton` does, the parser the bindings used before: the tests
//! compare the two on the edge cases (leading zeros in an IPv4 octet, which
//! `inet_aton` would read as octal, are refused by both: `01.2.3.4`,
//! `::ffff:01.2.3.4`) and on generated text, and found no difference.
//! Nothing is allocated.

use std::ffi::CStr;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::addr::MAX_IP_TEXT;

/// The longest zone: an interface name without its NUL. A scope number is
/// held to the same length, which its ten digits fit with room to spare.
const MAX_ZONE: usize = libc::IF_NAMESIZE - 1;

/// The longest text that can be an address: the longest IPv6 text, `%` and
/// the longest zone. Anything longer is refused unread.
pub(crate) const MAX_ADDR_TEXT: usize = MAX_IP_TEXT + 1 + MAX_ZONE;

/// The socket address `text` names, with `port`; `None` when it names none.
///
/// IPv4 is a dotted quad, IPv6 any form RFC 4291 allows (an IPv4-mapped
/// address stays IPv6: the decision unmaps it, or keeps it on request). A
/// zone after `%` is allowed on IPv6 only, since link-local clients are
/// reported with one; it is not part of any reply, but it must name
/// something: an interface `if_index` knows (it returns 0 for an unknown
/// name, as `if_nametoindex` does), or else a decimal scope number.
pub(crate) fn parse(
    text: &[u8],
    port: u16,
    if_index: impl FnOnce(&CStr) -> u32,
) -> Option<SocketAddr> {
    if text.len() > MAX_ADDR_TEXT {
        return None;
    }
    let (ip, zone) = match memchr::memchr(b'%', text) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    // std parses only str; non-ASCII is no address anyway.
    let ip = std::str::from_utf8(ip).ok()?;
    match zone {
        None => match ip.parse::<Ipv4Addr>() {
            Ok(v4) => Some(SocketAddr::V4(SocketAddrV4::new(v4, port))),
            Err(_) => {
                let v6 = ip.parse::<Ipv6Addr>().ok()?;
                Some(SocketAddr::V6(SocketAddrV6::new(v6, port, 0, 0)))
            }
        },
        Some(zone) => {
            let v6 = ip.parse::<Ipv6Addr>().ok()?;
            let scope = scope_id(zone, if_index)?;
            Some(SocketAddr::V6(SocketAddrV6::new(v6, port, 0, scope)))
        }
    }
}

/// An interface name first, then a number, as the Lua binding did before
/// the rule moved here: an interface named like a number (Linux allows it)
/// wins.
fn scope_id(zone: &[u8], if_index: impl FnOnce(&CStr) -> u32) -> Option<u32> {
    if zone.is_empty() || zone.len() > MAX_ZONE {
        return None;
    }
    let mut name = [0u8; MAX_ZONE + 1];
    name[..zone.len()].copy_from_slice(zone);
    // Fails on a NUL inside the zone, which would cut the name short.
    let name = CStr::from_bytes_with_nul(&name[..=zone.len()]).ok()?;
    match if_index(name) {
        0 if zone.iter().all(u8::is_ascii_digit) => std::str::from_utf8(zone).ok()?.parse().ok(),
        0 => None,
        index => Some(index),
    }
}

#[cfg(test)]
#[allow(unsafe_code)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Interfaces for the tests: `lo` is 1, `eth0` 2, and `7` (a name that
    /// looks like a number) 9.
    fn fake_if_index(name: &CStr) -> u32 {
        match name.to_bytes() {
            b"lo" => 1,
            b"eth0" => 2,
            b"7" => 9,
            _ => 0,
        }
    }

    fn parsed(text: &str, port: u16) -> Option<SocketAddr> {
        parse(text.as_bytes(), port, fake_if_index)
    }

    fn v6(text: &str, port: u16, scope: u32) -> Option<SocketAddr> {
        Some(SocketAddr::V6(SocketAddrV6::new(
            text.parse().unwrap(),
            port,
            0,
            scope,
        )))
    }

    #[test]
    fn addresses() {
        assert_eq!(
            parsed("192.0.2.1", 5222),
            Some("192.0.2.1:5222".parse().unwrap())
        );
        assert_eq!(parsed("0.0.0.0", 0), Some("0.0.0.0:0".parse().unwrap()));
        assert_eq!(parsed("2001:db8::1", 1), v6("2001:db8::1", 1, 0));
        assert_eq!(parsed("2001:DB8:0:0::1", 1), v6("2001:db8::1", 1, 0));
        // Mapped stays IPv6: unmapping is the decision's, under a flag.
        assert_eq!(parsed("::ffff:192.0.2.1", 2), v6("::ffff:192.0.2.1", 2, 0));
        assert_eq!(
            parsed("0000:0000:0000:0000:0000:ffff:255.255.255.255", 3),
            v6("::ffff:255.255.255.255", 3, 0)
        );
    }

    #[test]
    fn zones() {
        assert_eq!(parsed("fe80::1%lo", 5222), v6("fe80::1", 5222, 1));
        assert_eq!(parsed("fe80::1%eth0", 1), v6("fe80::1", 1, 2));
        assert_eq!(parsed("fe80::1%2", 1), v6("fe80::1", 1, 2));
        assert_eq!(parsed("fe80::1%0", 1), v6("fe80::1", 1, 0));
        assert_eq!(parsed("fe80::1%007", 1), v6("fe80::1", 1, 7));
        assert_eq!(parsed("fe80::1%4294967295", 1), v6("fe80::1", 1, u32::MAX));
        // An interface whose name is a number is the interface.
        assert_eq!(parsed("fe80::1%7", 1), v6("fe80::1", 1, 9));
        // Any IPv6 address may carry one, as inet_pton-based code allowed.
        assert_eq!(parsed("2001:db8::1%lo", 1), v6("2001:db8::1", 1, 1));
    }

    #[test]
    fn refused() {
        let long_zone = format!("fe80::1%{}", "1".repeat(MAX_ZONE + 1));
        let too_long = format!("{}1.2.3.4", "0".repeat(MAX_ADDR_TEXT));
        for text in [
            "",
            " ",
            "localhost",
            "1.2.3",
            "1.2.3.4.5",
            "256.1.1.1",
            "01.2.3.4",
            "1.2.3.04",
            " 1.2.3.4",
            "1.2.3.4 ",
            "+1.2.3.4",
            "1.2.3.4:5222",
            "[::1]",
            "[::1]:5222",
            "::g",
            ":::",
            "1:2:3:4:5:6:7:8:9",
            "12345::1",
            "::ffff:01.2.3.4",
            "1.2.3.4%lo",
            "fe80::1%",
            "fe80::1%%lo",
            "fe80::1%nosuchif",
            "fe80::1%-1",
            "fe80::1%+1",
            "fe80::1% 1",
            "fe80::1%4294967296",
            "fe80::1%lo\0",
            "fe80::1%1\0",
            "1.2.3.4\0",
            "::1\0junk",
            "\u{e9}::1",
            &long_zone,
            &too_long,
        ] {
            assert_eq!(parsed(text, 1), None, "{text:?}");
        }
    }

    #[test]
    fn lengths() {
        let longest_ip = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255";
        assert_eq!(longest_ip.len(), MAX_IP_TEXT);
        let longest = format!("{longest_ip}%{}", "0".repeat(MAX_ZONE - 1) + "3");
        assert_eq!(longest.len(), MAX_ADDR_TEXT);
        assert_eq!(parsed(&longest, 1), v6(longest_ip, 1, 3));
        // Not looked up: a name that long is no interface's.
        let name = "x".repeat(MAX_ZONE + 1);
        let called = std::cell::Cell::new(false);
        let text = format!("fe80::1%{name}");
        assert_eq!(
            parse(text.as_bytes(), 1, |_| {
                called.set(true);
                1
            }),
            None
        );
        assert!(!called.get());
    }

    #[test]
    fn the_lookup_sees_the_zone_alone() {
        let mut seen = Vec::new();
        let _ = parse(b"fe80::1%eth0", 1, |name| {
            seen.extend_from_slice(name.to_bytes_with_nul());
            0
        });
        assert_eq!(seen, b"eth0\0");
    }

    #[test]
    fn the_real_loopback_interface() {
        // `lo` exists on every Linux machine, and it is what the C tests use.
        // SAFETY: `name` is NUL-terminated.
        let real = |name: &CStr| unsafe { libc::if_nametoindex(name.as_ptr()) };
        let got = parse(b"fe80::1%lo", 1, real).expect("lo exists");
        let SocketAddr::V6(v6) = got else {
            panic!("{got}")
        };
        assert_ne!(v6.scope_id(), 0);
        assert_eq!(parse(b"fe80::1%nosuchif0", 1, real), None);
    }

    /// glibc's `inet_pton`, the reference every C binding used before.
    fn inet_pton(text: &[u8]) -> Option<std::net::IpAddr> {
        // libc does not declare it for every target.
        extern "C" {
            fn inet_pton(
                af: libc::c_int,
                src: *const libc::c_char,
                dst: *mut libc::c_void,
            ) -> libc::c_int;
        }
        let text = std::ffi::CString::new(text).ok()?;
        let mut buf = [0u8; 16];
        // SAFETY: a NUL-terminated string, and 16 writable bytes, enough for
        // either family.
        if unsafe { inet_pton(libc::AF_INET, text.as_ptr(), buf.as_mut_ptr().cast()) } == 1 {
            return Some(Ipv4Addr::new(buf[0], buf[1], buf[2], buf[3]).into());
        }
        // SAFETY: as above.
        if unsafe { inet_pton(libc::AF_INET6, text.as_ptr(), buf.as_mut_ptr().cast()) } == 1 {
            return Some(Ipv6Addr::from(buf).into());
        }
        None
    }

    fn agrees_with_inet_pton(text: &[u8]) -> Result<(), TestCaseError> {
        let ours = parse(text, 0, |_| 0).map(|a| a.ip());
        prop_assert_eq!(ours, inet_pton(text), "{:?}", String::from_utf8_lossy(text));
        Ok(())
    }

    #[test]
    fn inet_pton_agrees_on_the_edges() {
        for text in [
            "01.2.3.4",
            "1.2.3.04",
            "0.0.0.0",
            "00.0.0.0",
            "1.2.3",
            "1.2.3.4.5",
            "256.1.1.1",
            "255.255.255.255",
            "::ffff:01.2.3.4",
            "::1.2.3.4",
            "1::1.2.3.4",
            "1:2:3:4:5:6:1.2.3.4",
            "1:2:3:4:5:6:7:1.2.3.4",
            "1:2:3:4:5:6:7::",
            "::1:2:3:4:5:6:7",
            "1::2:3:4:5:6:7:8",
            "0001::1",
            "00001::1",
            "::",
            ":",
            ":::",
            "1::2::3",
            "::ffff:1.2.3",
            "1.2.3.4::",
            "::1.2.3.4:1",
            "",
        ] {
            agrees_with_inet_pton(text.as_bytes()).unwrap();
        }
    }

    /// Texts built from the pieces addresses are made of, so that many
    /// parse; a zone-free text must give what inet_pton gives.
    fn address_like() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(vec![
            "0", "1", "01", "00", "255", "256", "ffff", "FfFf", "fffff", "0000", "00000", "a",
            "1.2.3.4", ":", "::", ".", "x", " ",
        ]);
        prop::collection::vec(piece, 0..16).prop_map(|p| p.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        #[test]
        fn inet_pton_agrees_on_address_like_text(text in address_like()) {
            agrees_with_inet_pton(text.as_bytes())?;
        }

        #[test]
        fn inet_pton_agrees_on_any_text(text in "[0-9a-fA-F:.]{0,48}") {
            agrees_with_inet_pton(text.as_bytes())?;
        }

        /// The zone never changes the address, and the port is kept as given.
        #[test]
        fn zone_and_port(bits: u128, port: u16, scope: u32) {
            let ip = Ipv6Addr::from(bits);
            let text = format!("{ip}%{scope}");
            prop_assert_eq!(
                parse(text.as_bytes(), port, |_| 0),
                Some(SocketAddr::V6(SocketAddrV6::new(ip, port, 0, scope)))
            );
        }

        #[test]
        fn any_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..80)) {
            let _ = parse(&bytes, 1, fake_if_index);
        }
    }
}
