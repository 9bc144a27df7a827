//! Heap allocations per call on each path, counted by a global allocator:
//! `cargo run --release --example alloc_count`. Prints `path allocations_per_call`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use xmpp_sic::{handle_iq, Flags, Request};

struct Counting;
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: defers to the system allocator and only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// (name, stanza, sender, target, peer)
type Path<'a> = (&'a str, &'a [u8], &'a str, Option<&'a str>, &'a str);

fn main() {
    const CALLS: usize = 100_000;
    let sic1: &[u8] =
        b"<iq xmlns='jabber:client' id='a' type='get'><address xmlns='urn:xmpp:sic:1'/></iq>";
    let sic0: &[u8] =
        b"<iq xmlns='jabber:client' id='a' type='get'><ip xmlns='urn:xmpp:sic:0'/></iq>";
    let paths: [Path<'_>; 6] = [
        (
            "sic1_ipv4",
            sic1,
            "alice@example.com/phone",
            None,
            "203.0.113.7:5222",
        ),
        (
            "sic1_ipv6",
            sic1,
            "alice@example.com/phone",
            None,
            "[2001:db8::7]:5222",
        ),
        (
            "sic0_ipv4",
            sic0,
            "alice@example.com/phone",
            None,
            "203.0.113.7:5222",
        ),
        (
            "forbidden",
            sic1,
            "alice@example.com/phone",
            Some("bob@example.com"),
            "203.0.113.7:5222",
        ),
        (
            "to_own_bare_jid",
            sic1,
            "alice@example.com/phone",
            Some("alice@example.com"),
            "203.0.113.7:5222",
        ),
        (
            "unnormalised_jid (slow path)",
            sic1,
            "Alice@Example.com/phone",
            Some("ALICE@example.com"),
            "203.0.113.7:5222",
        ),
    ];
    let mut out = [0u8; 1024];
    for (name, stanza, sender, target, peer) in paths {
        let req = Request {
            stanza,
            sender,
            target,
            peer: Some(peer.parse().unwrap()),
            flags: Flags::NONE,
        };
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        for _ in 0..CALLS {
            let _ = std::hint::black_box(handle_iq(&req, &mut out));
        }
        let per_call = (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / CALLS as f64;
        println!("{name} {per_call}");
    }
}
