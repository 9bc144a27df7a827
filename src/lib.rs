//! XEP-0279 "Server IP Check" for XMPP servers.
//!
//! A host server hands over an IQ stanza, the authenticated sender, the
//! target and the client's address; the library answers with a result or
//! error stanza, or says the IQ is not its business. The Rust API is
//! [`handle_iq`] for a stanza as text, and [`handle_parsed`] for the parts of
//! one the host parsed already (it then builds the reply itself from the
//! [`Answer`]); C, Lua and Erlang hosts use the C ABI in `include/xmpp_sic.h`,
//! a thin layer over both (see [`ffi`]).
//!
//! Inside, every rule is in one layer: XML (`escape`, `tokenize`) → the IQ's
//! parts (`parse`) → a pure decision (`decide`) → rendering (`reply`).
//!
//! The handler is pure: no global state, no I/O, no allocation on the success
//! path for normalised ASCII JIDs, so it is safe to call from any thread.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(unsafe_code)]
#![warn(missing_docs)]

use std::ffi::CStr;

mod addr;
mod addr_text;
mod decide;
mod escape;
mod handler;
mod jid;
mod parse;
mod reply;
mod status;
mod tokenize;

#[allow(unsafe_code)]
pub mod ffi;

pub use decide::{Answer, Connection, Form, IqType, Shape, Source, StanzaError, Transport};
pub use handler::{
    handle_iq, handle_iq_to_vec, handle_parsed, parse_parts, HandleError, Handled, IqParts,
    ParsedRequest, Request,
};
pub use parse::MAX_STANZA_LEN;
pub use reply::reply_bound;
pub use status::{features, Flags, Status};

/// The namespace of XEP-0279 v0.1 (`<ip/>`; `<address/>` in ejabberd).
pub const NS_SIC0: &str = as_str(NS_SIC0_C);
/// The namespace of XEP-0279 v0.2 (`<address/>` with `<ip/>` and `<port/>`).
pub const NS_SIC1: &str = as_str(NS_SIC1_C);
const NS_SIC0_C: &CStr = c"urn:xmpp:sic:0";
const NS_SIC1_C: &CStr = c"urn:xmpp:sic:1";

/// The crate version, also `SIC_VERSION` in the header.
pub const VERSION: &str = as_str(VERSION_C);
const VERSION_C: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(s) => s,
        Err(_) => panic!("the package version holds a NUL"),
    };

const fn as_str(s: &'static CStr) -> &'static str {
    match s.to_str() {
        Ok(s) => s,
        Err(_) => panic!("not UTF-8"),
    }
}

/// Bumped when the C ABI changes incompatibly; `SIC_ABI_VERSION` in the header.
/// Both come from `[package.metadata.xmpp-sic] abi-version` in Cargo.toml.
pub const ABI_VERSION: u32 = parse_decimal(env!("XMPP_SIC_ABI_VERSION"));

const fn parse_decimal(s: &str) -> u32 {
    let bytes = s.as_bytes();
    let mut value = 0u32;
    let mut i = 0;
    while i < bytes.len() {
        assert!(
            bytes[i].is_ascii_digit(),
            "abi-version must be a decimal number"
        );
        value = value * 10 + (bytes[i] - b'0') as u32;
        i += 1;
    }
    value
}
