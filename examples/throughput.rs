//! Calls per second on 1..=N threads, each thread on its own buffer, through
//! the C ABI: `cargo run --release --example throughput -- [calls-per-thread] [max-threads]`.
//! Prints one `threads=N calls_per_s=X` line per thread count.

use std::time::Instant;

use xmpp_sic::ffi::sic_handle_iq;

const IQ: &[u8] =
    b"<iq xmlns='jabber:client' id='ik2s7159' type='get'><address xmlns='urn:xmpp:sic:1'/></iq>";
const SENDER: &str = "alice@example.com/phone";

fn worker(calls: u64) -> u64 {
    // SAFETY: sockaddr_in is plain data; all-zero is a valid value.
    let mut sin: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sin.sin_family = libc::AF_INET as libc::sa_family_t;
    sin.sin_port = 40123u16.to_be();
    sin.sin_addr.s_addr = u32::from_be_bytes([203, 0, 113, 7]).to_be();
    let mut out = [0u8; 1024];
    let mut ok = 0;
    for _ in 0..calls {
        let mut len = 0usize;
        // SAFETY: every pointer is valid for its length during the call.
        let status = unsafe {
            sic_handle_iq(
                std::hint::black_box(IQ).as_ptr(),
                IQ.len(),
                SENDER.as_ptr().cast(),
                SENDER.len(),
                std::ptr::null(),
                0,
                (&sin as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                0,
                out.as_mut_ptr(),
                out.len(),
                &mut len,
            )
        };
        ok += u64::from(status == xmpp_sic::Status::Ok);
    }
    ok
}

fn main() {
    let mut args = std::env::args().skip(1);
    let calls: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let max_threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    for threads in 1..=max_threads {
        let start = Instant::now();
        let ok: u64 = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads).map(|_| s.spawn(|| worker(calls))).collect();
            handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
        });
        let elapsed = start.elapsed().as_secs_f64();
        assert_eq!(ok, calls * threads as u64, "every call answered");
        println!("threads={threads} calls_per_s={:.0}", ok as f64 / elapsed);
    }
}
