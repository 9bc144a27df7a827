//! The two entry points, each a composition of the same layers: a raw
//! stanza is parsed into its parts, decided, and rendered as a stanza; the
//! parts a host parsed itself are decided and returned as an [`Answer`].
//! This is the safe Rust API that the C ABI wraps.

use std::net::SocketAddr;

use crate::decide::{decide, Answer, Connection, Form, IqType, Parts, Shape, SicNs};
use crate::escape::AttrText;
use crate::jid::Jid;
use crate::parse::{parse_iq, Iq};
use crate::reply::{render, Counter, Filler, Reply};
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
    // The JIDs are parsed here and in handle_parsed rather than in a shared
    // helper: returned from one by value, they were copied on every request.
    let sender = Jid::parse(req.sender).map_err(|_| HandleError::InvalidArgument)?;
    // A match rather than map and transpose: through the Result<Option<Jid>>
    // those build, even an absent target was copied on every request.
    let target = match req.target {
        Some(t) => Some(Jid::parse(t).map_err(|_| HandleError::InvalidArgument)?),
        None => None,
    };
    let iq = parse_iq(req.stanza).map_err(|_| HandleError::MalformedStanza)?;

    #[cfg(feature = "panic-probe")]
    if iq.id.text == "xmpp-sic:panic" {
        panic!("panic probe requested by the stanza id");
    }

    // From the parser's own namespace class: no URI to compare again.
    let parts = Parts {
        kind: iq.kind,
        form: iq
            .payload
            .and_then(|child| Form::of(child.local, child.ns.sic(), req.flags)),
        shape: iq.payload.map_or(Shape::EMPTY, |child| child.shape),
    };
    let conn = Connection::socket(req.peer);
    let Some(body) = decide(&parts, &sender, target.as_ref(), &conn, req.flags) else {
        return Ok(Handled::Pass);
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

/// A request whose IQ the host has parsed already: no XML in, none out.
#[derive(Clone, Copy, Debug)]
pub struct ParsedRequest<'a> {
    /// The IQ's type and first child, as the host read them.
    pub iq: IqParts<'a>,
    /// The authenticated JID of the sender, as stamped by the host.
    pub sender: &'a str,
    /// The JID the IQ was addressed to; `None` when it had no `to`.
    pub target: Option<&'a str>,
    /// What the server knows about the client's connection.
    pub connection: Connection,
    /// Request options.
    pub flags: Flags,
}

/// Answers a request the host parsed itself: `Ok(None)` means pass. The
/// same decision as [`handle_iq`] makes for the same request, without the
/// stanza around it; the host builds the reply with its own library.
pub fn handle_parsed(req: &ParsedRequest<'_>) -> Result<Option<Answer>, HandleError> {
    let sender = Jid::parse(req.sender).map_err(|_| HandleError::InvalidArgument)?;
    let target = match req.target {
        Some(t) => Some(Jid::parse(t).map_err(|_| HandleError::InvalidArgument)?),
        None => None,
    };

    #[cfg(feature = "panic-probe")]
    if req
        .iq
        .payload
        .is_some_and(|(name, _)| name == "xmpp-sic-panic")
    {
        panic!("panic probe requested by the payload's name");
    }

    let parts = req.iq.decision_parts(req.flags);
    Ok(decide(
        &parts,
        &sender,
        target.as_ref(),
        &req.connection,
        req.flags,
    ))
}

/// The parts of a raw stanza as the library's own parser reads them, which
/// are what [`handle_iq`] decides on: what a host that parsed the stanza
/// itself hands to [`handle_parsed`]. For tests and fuzzing that compare the
/// two entries.
pub fn parse_parts(stanza: &[u8]) -> Result<IqParts<'_>, HandleError> {
    let iq = parse_iq(stanza).map_err(|_| HandleError::MalformedStanza)?;
    Ok(IqParts::of(&iq))
}

/// What the decision reads of an IQ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IqParts<'a> {
    /// The IQ's type.
    pub kind: IqType,
    /// The local name and namespace URI of the IQ's first child element;
    /// `None` when it has none. ([`parse_parts`] gives the namespace only
    /// when it is a Server IP Check one, an empty string otherwise: all the
    /// decision looks at.)
    pub payload: Option<(&'a str, &'a str)>,
    /// What that element holds and what stands beside it.
    pub shape: Shape,
}

impl<'a> IqParts<'a> {
    fn of(iq: &Iq<'a>) -> IqParts<'a> {
        IqParts {
            kind: iq.kind,
            payload: iq
                .payload
                .map(|child| (child.local, child.ns.sic().map_or("", SicNs::uri))),
            shape: iq.payload.map_or(Shape::EMPTY, |child| child.shape),
        }
    }

    fn decision_parts(&self, flags: Flags) -> Parts {
        Parts {
            kind: self.kind,
            form: self
                .payload
                .and_then(|(local, ns)| Form::of(local, SicNs::of_uri(ns), flags)),
            shape: self.shape,
        }
    }
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
