//! The peer address as text: RFC 5952 for IPv6, dotted quad for IPv4, into a
//! fixed buffer so that nothing is allocated.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::Flags;

/// `ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255` is the longest form.
pub(crate) const MAX_IP_TEXT: usize = 45;

/// An address rendered as text.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct IpText {
    buf: [u8; MAX_IP_TEXT],
    len: usize,
}

impl std::fmt::Debug for IpText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for IpText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Each octet's decimal text followed by a dot, padded to four bytes, and the
/// length of text and dot: an octet is then one fixed-size copy, not up to
/// three divisions and pushes.
const OCTETS: [([u8; 4], u8); 256] = {
    let mut table = [([0u8; 4], 0u8); 256];
    let mut n = 0;
    while n < 256 {
        let (h, t, u) = ((n / 100) as u8, (n / 10 % 10) as u8, (n % 10) as u8);
        table[n] = if n >= 100 {
            ([b'0' + h, b'0' + t, b'0' + u, b'.'], 4)
        } else if n >= 10 {
            ([b'0' + t, b'0' + u, b'.', 0], 3)
        } else {
            ([b'0' + u, b'.', 0, 0], 2)
        };
        n += 1;
    }
    table
};

impl IpText {
    /// The text, which is ASCII: digits, hex letters, '.' and ':'.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever pushed; the fallback is unreachable.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    fn push(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    fn push_byte(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    /// Appends the octet and a dot. All four bytes are copied, so the buffer
    /// needs four bytes of room even for a shorter octet; IPv4 text is at
    /// most 22 bytes into it (after `::ffff:`), far from the end.
    fn push_octet_dot(&mut self, n: u8) {
        let (text, len) = OCTETS[n as usize];
        self.buf[self.len..self.len + 4].copy_from_slice(&text);
        self.len += len as usize;
    }

    fn push_v4(&mut self, ip: Ipv4Addr) {
        for octet in ip.octets() {
            self.push_octet_dot(octet);
        }
        // The dot after the last octet.
        self.len -= 1;
    }

    fn push_hex(&mut self, group: u16) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut started = false;
        for shift in [12, 8, 4, 0] {
            let nibble = (group >> shift) & 0xf;
            if nibble != 0 || started || shift == 0 {
                started = true;
                self.push_byte(HEX[nibble as usize]);
            }
        }
    }

    /// RFC 5952 §4: lower-case hex, no leading zeros, the longest run of two
    /// or more zero groups (the first of equal runs) shortened to `::`.
    fn push_v6(&mut self, ip: Ipv6Addr) {
        let groups = ip.segments();
        // "No run" is an empty run past the end, so the loop below needs no special case.
        let (mut best_start, mut best_len) = (8, 0);
        let mut i = 0;
        while i < 8 {
            if groups[i] == 0 {
                let start = i;
                while i < 8 && groups[i] == 0 {
                    i += 1;
                }
                if i - start > best_len.max(1) {
                    (best_start, best_len) = (start, i - start);
                }
            } else {
                i += 1;
            }
        }
        let mut i = 0;
        while i < 8 {
            if i == best_start {
                self.push(b"::");
                i += best_len;
                continue;
            }
            if i > 0 && i != best_start + best_len {
                self.push(b":");
            }
            self.push_hex(groups[i]);
            i += 1;
        }
    }
}

/// The address a reply reports for a client at `ip`: an IPv4-mapped IPv6
/// address (what a dual-stack listener reports for IPv4 clients) is the IPv4
/// client it stands for, unless the host asked to keep it.
#[inline]
pub fn reported_ip(ip: IpAddr, flags: Flags) -> IpAddr {
    match ip {
        IpAddr::V6(v6) if !flags.contains(Flags::KEEP_V4_MAPPED) => {
            v6.to_ipv4_mapped().map_or(ip, IpAddr::V4)
        }
        _ => ip,
    }
}

/// The text of `ip`: a dotted quad for IPv4, RFC 5952 for IPv6, with an
/// IPv4-mapped address in the mixed notation RFC 5952 §5 recommends.
pub fn ip_text(ip: IpAddr) -> IpText {
    let mut text = IpText {
        buf: [0; MAX_IP_TEXT],
        len: 0,
    };
    match ip {
        IpAddr::V4(v4) => text.push_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => {
                text.push(b"::ffff:");
                text.push_v4(v4);
            }
            None => text.push_v6(v6),
        },
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text(s: &str, flags: Flags) -> String {
        ip_text(reported_ip(s.parse().unwrap(), flags))
            .as_str()
            .to_owned()
    }

    #[test]
    fn rfc5952_examples() {
        let cases = [
            ("2001:0db8:0000:0000:0000:0000:0002:0001", "2001:db8::2:1"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
            ("2001:DB8::1", "2001:db8::1"),
            ("::", "::"),
            ("::1", "::1"),
            ("1::", "1::"),
            ("fe80::1", "fe80::1"),
            ("0:0:1:0:0:0:1:0", "0:0:1::1:0"),
            ("1.2.3.4", "1.2.3.4"),
            ("255.0.10.100", "255.0.10.100"),
        ];
        for (input, want) in cases {
            assert_eq!(text(input, Flags::NONE), want, "{input}");
        }
    }

    #[test]
    fn every_octet() {
        for n in 0..=255u8 {
            let ip = Ipv4Addr::new(n, 0, 255, n);
            assert_eq!(text(&ip.to_string(), Flags::NONE), ip.to_string());
        }
    }

    #[test]
    fn v4_mapped() {
        assert_eq!(text("::ffff:127.0.0.1", Flags::NONE), "127.0.0.1");
        assert_eq!(
            text("::ffff:127.0.0.1", Flags::KEEP_V4_MAPPED),
            "::ffff:127.0.0.1"
        );
        // IPv4-compatible (deprecated) addresses are not unmapped.
        assert_eq!(text("::1.2.3.4", Flags::NONE), "::102:304");
    }

    proptest! {
        /// std's Display is RFC 5952 too, the mapped range included.
        #[test]
        fn matches_std(bits: u128) {
            let ip = IpAddr::V6(Ipv6Addr::from(bits));
            let ours = ip_text(ip);
            prop_assert_eq!(ours.as_str(), ip.to_string());
        }

        #[test]
        fn mapped_round_trips(v4: u32) {
            let ip = Ipv4Addr::from(v4);
            let mapped = IpAddr::V6(ip.to_ipv6_mapped());
            let unmapped = ip_text(reported_ip(mapped, Flags::NONE));
            let kept = ip_text(reported_ip(mapped, Flags::KEEP_V4_MAPPED));
            prop_assert_eq!(unmapped.as_str(), ip.to_string());
            prop_assert_eq!(kept.as_str(), ip.to_ipv6_mapped().to_string());
        }
    }
}
