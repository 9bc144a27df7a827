//! JIDs as RFC 7622 compares them, for the one question we ask: may this
//! sender learn the address behind this target?
//!
//! Hosts almost always pass JIDs that are already normalised ASCII, so those
//! are checked and compared byte for byte without allocating. Anything else
//! (upper case, a trailing dot, non-ASCII) goes through the `jid` crate of
//! xmpp-rs, which applies the stringprep/IDNA normalisation (case folding,
//! width mapping, NFKC) that decides whether two JIDs are the same address.

use std::borrow::Cow;

/// The JID is not valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidJid;

/// Every part of a JID is at most this many bytes (RFC 7622 §3.1).
pub(crate) const MAX_PART_LEN: usize = 1023;
/// The longest valid JID: three full parts and their two separators.
pub(crate) const MAX_JID_LEN: usize = 3 * MAX_PART_LEN + 2;

/// A JID split into its parts, as given (not normalised).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parts<'a> {
    pub local: Option<&'a str>,
    pub domain: &'a str,
    pub resource: Option<&'a str>,
}

impl Parts<'_> {
    /// RFC 7622 §3.1: every part present holds 1 to 1023 bytes.
    fn lengths_ok(&self) -> bool {
        let ok = |part: &str| (1..=MAX_PART_LEN).contains(&part.len());
        ok(self.domain) && self.local.is_none_or(ok) && self.resource.is_none_or(ok)
    }
}

/// A validated JID with its normalised localpart and domainpart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Jid<'a> {
    pub parts: Parts<'a>,
    /// Known to hold nothing that an attribute value must escape, so a reply
    /// can copy it as it stands. Only the fast path finds this out on the way;
    /// `false` just means "scan it".
    pub verbatim: bool,
    local: Option<Cow<'a, str>>,
    domain: Cow<'a, str>,
}

impl<'a> Jid<'a> {
    pub fn parse(s: &'a str) -> Result<Jid<'a>, InvalidJid> {
        if let Some((parts, verbatim)) = normalised_ascii_parts(s) {
            return Ok(Jid {
                parts,
                verbatim,
                local: parts.local.map(Cow::Borrowed),
                domain: Cow::Borrowed(parts.domain),
            });
        }
        let parts = split(s)?;
        let full = jid::Jid::new(s).map_err(|_| InvalidJid)?;
        let local = full.node().map(|n| Cow::Owned(n.as_str().to_owned()));
        // RFC 7622 §3.2: a trailing dot is stripped before comparing. The jid
        // crate only strips it when nameprep changed something else too.
        let domain = full.domain().as_str();
        let domain = Cow::Owned(domain.strip_suffix('.').unwrap_or(domain).to_owned());
        Ok(Jid {
            parts,
            verbatim: false,
            local,
            domain,
        })
    }

    /// True when this JID, taken as a target, addresses the account of
    /// `sender` (its bare JID, with any resource) or exactly its domain.
    pub fn is_own_account_or_domain_of(&self, sender: &Jid<'_>) -> bool {
        match &self.local {
            Some(local) => sender.local.as_ref() == Some(local) && sender.domain == self.domain,
            None => self.parts.resource.is_none() && sender.domain == self.domain,
        }
    }
}

/// RFC 7622 §3.1: the resource starts at the first `/`, the localpart ends at
/// the first `@` before it.
pub fn split(s: &str) -> Result<Parts<'_>, InvalidJid> {
    let (bare, resource) = match memchr::memchr(b'/', s.as_bytes()) {
        Some(slash) => (&s[..slash], Some(&s[slash + 1..])),
        None => (s, None),
    };
    let (local, domain) = match memchr::memchr(b'@', bare.as_bytes()) {
        Some(at) => (Some(&bare[..at]), &bare[at + 1..]),
        None => (None, bare),
    };
    let parts = Parts {
        local,
        domain,
        resource,
    };
    if !parts.lengths_ok() {
        return Err(InvalidJid);
    }
    Ok(parts)
}

/// Byte classes for the fast path, one bit per part of a JID.
const LOCAL: u8 = 1;
const RESOURCE: u8 = 4;
/// Bytes an attribute value quoted with `'` holds as they are (the localpart
/// and domainpart bytes of the fast path all are).
const ATTR_SAFE: u8 = 8;
/// The domain bytes that need no label rule: lower-case letters and digits
/// (dots and hyphens are checked one by one).
const DOMAIN_LETTER_OR_DIGIT: u8 = 2;

/// Which parts may hold each byte *unchanged by normalisation*: the localpart
/// takes printable ASCII but upper case (case-folded) and the characters RFC
/// 7622 §3.3.1 forbids; the domainpart lower-case LDH and dots (the letters and
/// digits marked here, the rest in `plain_hostname_len`); the resource
/// any printable ASCII or space (OpaqueString leaves them as they are).
const CLASSES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0x20;
    while b < 0x7f {
        let c = b as u8;
        let mut class = RESOURCE;
        if crate::escape::attribute_escape(c).is_none() {
            class |= ATTR_SAFE;
        }
        if c != b' '
            && !c.is_ascii_uppercase()
            && !matches!(c, b'"' | b'&' | b'\'' | b'/' | b':' | b'<' | b'>' | b'@')
        {
            class |= LOCAL;
        }
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            class |= DOMAIN_LETTER_OR_DIGIT;
        }
        table[b] = class;
        b += 1;
    }
    table
};

/// The parts of `s` when every part is ASCII that normalisation would leave
/// unchanged, that the profiles accept and that has a valid length, so byte
/// comparison is RFC 7622 comparison; `None` sends `s` the slow way, which
/// also reports what is invalid. Each byte is looked at once, the domain's
/// label rules checked on the way: JIDs are short and this runs on every
/// request. With the parts comes whether `s` can be copied into an attribute
/// value as it stands.
fn normalised_ascii_parts(s: &str) -> Option<(Parts<'_>, bool)> {
    let bytes = s.as_bytes();
    let split_at = bytes
        .iter()
        .position(|&b| CLASSES[b as usize] & LOCAL == 0)
        .unwrap_or(bytes.len());
    let (local, domain_start) = match bytes.get(split_at) {
        Some(b'@') => (Some(&s[..split_at]), split_at + 1),
        // No localpart: what was read as one is the domain, read again.
        None | Some(b'/') => (None, 0),
        Some(_) => return None,
    };
    let domain_len = plain_hostname_len(&bytes[domain_start..])?;
    let domain_end = domain_start + domain_len;
    let domain = &s[domain_start..domain_end];
    let resource = match bytes.get(domain_end) {
        None => None,
        Some(b'/') => Some(&s[domain_end + 1..]),
        Some(_) => return None,
    };
    let parts = Parts {
        local,
        domain,
        resource,
    };
    // A leading space is the one printable ASCII form OpaqueString refuses.
    let (resource_ok, verbatim) = match resource {
        None => (true, true),
        Some(r) => {
            let class = r
                .bytes()
                .fold(RESOURCE | ATTR_SAFE, |acc, b| acc & CLASSES[b as usize]);
            (
                class & RESOURCE != 0 && !r.starts_with(' '),
                class & ATTR_SAFE != 0,
            )
        }
    };
    (parts.lengths_ok() && resource_ok).then_some((parts, verbatim))
}

/// The length of the plain hostname that `d` starts with, ending at its end
/// or at a `/`. Plain means lower-case LDH labels of 1 to 63 bytes that do not
/// start or end with `-`, no trailing dot, a letter in the last label (an IPv4
/// literal goes the slow way, which checks it properly), and no `--` (IDNA
/// A-labels go the slow way too); anything else is `None`.
fn plain_hostname_len(d: &[u8]) -> Option<usize> {
    let mut label_start = 0;
    let mut i = 0;
    let end = loop {
        // Runs of letters and digits take the tight loop; only the bytes
        // between them (dots, hyphens, the end) need a rule.
        while i < d.len() && CLASSES[d[i] as usize] & DOMAIN_LETTER_OR_DIGIT != 0 {
            i += 1;
        }
        match d.get(i) {
            Some(b'.') => {
                if !(1..=63).contains(&(i - label_start)) || d[i - 1] == b'-' {
                    return None;
                }
                label_start = i + 1;
            }
            Some(b'-') if i > label_start && d[i - 1] != b'-' => {}
            None | Some(b'/') => break i,
            Some(_) => return None,
        }
        i += 1;
    };
    let last_label = &d[label_start..end];
    let ends_well = end > 0 && d[end - 1] != b'-';
    // Within a plain label every byte from `a` up is a letter.
    let has_letter = last_label.iter().any(|&c| c >= b'a');
    ((1..=63).contains(&last_label.len()) && ends_well && has_letter).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escape::AttrText;

    fn allowed(target: &str, sender: &str) -> bool {
        let s = Jid::parse(sender).unwrap();
        Jid::parse(target).unwrap().is_own_account_or_domain_of(&s)
    }

    #[test]
    fn splits_at_the_first_slash_and_the_first_at_before_it() {
        let p = |s| split(s).unwrap();
        assert_eq!(
            p("a@b/c@d/e"),
            Parts {
                local: Some("a"),
                domain: "b",
                resource: Some("c@d/e")
            }
        );
        assert_eq!(
            p("b/@"),
            Parts {
                local: None,
                domain: "b",
                resource: Some("@")
            }
        );
        assert_eq!(
            p("a@b@c"),
            Parts {
                local: Some("a"),
                domain: "b@c",
                resource: None
            }
        );
        assert_eq!(split("a@/x"), Err(InvalidJid));
        assert_eq!(split("/x"), Err(InvalidJid));
    }

    #[test]
    fn own_account_and_domain() {
        let me = "alice@example.com/phone";
        assert!(allowed("alice@example.com", me));
        assert!(allowed("alice@example.com/laptop", me));
        assert!(allowed("example.com", me));
        assert!(!allowed("example.com/res", me));
        assert!(!allowed("bob@example.com", me));
        assert!(!allowed("alice@example.org", me));
        assert!(!allowed("other.example.com", me));
    }

    #[test]
    fn rfc7622_comparison() {
        let me = "alice@example.com/phone";
        assert!(allowed("Alice@EXAMPLE.com", me));
        assert!(allowed("alice@example.com.", me));
        assert!(allowed("EXAMPLE.COM.", me));
        // Fullwidth letters map to ASCII under the localpart profile.
        assert!(allowed("\u{FF41}lice@example.com", me));
        assert!(allowed("alice@example.com", "ALICE@Example.Com./x"));
        assert!(!allowed("al\u{0131}ce@example.com", me));
    }

    #[test]
    fn invalid_jids() {
        for bad in [
            "",
            "@example.com",
            "alice@",
            "alice@example.com/",
            "a\"b@example.com",
            "a b@example.com",
            "a<b@example.com",
        ] {
            assert_eq!(Jid::parse(bad), Err(InvalidJid), "{bad:?}");
        }
        let long = "a".repeat(1024);
        assert_eq!(Jid::parse(&format!("{long}@example.com")), Err(InvalidJid));
        assert_eq!(
            Jid::parse(&format!("alice@example.com/{long}")),
            Err(InvalidJid)
        );
        assert!(Jid::parse(&format!("{}@example.com", "a".repeat(1023))).is_ok());
    }

    #[test]
    fn plain_hostnames() {
        let long = "a".repeat(63);
        for good in ["a", "example.com", "a-b.c1", "x.y.z", long.as_str()] {
            assert_eq!(
                plain_hostname_len(good.as_bytes()),
                Some(good.len()),
                "{good}"
            );
            let with_resource = format!("{good}/r");
            assert_eq!(
                plain_hostname_len(with_resource.as_bytes()),
                Some(good.len()),
                "{good}"
            );
        }
        let too_long = "a".repeat(64);
        for bad in [
            "",
            ".",
            "a.",
            ".a",
            "a..b",
            "-a",
            "a-",
            "a.-b",
            "a-.b",
            "xn--a",
            "a.b--c",
            "1.2",
            "a.1",
            too_long.as_str(),
        ] {
            assert_eq!(plain_hostname_len(bad.as_bytes()), None, "{bad}");
            let with_resource = format!("{bad}/r");
            assert_eq!(plain_hostname_len(with_resource.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn fast_path_splits_like_split() {
        for s in [
            "alice@example.com/phone",
            "example.com",
            "example.com/r@s/t",
            "a@b.c",
            "a.b-c@x-y.example/Res ource",
            "a@b.c/it's <me> & \"you\"",
            "a@b.c/&",
        ] {
            let (parts, verbatim) = normalised_ascii_parts(s).unwrap();
            assert_eq!(parts, split(s).unwrap(), "{s}");
            // What the reply would otherwise find by scanning.
            assert_eq!(verbatim, AttrText::scanned(s).verbatim, "{s}");
        }
        for s in [
            "",
            "@a.b",
            "a@",
            "a@b.c/",
            "a@b@c.d",
            "A@b.c",
            "a@B.c",
            "a@b.c/ r",
            "a b@c.d",
            "a@b.c.",
            "a@1.2.3.4",
        ] {
            assert_eq!(normalised_ascii_parts(s), None, "{s}");
        }
    }

    #[test]
    fn fast_path_agrees_with_the_jid_crate() {
        for s in [
            "alice@example.com/r",
            "example.com",
            "a.b-c@x-y.example/Res ource",
            "127.0.0.1",
            "[::1]",
            "user@[::1]/x",
        ] {
            let ours = Jid::parse(s).unwrap();
            let theirs = jid::Jid::new(s).unwrap();
            assert_eq!(
                ours.local.as_deref(),
                theirs.node().map(|n| n.as_str()),
                "{s}"
            );
            assert_eq!(&*ours.domain, theirs.domain().as_str(), "{s}");
        }
    }
    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// Whatever the fast path accepts, the jid crate accepts too and
        /// splits and normalises identically: the fast path is never looser.
        #[test]
        fn fast_path_is_never_looser_than_the_jid_crate(
            local in "([a-cA0-9'.-]{1,4}@)?",
            domain in "[a-cA0-9-]{1,4}(\\.[a-cA0-9-]{1,4}){0,2}\\.?",
            resource in "(/[a-c A'&/@]{0,4})?",
        ) {
            let s = format!("{local}{domain}{resource}");
            if let Some((parts, _)) = normalised_ascii_parts(&s) {
                let theirs = jid::Jid::new(&s);
                proptest::prop_assert!(theirs.is_ok(), "{s:?}");
                let theirs = theirs.unwrap();
                proptest::prop_assert_eq!(parts.local, theirs.node().map(|n| n.as_str()));
                proptest::prop_assert_eq!(parts.domain, theirs.domain().as_str());
                proptest::prop_assert_eq!(parts.resource, theirs.resource().map(|r| r.as_str()));
            }
        }
    }
}
