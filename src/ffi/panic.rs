//! The panic boundary every exported function runs its body inside.
//!
//! A panic unwinding into C is undefined behaviour, and aborting would take
//! the whole XMPP server down with it, so each body runs under
//! `catch_unwind` and a panic becomes a typed default (`SIC_STATUS_PANIC` for
//! the handler). No state outlives a call, so nothing can be left half-updated
//! (hence `AssertUnwindSafe`).

macro_rules! boundary {
    ($on_panic:expr, $body:block) => {
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| $body)) {
            Ok(value) => value,
            Err(_) => $on_panic,
        }
    };
}

pub(crate) use boundary;
