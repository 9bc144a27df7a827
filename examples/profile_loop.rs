//! A tight loop for profilers (callgrind, perf): `cargo run --release --example profile_loop -- N`.
use xmpp_sic::{handle_iq, Flags, Request};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let req = Request {
        stanza: b"<iq xmlns='jabber:client' id='ik2s7159' type='get'><address xmlns='urn:xmpp:sic:1'/></iq>",
        sender: "alice@example.com/phone",
        target: None,
        peer: Some("203.0.113.7:40123".parse().unwrap()),
        flags: Flags::NONE,
    };
    let mut out = [0u8; 1024];
    let mut total = 0usize;
    for _ in 0..n {
        if let Ok(xmpp_sic::Handled::Reply { len }) =
            handle_iq(std::hint::black_box(&req), &mut out)
        {
            total += len;
        }
    }
    println!("{total}");
}
