//! The one status type every entry point reports, and the request flags.

use std::ffi::CStr;

/// Outcome of a call, shared by the Rust API and the C ABI.
///
/// The values are part of the ABI: they are never renumbered, only appended.
/// An XMPP error *stanza* is a successful call (`Ok`): the host sends it.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// A reply stanza (IQ result or IQ error) was written; send it to the sender.
    Ok = 0,
    /// Not a XEP-0279 request (or an IQ of type result/error): route it as if
    /// the plug-in were absent. Nothing was written.
    Pass = 1,
    /// The output buffer is too small; nothing was written and the needed length
    /// was reported.
    BufferTooSmall = 2,
    /// A required pointer was NULL, or NULL with a non-zero length.
    NullArgument = 3,
    /// Unknown flag bits, a sender/target that is not a valid JID, a peer
    /// address too short for its family, or output overlapping the input.
    InvalidArgument = 4,
    /// Not exactly one well-formed `<iq/>` with `id` and `type`, or it holds a
    /// DTD, comment or processing instruction, or it exceeds the size limit.
    MalformedStanza = 5,
    /// An internal bug was caught at the C boundary; nothing was written.
    Panic = 6,
}

impl Status {
    /// A short, static, English description (what `sic_status_str` returns).
    pub const fn description(self) -> &'static CStr {
        match self {
            Status::Ok => c"ok: a reply stanza was written",
            Status::Pass => c"pass: not a Server IP Check request",
            Status::BufferTooSmall => c"buffer too small: *out_len holds the needed size",
            Status::NullArgument => c"null argument",
            Status::InvalidArgument => c"invalid argument",
            Status::MalformedStanza => c"malformed stanza",
            Status::Panic => c"internal error (panic caught)",
        }
    }

    /// Maps a raw value from C back to a status; `None` for unknown values.
    pub const fn from_u32(value: u32) -> Option<Status> {
        Some(match value {
            0 => Status::Ok,
            1 => Status::Pass,
            2 => Status::BufferTooSmall,
            3 => Status::NullArgument,
            4 => Status::InvalidArgument,
            5 => Status::MalformedStanza,
            6 => Status::Panic,
            _ => return None,
        })
    }
}

/// Request options, a bit set. Build with `|`; unknown bits are rejected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags(u32);

impl Flags {
    /// No options.
    pub const NONE: Flags = Flags(0);
    /// Never send `<port/>`: for hosts whose address came from X-Forwarded-For,
    /// where the port would be the proxy's.
    pub const OMIT_PORT: Flags = Flags(1);
    /// Report IPv4-mapped IPv6 addresses as `::ffff:a.b.c.d` instead of `a.b.c.d`.
    pub const KEEP_V4_MAPPED: Flags = Flags(2);
    /// Answer only `urn:xmpp:sic:1`; `urn:xmpp:sic:0` requests pass and sic:0 is
    /// not advertised.
    pub const NO_SIC0: Flags = Flags(4);
    const ALL: u32 = 1 | 2 | 4;

    /// Accepts only known bits.
    pub const fn from_bits(bits: u32) -> Option<Flags> {
        if bits & !Self::ALL == 0 {
            Some(Flags(bits))
        } else {
            None
        }
    }

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// True when every bit of `other` is set.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

/// The disco#info features a host advertises for these flags, most recent
/// first, as C strings (`to_str()` never fails on them).
pub fn features(flags: Flags) -> &'static [&'static CStr] {
    const ALL: [&CStr; 2] = [crate::NS_SIC1_C, crate::NS_SIC0_C];
    if flags.contains(Flags::NO_SIC0) {
        &ALL[..1]
    } else {
        &ALL
    }
}
