//! Hostile input, each case with the exact answer it must get. Nothing here may
//! panic, write past the buffer, or hand one account another's address.

mod common;

use std::net::SocketAddr;

use common::{parse_tree, STANZAS};
use xmpp_sic::{handle_iq, reply_bound, Flags, HandleError, Handled, Request};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Malformed,
    Invalid,
    Pass,
    /// A result carrying this address text.
    Result(&'static str),
    /// An error stanza with this condition.
    Error(&'static str),
}
use Expect::*;

const ME: &str = "alice@example.com/phone";
const PEER: &str = "203.0.113.7:40123";

struct Case {
    name: &'static str,
    stanza: Vec<u8>,
    sender: String,
    target: Option<String>,
    peer: Option<SocketAddr>,
    expect: Expect,
}

fn case(name: &'static str, stanza: impl Into<Vec<u8>>, expect: Expect) -> Case {
    Case {
        name,
        stanza: stanza.into(),
        sender: ME.into(),
        target: None,
        peer: Some(PEER.parse().unwrap()),
        expect,
    }
}

impl Case {
    fn to(mut self, t: impl Into<String>) -> Self {
        self.target = Some(t.into());
        self
    }
    fn from(mut self, s: impl Into<String>) -> Self {
        self.sender = s.into();
        self
    }
    fn peer(mut self, p: &str) -> Self {
        self.peer = Some(p.parse().unwrap());
        self
    }
}

fn sic1_with_id(id: &str) -> String {
    format!("<iq id='{id}' type='get'><address xmlns='urn:xmpp:sic:1'/></iq>")
}
const SIC1: &str = "<iq id='h1' type='get'><address xmlns='urn:xmpp:sic:1'/></iq>";

fn cases() -> Vec<Case> {
    let laughs = {
        let mut dtd = String::from("<!DOCTYPE iq [<!ENTITY l0 'lol'>");
        for i in 1..10 {
            dtd.push_str(&format!(
                "<!ENTITY l{i} '{}'>",
                format!("&l{};", i - 1).repeat(10)
            ));
        }
        format!("{dtd}]><iq id='&l9;' type='get'><address xmlns='urn:xmpp:sic:1'/></iq>")
    };
    let nested = |depth: usize, inside_payload: bool| {
        let (open, close) = ("<a>".repeat(depth), "</a>".repeat(depth));
        if inside_payload {
            format!("<iq id='n' type='get'><address xmlns='urn:xmpp:sic:1'>{open}{close}</address></iq>")
        } else {
            format!("<iq id='n' type='get'><q xmlns='urn:other'>{open}{close}</q></iq>")
        }
    };
    let attrs = |n: usize, dup: bool| {
        let mut s = String::from("<iq id='m' type='get'><address xmlns='urn:xmpp:sic:1'");
        for i in 0..n {
            s.push_str(&format!(" a{i}=''"));
        }
        if dup {
            s.push_str(" a7=''");
        }
        s + "/></iq>"
    };
    let padded = |total: usize| {
        let base = SIC1.len();
        let mut s = String::from("<iq id='h1' type='get'><address xmlns='urn:xmpp:sic:1'/>");
        s.push_str(&" ".repeat(total - base));
        s + "</iq>"
    };
    let long_part = "x".repeat(1024);
    let max_part = "x".repeat(1023);
    vec![
        // Entities and DTDs.
        case("billion laughs", laughs, Malformed),
        case("external entity", "<!DOCTYPE iq [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><iq id='&x;' type='get'/>", Malformed),
        case("parameter entity", "<!DOCTYPE iq [<!ENTITY % p SYSTEM 'http://127.0.0.1/x'> %p;]><iq id='1' type='get'/>", Malformed),
        case("undeclared entity in id", sic1_with_id("&x;"), Malformed),
        case("html entity", sic1_with_id("&nbsp;"), Malformed),
        case("entity without semicolon", sic1_with_id("&amp"), Malformed),
        case("char ref to NUL", sic1_with_id("&#0;"), Malformed),
        case("char ref to a surrogate", sic1_with_id("&#xD800;"), Malformed),
        case("char ref past Unicode", sic1_with_id("&#x110000;"), Malformed),
        case("char ref overflowing u32", sic1_with_id("&#99999999999999999999;"), Malformed),
        // Markup XMPP forbids in stanzas.
        case("processing instruction in payload", "<iq id='1' type='get'><address xmlns='urn:xmpp:sic:1'><?php x?></address></iq>", Malformed),
        case("XML declaration", format!("<?xml version='1.0'?>{SIC1}"), Malformed),
        case("comment before root", format!("<!--x-->{SIC1}"), Malformed),
        case("comment inside", "<iq id='1' type='get'><!--x--><address xmlns='urn:xmpp:sic:1'/></iq>", Malformed),
        case("comment after root", format!("{SIC1}<!--x-->"), Malformed),
        // CDATA tricks.
        case("CDATA hiding an end tag", "<iq id='1' type='get'><address xmlns='urn:xmpp:sic:1'><![CDATA[</address>]]></address></iq>", Error("bad-request")),
        case("CDATA looking like the payload", "<iq id='1' type='get'><![CDATA[<address xmlns='urn:xmpp:sic:1'/>]]></iq>", Pass),
        case("CDATA beside the payload", "<iq id='1' type='get'><address xmlns='urn:xmpp:sic:1'/><![CDATA[x]]></iq>", Error("bad-request")),
        case("whitespace CDATA in payload", "<iq id='1' type='get'><address xmlns='urn:xmpp:sic:1'><![CDATA[ ]]></address></iq>", Result("203.0.113.7")),
        case("unterminated CDATA", "<iq id='1' type='get'><address xmlns='urn:xmpp:sic:1'><![CDATA[x</address></iq>", Malformed),
        case("CDATA outside the root", format!("<![CDATA[x]]>{SIC1}"), Malformed),
        case("]]> in text", "<iq id='1' type='get'>]]><address xmlns='urn:xmpp:sic:1'/></iq>", Malformed),
        // Size and depth.
        case("100000 nested elements in the payload", nested(100_000, true), Malformed),
        // Past the depth limit the envelope and payload were read: the
        // client gets its bad-request, not a bare status.
        case("8000 nested elements (within 64 KiB, past depth)", nested(8_000, true), Error("bad-request")),
        case("8000 nested elements in a foreign payload", nested(8_000, false), Pass),
        case("8000 nested elements, one end tag short", {
            let mut s = nested(8_000, true);
            let at = s.find("</a>").unwrap();
            s.replace_range(at..at + 4, "");
            s
        }, Malformed),
        case("126 nested elements in a foreign payload", nested(126, false), Pass),
        case("126 nested elements in the SIC payload", nested(126, true), Error("bad-request")),
        case("100000 attributes", attrs(100_000, false), Malformed),
        case("6000 distinct attributes", attrs(6_000, false), Result("203.0.113.7")),
        case("6000 attributes with one duplicate", attrs(6_000, true), Malformed),
        case("40 attributes with one duplicate", attrs(40, true), Malformed),
        case("3 duplicate ids", "<iq id='1' id='1' id='2' type='get'/>", Malformed),
        case("exactly 64 KiB", padded(65_536), Result("203.0.113.7")),
        case("64 KiB + 1 byte", padded(65_537), Malformed),
        case("60 KiB id", sic1_with_id(&"i".repeat(60_000)), Result("203.0.113.7")),
        // Bytes that are not XML.
        case("invalid UTF-8", b"<iq id='\xff\xfe' type='get'/>".to_vec(), Malformed),
        case("overlong UTF-8 slash", b"<iq id='\xc0\xaf' type='get'/>".to_vec(), Malformed),
        case("UTF-8 surrogate", b"<iq id='\xed\xa0\x80' type='get'/>".to_vec(), Malformed),
        case("truncated UTF-8", b"<iq id='\xe2\x82' type='get'/>".to_vec(), Malformed),
        case("NUL in id", b"<iq id='a\0b' type='get'><address xmlns='urn:xmpp:sic:1'/></iq>".to_vec(), Malformed),
        case("NUL after root", format!("{SIC1}\0"), Malformed),
        case("U+FFFE", sic1_with_id("\u{FFFE}"), Malformed),
        case("byte order mark", format!("\u{FEFF}{SIC1}"), Malformed),
        case("empty input", "", Malformed),
        // Structure.
        case("mismatched tags", "<iq id='1' type='get'><address xmlns='urn:xmpp:sic:1'></adress></iq>", Malformed),
        case("unclosed root", "<iq id='1' type='get'><address xmlns='urn:xmpp:sic:1'/>", Malformed),
        case("extra end tag", format!("{SIC1}</iq>"), Malformed),
        case("two roots", format!("{SIC1}{SIC1}"), Malformed),
        case("text after root", format!("{SIC1}x"), Malformed),
        case("unquoted attribute", "<iq id=1 type='get'/>", Malformed),
        case("attribute without value", "<iq id type='get'/>", Malformed),
        case("< in attribute value", sic1_with_id("a<b"), Malformed),
        case("element name starting with a digit", "<iq id='1' type='get'><1a/></iq>", Malformed),
        case("end tag with attributes", "<iq id='1' type='get'></iq x='1'>", Malformed),
        // Namespaces.
        case("undeclared element prefix", "<iq id='1' type='get'><s:address/></iq>", Malformed),
        case("undeclared attribute prefix", "<iq id='1' type='get' p:x='1'/>", Malformed),
        case("rebinding xml", "<iq id='1' type='get' xmlns:xml='urn:x'/>", Malformed),
        case("binding xmlns", "<iq id='1' type='get' xmlns:xmlns='urn:x'/>", Malformed),
        case("element in the xmlns prefix", "<xmlns:iq id='1' type='get'/>", Malformed),
        case("undeclaring a prefix", "<iq id='1' type='get' xmlns:p=''/>", Malformed),
        case("root in a payload namespace", "<iq xmlns='urn:xmpp:sic:1' id='1' type='get'><address/></iq>", Malformed),
        case("payload namespace via entity", "<iq id='1' type='get'><address xmlns='urn:xmpp:sic&#58;1'/></iq>", Result("203.0.113.7")),
        case("payload in a look-alike namespace", "<iq id='1' type='get'><address xmlns='urn:xmpp:sic:1 '/></iq>", Pass),
        case("payload undeclared back to no namespace", "<iq id='1' type='get' xmlns='jabber:client'><address xmlns=''/></iq>", Pass),
        case("xml:lang on payload", "<iq id='1' type='get'><address xmlns='urn:xmpp:sic:1' xml:lang='en'/></iq>", Result("203.0.113.7")),
        // Who asks, and about whom.
        case("forged from is ignored", "<iq from='bob@example.com/x' id='1' type='get'><address xmlns='urn:xmpp:sic:1'/></iq>", Result("203.0.113.7")),
        case("other user", SIC1, Error("forbidden")).to("bob@example.com"),
        case("other user, sic:0", "<iq id='1' type='get'><ip xmlns='urn:xmpp:sic:0'/></iq>", Error("forbidden")).to("bob@example.com"),
        case("case of localpart", SIC1, Result("203.0.113.7")).to("ALICE@example.com"),
        case("case of domain", SIC1, Result("203.0.113.7")).to("alice@EXAMPLE.COM"),
        case("trailing dot", SIC1, Result("203.0.113.7")).to("alice@example.com."),
        case("trailing dot on the domain target", SIC1, Result("203.0.113.7")).to("example.com."),
        case("Unicode case", SIC1, Result("203.0.113.7")).from("\u{e4}lice@example.com/r").to("\u{c4}LICE@example.com"),
        case("fullwidth letters", SIC1, Result("203.0.113.7")).to("\u{ff41}lice@example.com"),
        case("dotless i is another user", SIC1, Error("forbidden")).to("al\u{131}ce@example.com"),
        case("look-alike Cyrillic a is another user", SIC1, Error("forbidden")).to("\u{430}lice@example.com"),
        case("subdomain", SIC1, Error("forbidden")).to("example.com.evil"),
        case("domain with a resource", SIC1, Error("forbidden")).to("example.com/alice"),
        case("bare domain sender asks about another domain", SIC1, Error("forbidden")).from("example.com").to("example.org"),
        case("empty localpart", SIC1, Invalid).to("@example.com"),
        case("empty resource", SIC1, Invalid).from("alice@example.com/"),
        case("empty domain", SIC1, Invalid).to("alice@"),
        case("localpart of 1024 bytes", SIC1, Invalid).to(format!("{long_part}@example.com")),
        case("domain of 1024 bytes", SIC1, Invalid).to(long_part.clone()),
        case("resource of 1024 bytes", SIC1, Invalid).from(format!("alice@example.com/{long_part}")),
        case("localpart of 1023 bytes", SIC1, Error("forbidden")).to(format!("{max_part}@example.com")),
        case("markup in the localpart", SIC1, Invalid).to("<b>@example.com"),
        case("quote in the localpart", SIC1, Invalid).from("a'b@example.com/r"),
        case("markup in the resource is escaped", SIC1, Result("203.0.113.7")).from("alice@example.com/<x a=\"'&'\">"),
        case("markup in the target resource is escaped", SIC1, Result("203.0.113.7")).to("alice@example.com/</iq><iq>"),
        case("control character in JID", SIC1, Invalid).from("alice@example.com/a\u{7}b"),
        case("id of quotes and angle brackets", sic1_with_id("&quot;&apos;&lt;&gt;\"&gt;>"), Result("203.0.113.7")),
        // Addresses.
        case("IPv4-mapped", SIC1, Result("192.0.2.1")).peer("[::ffff:192.0.2.1]:1"),
        case("IPv4-compatible (deprecated)", SIC1, Result("::c000:201")).peer("[::192.0.2.1]:1"),
        case("link-local with a scope", SIC1, Result("fe80::1")).peer("[fe80::1%7]:1"),
        case("unspecified IPv6", SIC1, Result("::")).peer("[::]:1"),
        case("NAT64 well-known prefix", SIC1, Result("64:ff9b::c000:201")).peer("[64:ff9b::c000:201]:1"),
        case("all ones IPv6", SIC1, Result("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")).peer("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"),
    ]
}

fn run(case: &Case) -> std::result::Result<Option<Vec<u8>>, HandleError> {
    let req = Request {
        stanza: &case.stanza,
        sender: &case.sender,
        target: case.target.as_deref(),
        peer: case.peer,
        flags: Flags::NONE,
    };
    let bound = reply_bound(
        req.stanza.len(),
        req.sender.len(),
        req.target.map_or(0, str::len),
    );
    // A canary past the bound catches any write beyond what we handed out.
    let mut out = vec![0xA5u8; bound + 64];
    let result = handle_iq(&req, &mut out[..bound]);
    assert!(
        out[bound..].iter().all(|&b| b == 0xA5),
        "{}: wrote past out_cap",
        case.name
    );
    match result? {
        Handled::Reply { len } => {
            // Exactly the needed size works; one byte less is refused untouched.
            let mut exact = vec![0u8; len];
            assert_eq!(
                handle_iq(&req, &mut exact),
                Ok(Handled::Reply { len }),
                "{}",
                case.name
            );
            let mut short = vec![0x5Au8; len - 1];
            assert_eq!(
                handle_iq(&req, &mut short),
                Err(HandleError::BufferTooSmall { needed: len }),
                "{}",
                case.name
            );
            assert!(short.iter().all(|&b| b == 0x5A), "{}", case.name);
            assert_eq!(
                handle_iq(&req, &mut []),
                Err(HandleError::BufferTooSmall { needed: len }),
                "{}",
                case.name
            );
            Ok(Some(out[..len].to_vec()))
        }
        Handled::Pass => Ok(None),
    }
}

#[test]
fn every_hostile_case_gets_its_exact_answer() {
    let cases = cases();
    let mut wrong = Vec::new();
    for case in &cases {
        let got = match run(case) {
            Err(HandleError::MalformedStanza) => Malformed,
            Err(HandleError::InvalidArgument) => Invalid,
            Err(e) => panic!("{}: {e:?}", case.name),
            Ok(None) => Pass,
            Ok(Some(bytes)) => {
                let iq = parse_tree(&bytes);
                assert_eq!(iq.attr("to"), Some(case.sender.as_str()), "{}", case.name);
                assert_eq!(iq.attr("from"), case.target.as_deref(), "{}", case.name);
                match iq.attr("type") {
                    Some("result") => {
                        let payload = &iq.children[0];
                        let ip = payload
                            .child(&payload.ns, "ip")
                            .map_or(payload.text.as_str(), |ip| ip.text.as_str());
                        Result(Box::leak(ip.to_owned().into_boxed_str()))
                    }
                    Some("error") => {
                        let err = &iq.children[0];
                        let cond = err
                            .children
                            .iter()
                            .find(|c| c.ns == STANZAS && c.name != "text")
                            .expect("a condition");
                        Error(Box::leak(cond.name.clone().into_boxed_str()))
                    }
                    other => panic!("{}: type {other:?}", case.name),
                }
            }
        };
        if got != case.expect {
            wrong.push(format!(
                "{}: expected {:?}, got {:?}",
                case.name, case.expect, got
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases wrong:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
    println!("{} hostile cases answered exactly", cases.len());
}

#[test]
fn the_battery_is_big_enough_to_mean_something() {
    assert!(cases().len() >= 90);
}
