//! The success path allocates nothing: counted with a global allocator that
//! tallies every allocation made on this test's thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use xmpp_sic::{
    handle_iq, handle_parsed, Connection, Flags, HandleError, Handled, IqParts, IqType,
    ParsedRequest, Request, Shape, Source, Transport,
};

struct Counting;

thread_local! {
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: defers every operation to the system allocator unchanged and only
// adds a thread-local counter, which does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        COUNT.with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        COUNT.with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_in(f: impl FnOnce()) -> usize {
    let before = COUNT.with(Cell::get);
    f();
    COUNT.with(Cell::get) - before
}

#[test]
fn answering_allocates_nothing() {
    let sic1 =
        b"<iq xmlns='jabber:client' id='ab12' type='get'><address xmlns='urn:xmpp:sic:1'/></iq>";
    let sic0 = b"<iq xmlns='jabber:client' id='ab12' type='get'><ip xmlns='urn:xmpp:sic:0'/></iq>";
    let set =
        b"<iq xmlns='jabber:client' id='ab12' type='set'><address xmlns='urn:xmpp:sic:1'/></iq>";
    let pass =
        b"<iq xmlns='jabber:client' id='ab12' type='get'><query xmlns='jabber:iq:version'/></iq>";
    let prefixed = b"<c:iq xmlns:c='jabber:client' id='a&amp;b' type='get'><s:address xmlns:s='urn:xmpp:sic:1'>\n</s:address></c:iq>";
    let v4 = Some("203.0.113.7:40123".parse().unwrap());
    let v6 = Some("[2001:db8::7]:40123".parse().unwrap());
    // (stanza, target, peer, whether a reply is expected)
    let cases: [(&[u8], Option<&str>, _, bool); 8] = [
        (sic1, None, v4, true),
        (sic1, None, v6, true),
        (sic0, None, v4, true),
        (sic1, Some("alice@example.com"), v4, true),
        (sic1, Some("bob@example.com"), v4, true),
        (set, Some("example.com"), v6, true),
        (prefixed, None, v6, true),
        (pass, None, v4, false),
    ];
    let mut out = [0u8; 1024];
    for (stanza, target, peer, expect_reply) in cases {
        let req = Request {
            stanza,
            sender: "alice@example.com/phone",
            target,
            peer,
            flags: Flags::NONE,
        };
        let mut result = None;
        let n = allocations_in(|| result = Some(handle_iq(&req, &mut out)));
        let got_reply = matches!(result, Some(Ok(Handled::Reply { .. })));
        assert_eq!(got_reply, expect_reply, "{result:?}");
        assert_eq!(
            n,
            0,
            "{} allocation(s) for {}",
            n,
            String::from_utf8_lossy(stanza)
        );
    }
    // The too-small path measures without allocating either.
    let req = Request {
        stanza: sic1,
        sender: "alice@example.com/phone",
        target: None,
        peer: v4,
        flags: Flags::NONE,
    };
    let mut tiny = [0u8; 8];
    let mut result = None;
    assert_eq!(
        allocations_in(|| result = Some(handle_iq(&req, &mut tiny))),
        0
    );
    assert!(matches!(
        result,
        Some(Err(HandleError::BufferTooSmall { .. }))
    ));
}

#[test]
fn the_structured_entry_allocates_nothing() {
    let v6 = Some("[2001:db8::7]:40123".parse().unwrap());
    let sic1 = Some(("address", "urn:xmpp:sic:1"));
    let cases = [
        (IqType::Get, sic1, Shape::EMPTY, None, Transport::Stream),
        (
            IqType::Get,
            sic1,
            Shape::ATTRIBUTES,
            Some("alice@example.com"),
            Transport::Bosh,
        ),
        (
            IqType::Get,
            Some(("ip", "urn:xmpp:sic:0")),
            Shape::EMPTY,
            Some("example.com"),
            Transport::WebSocket,
        ),
        (IqType::Get, sic1, Shape::CHILDREN, None, Transport::Stream),
        (IqType::Set, sic1, Shape::EMPTY, None, Transport::Stream),
        (
            IqType::Get,
            sic1,
            Shape::EMPTY,
            Some("bob@example.com"),
            Transport::Stream,
        ),
        (
            IqType::Get,
            Some(("query", "jabber:iq:version")),
            Shape::EMPTY,
            None,
            Transport::Stream,
        ),
    ];
    for (kind, payload, shape, target, transport) in cases {
        let req = ParsedRequest {
            iq: IqParts {
                kind,
                payload,
                shape,
            },
            sender: "alice@example.com/phone",
            target,
            connection: Connection {
                addr: v6,
                transport,
                source: Source::Socket,
            },
            flags: Flags::NONE,
        };
        let mut result = None;
        let n = allocations_in(|| result = Some(handle_parsed(&req)));
        assert!(matches!(result, Some(Ok(_))), "{result:?}");
        assert_eq!(n, 0, "{n} allocation(s) for {req:?}");
    }
}

#[test]
fn text_to_sockaddr_allocates_nothing() {
    use xmpp_sic::ffi::sic_sockaddr_from_text;
    use xmpp_sic::Status;

    let cases = [
        ("203.0.113.7", Status::Ok),
        ("2001:db8::7", Status::Ok),
        ("::ffff:203.0.113.7", Status::Ok),
        ("fe80::1%lo", Status::Ok),
        ("fe80::1%2", Status::Ok),
        ("fe80::1%nosuchif0", Status::InvalidArgument),
        ("01.2.3.4", Status::InvalidArgument),
    ];
    for (text, want) in cases {
        // SAFETY: all-zero bytes are a valid sockaddr_storage.
        let mut out: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut len: libc::socklen_t = 0;
        let mut status = None;
        let n = allocations_in(|| {
            // SAFETY: the text is valid for its length; out and len are
            // writable locals.
            status = Some(unsafe {
                sic_sockaddr_from_text(text.as_ptr().cast(), text.len(), 5222, &mut out, &mut len)
            });
        });
        assert_eq!(status, Some(want), "{text}");
        assert_eq!(n, 0, "{n} allocation(s) for {text}");
    }
}

#[test]
fn the_counter_sees_allocations() {
    // Guards the test above against a counter that never counts.
    let n = allocations_in(|| drop(std::hint::black_box(vec![1u8; 64])));
    assert_eq!(n, 1);
    // Non-normalised JIDs take the slow path through the jid crate, which
    // allocates: proof that the fast path is what the first test measured.
    let req = Request {
        stanza: b"<iq id='1' type='get'><address xmlns='urn:xmpp:sic:1'/></iq>",
        sender: "Alice@Example.com/phone",
        target: None,
        peer: None,
        flags: Flags::NONE,
    };
    let mut out = [0u8; 1024];
    assert!(
        allocations_in(|| {
            let _ = std::hint::black_box(handle_iq(&req, &mut out));
        }) > 0
    );
}
