//! The request handler: the safe Rust API that the C ABI wraps.

use std::net::SocketAddr;

use crate::addr::{ip_text, reported_port};
use crate::escape::AttrText;
use crate::jid::Jid;
use crate::parse::{parse_iq, IqType, Payload};
use crate::reply::{render, Body, Counter, Filler, Reply, StanzaError};
use crate::{Flags, Status};

/// One IQ as the host received it.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The stanza as the host serialised it (at most 65 536 bytes).
    pub stanza: &'a [u8],
    /// The authenticated JID of the sender, as stamped by the host. The
    /// stanza's own `from` is never trusted.
    pub sender: &'a str,
    /// The JID the IQ was addressed to; `None` when it had no `to`.
    pub target: Option<&'a str>,
    /// The client's address and port as the host sees them; `None` when the
    /// host does not know it (or the transport is not IP).
    pub peer: Option<SocketAddr>,
    /// Request options.
    pub flags: Flags,
}

/// What the host does next after a successful call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handled {
    /// A reply stanza of `len` bytes is at the start of the output buffer;
    /// send it to the sender.
    Reply {
        /// Length of the reply in bytes.
        len: usize,
    },
    /// Not ours: route the IQ as if the plug-in were absent.
    Pass,
}

/// Why no reply could be produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandleError {
    /// Nothing was written; a buffer of `needed` bytes suffices.
    BufferTooSmall {
        /// Bytes the reply needs.
        needed: usize,
    },
    /// The sender or target is not a valid JID.
    InvalidArgument,
    /// See [`Status::MalformedStanza`].
    MalformedStanza,
}

impl HandleError {
    /// The C status for this error.
    pub fn status(self) -> Status {
        match self {
            HandleError::BufferTooSmall { .. } => Status::BufferTooSmall,
            HandleError::InvalidArgument => Status::InvalidArgument,
            HandleError::MalformedStanza => Status::MalformedStanza,
        }
    }
}

/// Answers a XEP-0279 request into `out`.
///
/// Pure and reentrant: the same request always gives the same bytes, so a
/// caller may retry with a larger buffer. `out` is written only when the whole
/// reply fits; [`reply_bound`](crate::reply_bound) bytes always do.
pub fn handle_iq(req: &Request<'_>, out: &mut [u8]) -> Result<Handled, HandleError> {
    let sender = Jid::parse(req.sender).map_err(|_| HandleError::InvalidArgument)?;
    let target = match req.target {
        Some(t) => Some(Jid::parse(t).map_err(|_| HandleError::InvalidArgument)?),
        None => None,
    };
    let iq = parse_iq(req.stanza, req.flags).map_err(|_| HandleError::MalformedStanza)?;

    #[cfg(feature = "panic-probe")]
    if iq.id.text == "xmpp-sic:panic" {
        panic!("panic probe requested by the stanza id");
    }

    let form = match (iq.kind, iq.payload) {
        (IqType::Result | IqType::Error, _) | (_, Payload::None) => return Ok(Handled::Pass),
        (_, Payload::Clean(form) | Payload::Unclean(form)) => form,
    };
    let ip;
    let body = if iq.kind == IqType::Unknown {
        Body::Error(StanzaError::BadType)
    } else if matches!(iq.payload, Payload::Unclean(_)) {
        Body::Error(StanzaError::BadPayload)
    } else if !target
        .as_ref()
        .is_none_or(|t| t.is_own_account_or_domain_of(&sender))
    {
        Body::Error(StanzaError::Forbidden)
    } else if iq.kind == IqType::Set {
        Body::Error(StanzaError::NotAllowed)
    } else if let Some(peer) = req.peer {
        ip = ip_text(peer.ip(), req.flags);
        Body::Result {
            form,
            ip: ip.as_bytes(),
            port: reported_port(peer, req.flags),
        }
    } else {
        Body::Error(StanzaError::NoAddress)
    };
    let reply = Reply {
        ns: iq.ns,
        id: iq.id,
        to: AttrText {
            text: req.sender,
            verbatim: sender.verbatim,
        },
        from: target.as_ref().zip(req.target).map(|(jid, text)| AttrText {
            text,
            verbatim: jid.verbatim,
        }),
        body,
    };

    // Hosts size their buffer with reply_bound, which is proven to suffice:
    // then one pass writes the reply. Otherwise a counting pass decides
    // first, so a short buffer is never written to.
    let bound = crate::reply_bound(
        req.stanza.len(),
        req.sender.len(),
        req.target.map_or(0, str::len),
    );
    if out.len() < bound {
        let mut count = Counter::default();
        render(&reply, &mut count).map_err(|_| HandleError::MalformedStanza)?;
        if count.0 > out.len() {
            return Err(HandleError::BufferTooSmall { needed: count.0 });
        }
    }
    let mut fill = Filler { buf: out, len: 0 };
    render(&reply, &mut fill).map_err(|_| HandleError::MalformedStanza)?;
    Ok(Handled::Reply { len: fill.len })
}

/// Like [`handle_iq`], into a new `Vec`; `Ok(None)` means pass. For Rust hosts
/// that prefer convenience to a reused buffer.
pub fn handle_iq_to_vec(req: &Request<'_>) -> Result<Option<Vec<u8>>, HandleError> {
    let mut out = vec![
        0;
        crate::reply_bound(
            req.stanza.len(),
            req.sender.len(),
            req.target.map_or(0, str::len)
        )
    ];
    match handle_iq(req, &mut out)? {
        Handled::Reply { len } => {
            out.truncate(len);
            Ok(Some(out))
        }
        Handled::Pass => Ok(None),
    }
}
