//! A tight loop for profilers (callgrind, perf):
//! `cargo run --release --example profile_loop -- CALLS [ID_BYTES [floor]]`.
//! With `floor`, it runs the benchmark's floor instead (quick-xml's `Reader`
//! reading every event of the same stanza), so both can be counted alike;
//! with `parsed`, the structured entry on the same request's parts.
use xmpp_sic::{
    handle_iq, handle_parsed, Connection, Flags, IqParts, ParsedRequest, Request, Shape,
};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let id_len: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(8);
    let stanza = format!(
        "<iq xmlns='jabber:client' id='{}' type='get'><address xmlns='urn:xmpp:sic:1'/></iq>",
        "x".repeat(id_len)
    );
    let req = Request {
        stanza: stanza.as_bytes(),
        sender: "alice@example.com/phone",
        target: None,
        peer: Some("203.0.113.7:40123".parse().unwrap()),
        flags: Flags::NONE,
    };
    let mode = args.next();
    if mode.as_deref() == Some("parsed") {
        let parsed = ParsedRequest {
            iq: IqParts {
                kind: xmpp_sic::IqType::Get,
                payload: Some(("address", "urn:xmpp:sic:1")),
                shape: Shape::EMPTY,
            },
            sender: req.sender,
            target: None,
            connection: Connection::socket(req.peer),
            flags: Flags::NONE,
        };
        let answered = (0..n)
            .filter(|_| matches!(handle_parsed(std::hint::black_box(&parsed)), Ok(Some(_))))
            .count();
        println!("{answered}");
        return;
    }
    if mode.as_deref() == Some("floor") {
        let mut events = 0usize;
        for _ in 0..n {
            let mut reader =
                quick_xml::Reader::from_reader(std::hint::black_box(stanza.as_bytes()));
            while !matches!(
                reader.read_event(),
                Ok(quick_xml::events::Event::Eof) | Err(_)
            ) {
                events += 1;
            }
        }
        println!("{events}");
        return;
    }
    let mut out = vec![0u8; xmpp_sic::reply_bound(stanza.len(), req.sender.len(), 0)];
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
