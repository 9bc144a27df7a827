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

/// A JID split into its parts, as given (not normalised).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parts<'a> {
    pub local: Option<&'a str>,
    pub domain: &'a str,
    pub resource: Option<&'a str>,
}

/// A validated JID with its normalised localpart and domainpart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Jid<'a> {
    pub parts: Parts<'a>,
    local: Option<Cow<'a, str>>,
    domain: Cow<'a, str>,
}

impl<'a> Jid<'a> {
    pub fn parse(s: &'a str) -> Result<Jid<'a>, InvalidJid> {
        let parts = split(s)?;
        if is_normalised_ascii(&parts) {
            return Ok(Jid {
                parts,
                local: parts.local.map(Cow::Borrowed),
                domain: Cow::Borrowed(parts.domain),
            });
        }
        let full = jid::Jid::new(s).map_err(|_| InvalidJid)?;
        let local = full.node().map(|n| Cow::Owned(n.as_str().to_owned()));
        // RFC 7622 §3.2: a trailing dot is stripped before comparing. The jid
        // crate only strips it when nameprep changed something else too.
        let domain = full.domain().as_str();
        let domain = Cow::Owned(domain.strip_suffix('.').unwrap_or(domain).to_owned());
        Ok(Jid {
            parts,
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
    let (bare, resource) = match s.split_once('/') {
        Some((bare, resource)) => (bare, Some(resource)),
        None => (s, None),
    };
    let (local, domain) = match bare.split_once('@') {
        Some((local, domain)) => (Some(local), domain),
        None => (None, bare),
    };
    let ok = |part: &str| !part.is_empty() && part.len() <= MAX_PART_LEN;
    if !ok(domain) || !local.is_none_or(ok) || !resource.is_none_or(ok) {
        return Err(InvalidJid);
    }
    Ok(Parts {
        local,
        domain,
        resource,
    })
}

/// Characters RFC 7622 §3.3.1 forbids in a localpart, beside controls and space.
fn forbidden_in_local(b: u8) -> bool {
    matches!(b, b'"' | b'&' | b'\'' | b'/' | b':' | b'<' | b'>' | b'@')
}

/// True when every part is ASCII that normalisation would leave unchanged and
/// that the profiles accept, so byte comparison is RFC 7622 comparison.
fn is_normalised_ascii(parts: &Parts<'_>) -> bool {
    let local_ok = parts.local.is_none_or(|l| {
        l.bytes()
            .all(|b| b.is_ascii_graphic() && !b.is_ascii_uppercase() && !forbidden_in_local(b))
    });
    let domain_ok = is_plain_hostname(parts.domain);
    // OpaqueString accepts printable ASCII, space included; it is not compared.
    let resource_ok = parts
        .resource
        .is_none_or(|r| r.bytes().all(|b| (0x20..0x7f).contains(&b)) && !r.starts_with(' '));
    local_ok && domain_ok && resource_ok
}

/// Lower-case LDH labels of 1 to 63 bytes, no trailing dot, not all-numeric
/// at the end (an IPv4 literal goes the slow way, which checks it properly).
fn is_plain_hostname(d: &str) -> bool {
    let labels_ok = d.split('.').all(|label| {
        let b = label.as_bytes();
        (1..=63).contains(&b.len())
            && b.iter()
                .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
            && b[0] != b'-'
            && b[b.len() - 1] != b'-'
    });
    let last_is_alpha = d
        .rsplit('.')
        .next()
        .is_some_and(|l| l.bytes().any(|c| c.is_ascii_lowercase()));
    labels_ok && last_is_alpha && !d.contains("--")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(target: &str, sender: &str) -> bool {
        let s = Jid::parse(sender).unwrap();
        Jid::parse(target).unwrap().is_own_account_or_domain_of(&s)
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
}
