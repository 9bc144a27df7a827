//! ns per sic_handle_iq call, through the C ABI as hosts call it, beside the
//! floor for the same bytes: a quick-xml pass that only reads every event;
//! and ns per sic_handle_parsed call, the structured entry hosts that parsed
//! the stanza themselves use.
//!
//! `cargo bench --bench handle_iq` (add `-- --quick` for a short run).

use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use xmpp_sic::ffi::{
    sic_handle_iq, sic_handle_parsed, SicAnswer, SicIq, SicPeer, SIC_IQ_GET, SIC_SHAPE_CHILDREN,
};
use xmpp_sic::Status;

const SENDER: &str = "alice@example.com/phone";

fn sockaddr_v4() -> libc::sockaddr_in {
    // SAFETY: sockaddr_in is plain data; all-zero is a valid value.
    let mut sin: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sin.sin_family = libc::AF_INET as libc::sa_family_t;
    sin.sin_port = 40123u16.to_be();
    sin.sin_addr.s_addr = u32::from(Ipv4Addr::new(203, 0, 113, 7)).to_be();
    sin
}

fn sockaddr_v6() -> libc::sockaddr_in6 {
    // SAFETY: sockaddr_in6 is plain data; all-zero is a valid value.
    let mut sin6: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    sin6.sin6_port = 40123u16.to_be();
    sin6.sin6_addr.s6_addr = "2001:db8:85a3::8a2e:370:7334"
        .parse::<Ipv6Addr>()
        .unwrap()
        .octets();
    sin6
}

/// One call through the C ABI; returns the status so the work is not elided.
fn call<T>(iq: &[u8], target: Option<&str>, peer: &T, out: &mut [u8]) -> Status {
    call_as(SENDER, iq, target, peer, out)
}

fn call_as<T>(sender: &str, iq: &[u8], target: Option<&str>, peer: &T, out: &mut [u8]) -> Status {
    let mut len = 0usize;
    let (t, tl) = target.map_or((std::ptr::null(), 0), |t| (t.as_ptr(), t.len()));
    // SAFETY: every pointer is valid for its length during the call; `peer`
    // is a whole sockaddr_in/sockaddr_in6.
    unsafe {
        sic_handle_iq(
            iq.as_ptr(),
            iq.len(),
            sender.as_ptr().cast(),
            sender.len(),
            t.cast(),
            tl,
            (peer as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
            0,
            out.as_mut_ptr(),
            out.len(),
            &mut len,
        )
    }
}

/// The floor: quick-xml reads every event of the stanza and does nothing else.
fn quick_xml_floor(iq: &[u8]) -> usize {
    let mut reader = quick_xml::Reader::from_reader(iq);
    let mut events = 0;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) | Err(_) => return events,
            Ok(_) => events += 1,
        }
    }
}

pub const SIC1: &[u8] =
    b"<iq xmlns='jabber:client' id='ik2s7159' type='get'><address xmlns='urn:xmpp:sic:1'/></iq>";
pub const SIC0: &[u8] =
    b"<iq xmlns='jabber:client' id='ik2s7159' type='get'><ip xmlns='urn:xmpp:sic:0'/></iq>";
const BAD: &[u8] = b"<iq xmlns='jabber:client' id='ik2s7159' type='get'><address xmlns='urn:xmpp:sic:1'><ip/></address></iq>";

fn requests(c: &mut Criterion) {
    let (v4, v6) = (sockaddr_v4(), sockaddr_v6());
    let mut out = [0u8; 2048];
    let mut group = c.benchmark_group("sic_handle_iq");
    group.bench_function("sic1_ipv4", |b| {
        b.iter(|| call(black_box(SIC1), None, &v4, &mut out))
    });
    group.bench_function("sic1_ipv6", |b| {
        b.iter(|| call(black_box(SIC1), None, &v6, &mut out))
    });
    group.bench_function("sic0_ipv4", |b| {
        b.iter(|| call(black_box(SIC0), None, &v4, &mut out))
    });
    group.bench_function("sic0_ipv6", |b| {
        b.iter(|| call(black_box(SIC0), None, &v6, &mut out))
    });
    group.bench_function("sic1_to_own_bare_jid", |b| {
        b.iter(|| call(black_box(SIC1), Some("alice@example.com"), &v4, &mut out))
    });
    group.bench_function("forbidden", |b| {
        b.iter(|| call(black_box(SIC1), Some("bob@example.com"), &v4, &mut out))
    });
    group.bench_function("bad_request", |b| {
        b.iter(|| call(black_box(BAD), None, &v4, &mut out))
    });
    group.bench_function("floor_quick_xml_sic1", |b| {
        b.iter(|| quick_xml_floor(black_box(SIC1)))
    });
    group.finish();

    let mut group = c.benchmark_group("id_length");
    for len in [8usize, 64, 512, 4096] {
        let iq = format!(
            "<iq xmlns='jabber:client' id='{}' type='get'><address xmlns='urn:xmpp:sic:1'/></iq>",
            "x".repeat(len)
        );
        let mut big = vec![0u8; xmpp_sic::reply_bound(iq.len(), SENDER.len(), 0)];
        group.throughput(Throughput::Bytes(iq.len() as u64));
        group.bench_with_input(BenchmarkId::new("handle", len), &iq, |b, iq| {
            b.iter(|| call(black_box(iq.as_bytes()), None, &v4, &mut big))
        });
        group.bench_with_input(BenchmarkId::new("floor", len), &iq, |b, iq| {
            b.iter(|| quick_xml_floor(black_box(iq.as_bytes())))
        });
    }
    group.finish();
}

/// One structured call: the parts a host read from the same requests.
fn call_parsed<T>(name: &str, ns: &str, shape: u32, target: Option<&str>, peer: &T) -> Status {
    let (t, tl) = target.map_or((std::ptr::null(), 0), |t| (t.as_ptr(), t.len()));
    let iq = SicIq {
        r#type: SIC_IQ_GET,
        payload_name: name.as_ptr().cast(),
        payload_name_len: name.len(),
        payload_ns: ns.as_ptr().cast(),
        payload_ns_len: ns.len(),
        payload_shape: shape,
        sender: SENDER.as_ptr().cast(),
        sender_len: SENDER.len(),
        target: t.cast(),
        target_len: tl,
    };
    let conn = SicPeer {
        addr: (peer as *const T).cast(),
        addr_len: std::mem::size_of::<T>() as libc::socklen_t,
        transport: 0,
        source: 0,
    };
    // SAFETY: all-zero is a valid SicAnswer (null pointers, zero numbers).
    let mut answer: SicAnswer = unsafe { std::mem::zeroed() };
    // SAFETY: the structs and every pointer in them are valid for the call.
    let status = unsafe { sic_handle_parsed(&iq, &conn, 0, &mut answer) };
    black_box(&answer);
    status
}

fn parsed(c: &mut Criterion) {
    let (v4, v6) = (sockaddr_v4(), sockaddr_v6());
    let sic1 = ("address", "urn:xmpp:sic:1");
    let mut group = c.benchmark_group("sic_handle_parsed");
    group.bench_function("sic1_ipv4", |b| {
        b.iter(|| call_parsed(sic1.0, black_box(sic1.1), 0, None, &v4))
    });
    group.bench_function("sic1_ipv6", |b| {
        b.iter(|| call_parsed(sic1.0, black_box(sic1.1), 0, None, &v6))
    });
    group.bench_function("sic0_ipv4", |b| {
        b.iter(|| call_parsed("ip", black_box("urn:xmpp:sic:0"), 0, None, &v4))
    });
    group.bench_function("forbidden", |b| {
        let other = Some("bob@example.com");
        b.iter(|| call_parsed(sic1.0, black_box(sic1.1), 0, other, &v4))
    });
    group.bench_function("bad_request", |b| {
        let shape = SIC_SHAPE_CHILDREN;
        b.iter(|| call_parsed(sic1.0, black_box(sic1.1), shape, None, &v4))
    });
    group.finish();
}

/// The costliest stanzas the library accepts: just under the 64 KiB limit,
/// with an id of plain bytes or made entirely of `&amp;`, the slowest input
/// per byte (each reference is checked, decoded and escaped again). Hosts
/// size their scheduling on this (the Erlang NIF's normal scheduler).
fn largest_stanzas(c: &mut Criterion) {
    let v4 = sockaddr_v4();
    let mut group = c.benchmark_group("largest_stanza");
    let head = "<iq type='get' id='";
    let tail = "'><address xmlns='urn:xmpp:sic:1'/></iq>";
    let room = xmpp_sic::MAX_STANZA_LEN - head.len() - tail.len();
    for (name, unit) in [("plain_id", "x"), ("amp_refs_id", "&amp;")] {
        let iq = format!("{head}{}{tail}", unit.repeat(room / unit.len()));
        let mut out = vec![0u8; xmpp_sic::reply_bound(iq.len(), SENDER.len(), 0)];
        assert_eq!(
            call(iq.as_bytes(), None, &v4, &mut out),
            Status::Ok,
            "{name}"
        );
        group.bench_with_input(BenchmarkId::new("handle", name), &iq, |b, iq| {
            b.iter(|| call(black_box(iq.as_bytes()), None, &v4, &mut out))
        });
    }
    group.finish();
}

fn jid_lengths(c: &mut Criterion) {
    let v4 = sockaddr_v4();
    let mut group = c.benchmark_group("jid_length");
    for len in [5usize, 64, 255, 1023] {
        let local = "a".repeat(len);
        let sender = format!("{local}@example.com/phone");
        let target = format!("{local}@example.com");
        let mut out = vec![0u8; xmpp_sic::reply_bound(SIC1.len(), sender.len(), target.len())];
        group.bench_with_input(BenchmarkId::new("handle", len), &len, |b, _| {
            b.iter(|| call_as(&sender, black_box(SIC1), Some(&target), &v4, &mut out))
        });
    }
    group.finish();
}

fn sanity() {
    let mut out = [0u8; 2048];
    assert_eq!(call(SIC1, None, &sockaddr_v4(), &mut out), Status::Ok);
    assert_eq!(
        call(SIC1, Some("bob@example.com"), &sockaddr_v6(), &mut out),
        Status::Ok
    );
    let sic1 = ("address", "urn:xmpp:sic:1");
    assert_eq!(
        call_parsed(sic1.0, sic1.1, 0, None, &sockaddr_v4()),
        Status::Ok
    );
}

fn benches(c: &mut Criterion) {
    sanity();
    requests(c);
    parsed(c);
    jid_lengths(c);
    largest_stanzas(c);
}

criterion_group!(all, benches);
criterion_main!(all);
