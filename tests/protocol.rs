//! Every protocol rule of the handler, checked by reading the reply back as XML.

mod common;

use common::*;
use xmpp_sic::{Flags, HandleError};

const SIC1: &str =
    "<iq xmlns='jabber:client' id='ik2s7159' type='get'><address xmlns='urn:xmpp:sic:1'/></iq>";
const SIC0_IP: &str =
    "<iq xmlns='jabber:client' id='ik2s7159' type='get'><ip xmlns='urn:xmpp:sic:0'/></iq>";
const SIC0_ADDRESS: &str =
    "<iq xmlns='jabber:client' id='ik2s7159' type='get'><address xmlns='urn:xmpp:sic:0'/></iq>";

fn address_of(iq: &El, ns: &str) -> (String, Option<String>, Vec<String>) {
    assert_eq!(iq.attr("type"), Some("result"), "{iq:?}");
    assert_eq!(iq.children.len(), 1);
    let address = iq.child(ns, "address").expect("an <address/>");
    let order = address.children.iter().map(|c| c.name.clone()).collect();
    let ip = address.child(ns, "ip").expect("an <ip/>").text.clone();
    let port = address.child(ns, "port").map(|p| p.text.clone());
    (ip, port, order)
}

#[test]
fn xep_0279_v02_listings_1_to_3() {
    // Listing 1, as the XEP prints it (with `from`, which is ignored).
    let listing1 = "<iq from='romeo@montague.lit/orchard'\n  id='ik2s7159'\n  type='get'>\n  <address xmlns='urn:xmpp:sic:1'/>\n</iq>";
    let call = Call::new(listing1)
        .from("romeo@montague.lit/orchard")
        .peer(Some("192.168.4.1:12345"));
    let iq = call.reply();
    assert_eq!(
        (iq.attr("id"), iq.attr("to"), iq.attr("from")),
        (Some("ik2s7159"), Some("romeo@montague.lit/orchard"), None)
    );
    assert_eq!(iq.ns, "", "no namespace in, none out");
    let (ip, port, order) = address_of(&iq, "urn:xmpp:sic:1");
    assert_eq!(
        (ip.as_str(), port.as_deref()),
        ("192.168.4.1", Some("12345"))
    );
    assert_eq!(order, ["ip", "port"], "ip before port, as the schema says");
    // Listing 3: IPv6.
    let iq = Call::new(listing1)
        .from("romeo@montague.lit/orchard")
        .peer(Some("[2001:db8::9:1]:12345"))
        .reply();
    assert_eq!(address_of(&iq, "urn:xmpp:sic:1").0, "2001:db8::9:1");
}

#[test]
fn xep_0279_v01_ip_form() {
    let iq = Call::new(SIC0_IP).reply();
    assert_eq!(iq.ns, "jabber:client");
    assert_eq!(iq.attr("type"), Some("result"));
    let ip = iq
        .child("urn:xmpp:sic:0", "ip")
        .expect("<ip xmlns='urn:xmpp:sic:0'>");
    assert_eq!(ip.text, "203.0.113.7");
    assert!(ip.children.is_empty(), "sic:0 has no port");
}

#[test]
fn ejabberd_sic0_address_form() {
    let iq = Call::new(SIC0_ADDRESS).reply();
    let (ip, port, order) = address_of(&iq, "urn:xmpp:sic:0");
    assert_eq!(
        (ip.as_str(), port, order),
        ("203.0.113.7", None, vec!["ip".to_owned()])
    );
}

#[test]
fn port_rules() {
    let (_, port, _) = address_of(
        &Call::new(SIC1).peer(Some("1.2.3.4:0")).reply(),
        "urn:xmpp:sic:1",
    );
    assert_eq!(port, None, "port 0 is left out");
    let (_, port, _) = address_of(
        &Call::new(SIC1).flags(Flags::OMIT_PORT).reply(),
        "urn:xmpp:sic:1",
    );
    assert_eq!(port, None, "OMIT_PORT");
}

#[test]
fn v4_mapped_addresses() {
    let (ip, _, _) = address_of(
        &Call::new(SIC1)
            .peer(Some("[::ffff:127.0.0.1]:5000"))
            .reply(),
        "urn:xmpp:sic:1",
    );
    assert_eq!(ip, "127.0.0.1");
    let call = Call::new(SIC1)
        .peer(Some("[::ffff:127.0.0.1]:5000"))
        .flags(Flags::KEEP_V4_MAPPED);
    assert_eq!(
        address_of(&call.reply(), "urn:xmpp:sic:1").0,
        "::ffff:127.0.0.1"
    );
    let (ip, _, _) = address_of(
        &Call::new(SIC1).peer(Some("[fe80::1%3]:5000")).reply(),
        "urn:xmpp:sic:1",
    );
    assert_eq!(ip, "fe80::1", "no zone id");
}

#[test]
fn who_may_ask() {
    for target in [
        "alice@example.com",
        "alice@example.com/laptop",
        "example.com",
        "Alice@Example.COM",
        "example.com.",
        "EXAMPLE.COM",
        "alice@example.com./x",
    ] {
        let iq = Call::new(SIC1).to(target).reply();
        assert_eq!(iq.attr("type"), Some("result"), "{target}");
        assert_eq!(iq.attr("from"), Some(target), "from = target");
        assert_eq!(iq.attr("to"), Some(ALICE));
    }
    for target in [
        "bob@example.com",
        "alice@example.org",
        "example.org",
        "example.com/resource",
        "conference.example.com",
        "alice@conference.example.com",
    ] {
        let iq = Call::new(SIC1).to(target).reply();
        assert_error(&iq, "auth", "forbidden");
        assert_eq!(iq.attr("from"), Some(target));
    }
    // sic:0 forms are guarded the same way.
    assert_error(
        &Call::new(SIC0_IP).to("bob@example.com").reply(),
        "auth",
        "forbidden",
    );
    assert_error(
        &Call::new(SIC0_ADDRESS).to("bob@example.com").reply(),
        "auth",
        "forbidden",
    );
    // A sender that is a bare domain (a component, a server) may ask about itself.
    assert_eq!(
        Call::new(SIC1)
            .from("example.com")
            .to("example.com")
            .reply()
            .attr("type"),
        Some("result")
    );
}

#[test]
fn set_is_not_allowed() {
    let set = SIC1.replace("type='get'", "type='set'");
    assert_error(&Call::new(&set).reply(), "cancel", "not-allowed");
    assert_error(
        &Call::new(&set).to("alice@example.com").reply(),
        "cancel",
        "not-allowed",
    );
    // Asking about someone else is refused first, whatever the type.
    assert_error(
        &Call::new(&set).to("bob@example.com").reply(),
        "auth",
        "forbidden",
    );
}

#[test]
fn unclean_payloads_are_bad_requests() {
    let cases = [
        "<iq id='1' type='get'><address xmlns='urn:xmpp:sic:1'><ip>1.2.3.4</ip></address></iq>",
        "<iq id='1' type='get'><address xmlns='urn:xmpp:sic:1'>text</address></iq>",
        "<iq id='1' type='get'><address xmlns='urn:xmpp:sic:1'><![CDATA[x]]></address></iq>",
        "<iq id='1' type='get'><address xmlns='urn:xmpp:sic:1'>&#65;</address></iq>",
        "<iq id='1' type='get'><address xmlns='urn:xmpp:sic:1'/><query xmlns='jabber:iq:version'/></iq>",
        "<iq id='1' type='get'><address xmlns='urn:xmpp:sic:1'/><address xmlns='urn:xmpp:sic:1'/></iq>",
        "<iq id='1' type='get'><ip xmlns='urn:xmpp:sic:0'/><address xmlns='urn:xmpp:sic:1'/></iq>",
        "<iq id='1' type='get'>stray<address xmlns='urn:xmpp:sic:1'/></iq>",
        "<iq id='1' type='get'><ip xmlns='urn:xmpp:sic:0'>1.2.3.4</ip></iq>",
    ];
    for stanza in cases {
        assert_error(&Call::new(stanza).reply(), "modify", "bad-request");
    }
    let unknown_type = "<iq id='1' type='query'><address xmlns='urn:xmpp:sic:1'/></iq>";
    assert_error(&Call::new(unknown_type).reply(), "modify", "bad-request");
    // An IQ belongs to the namespace of its first child, as both servers
    // route it: a Server IP Check element after another one is not ours.
    let second = "<iq id='1' type='get'><query xmlns='jabber:iq:version'/><address xmlns='urn:xmpp:sic:1'/></iq>";
    assert_eq!(Call::new(second).run(), Ok(None));
}

#[test]
fn whitespace_inside_the_payload_is_fine() {
    for stanza in [
        "<iq id='1' type='get'>\n  <address xmlns='urn:xmpp:sic:1'>\n  </address>\n</iq>",
        "<iq id='1' type='get'><address xmlns='urn:xmpp:sic:1'>&#32;&#x9;<![CDATA[ \n ]]></address></iq>",
        "\n <iq id='1' type='get'><address xmlns='urn:xmpp:sic:1'></address></iq>\r\n",
    ] {
        assert_eq!(Call::new(stanza).reply().attr("type"), Some("result"), "{stanza}");
    }
}

#[test]
fn no_usable_peer_is_service_unavailable() {
    assert_error(
        &Call::new(SIC1).peer(None).reply(),
        "cancel",
        "service-unavailable",
    );
    assert_error(
        &Call::new(SIC0_IP).peer(None).reply(),
        "cancel",
        "service-unavailable",
    );
}

#[test]
fn what_passes() {
    let cases = [
        "<iq id='1' type='result'><address xmlns='urn:xmpp:sic:1'/></iq>",
        "<iq id='1' type='error'><address xmlns='urn:xmpp:sic:1'/></iq>",
        "<iq id='1' type='get'><query xmlns='jabber:iq:version'/></iq>",
        "<iq id='1' type='get'/>",
        "<iq id='1' type='get'><address/></iq>",
        "<iq id='1' type='get'><foo xmlns='urn:xmpp:sic:1'/></iq>",
        "<iq id='1' type='get'><ip xmlns='urn:xmpp:sic:1'/></iq>",
        "<iq id='1' type='get'><query xmlns='jabber:iq:version'><address xmlns='urn:xmpp:sic:1'/></query></iq>",
    ];
    for stanza in cases {
        assert_eq!(Call::new(stanza).run(), Ok(None), "{stanza}");
    }
    // NO_SIC0: sic:0 passes, sic:1 is still answered.
    assert_eq!(Call::new(SIC0_IP).flags(Flags::NO_SIC0).run(), Ok(None));
    assert_eq!(
        Call::new(SIC0_ADDRESS).flags(Flags::NO_SIC0).run(),
        Ok(None)
    );
    assert_eq!(
        Call::new(SIC1).flags(Flags::NO_SIC0).reply().attr("type"),
        Some("result")
    );
}

#[test]
fn reply_keeps_the_stanza_namespace() {
    for (stanza, ns) in [
        (SIC1.to_owned(), "jabber:client"),
        (SIC1.replace("jabber:client", "jabber:server"), "jabber:server"),
        (SIC1.replace(" xmlns='jabber:client'", ""), ""),
        ("<c:iq xmlns:c='jabber:client' id='1' type='get'><address xmlns='urn:xmpp:sic:1'/></c:iq>".to_owned(), "jabber:client"),
    ] {
        assert_eq!(Call::new(&stanza).reply().ns, ns, "{stanza}");
    }
}

#[test]
fn namespaces_are_resolved_not_matched_as_text() {
    let prefixed = [
        "<iq id='1' type='get'><s:address xmlns:s='urn:xmpp:sic:1'/></iq>",
        "<iq id='1' type='get' xmlns:s='urn:xmpp:sic:1'><s:address/></iq>",
        "<iq id='1' type='get'><address xmlns='urn:xmpp:sic&#x3a;1'/></iq>",
        "<iq xmlns='jabber:client' id='1' type='get'><s:address xmlns:s='urn:xmpp:sic:1' xmlns='jabber:client'/></iq>",
    ];
    for stanza in prefixed {
        assert_eq!(
            Call::new(stanza).reply().attr("type"),
            Some("result"),
            "{stanza}"
        );
    }
    // The default namespace of the payload is not the prefix's.
    assert_eq!(
        Call::new("<iq id='1' type='get' xmlns:s='urn:xmpp:sic:1'><address/></iq>").run(),
        Ok(None)
    );
    // A prefix declared on a sibling is out of scope.
    let out_of_scope = "<iq id='1' type='get'><a xmlns:s='urn:xmpp:sic:1'/><s:address/></iq>";
    assert_eq!(
        Call::new(out_of_scope).run(),
        Err(HandleError::MalformedStanza)
    );
    // Re-declaring a prefix inside shadows the outer binding.
    let shadowed =
        "<iq id='1' type='get' xmlns:s='urn:xmpp:sic:1'><s:address xmlns:s='urn:other'/></iq>";
    assert_eq!(Call::new(shadowed).run(), Ok(None));
}

#[test]
fn malformed_stanzas() {
    let long = format!(
        "<iq id='1' type='get'><address xmlns='urn:xmpp:sic:1'/>{}</iq>",
        " ".repeat(65_536)
    );
    let cases: Vec<&[u8]> = vec![
        b"",
        b"   ",
        b"<!DOCTYPE iq [<!ENTITY a 'b'>]><iq id='1' type='get'/>",
        b"<iq id='1' type='get'><!-- hi --><address xmlns='urn:xmpp:sic:1'/></iq>",
        b"<?xml version='1.0'?><iq id='1' type='get'/>",
        b"<iq id='1' type='get'><?pi x?></iq>",
        b"<iq id='1' type='get'/><iq id='2' type='get'/>",
        b"<iq id='1' type='get'></iq>junk",
        b"<iq id='1' type='get'><address xmlns='urn:xmpp:sic:1'></iq>",
        b"<iq id='1' type='get'><a></b></iq>",
        b"<iq type='get'><address xmlns='urn:xmpp:sic:1'/></iq>",
        b"<iq id='1'><address xmlns='urn:xmpp:sic:1'/></iq>",
        b"<message id='1' type='get'/>",
        b"<iq xmlns='urn:other' id='1' type='get'/>",
        b"<iq id='1' type='get'><s:address/></iq>",
        b"<iq id='1' id='2' type='get'/>",
        b"<iq id='1' type='get' x='&nbsp;'/>",
        b"<iq id='a&b' type='get'/>",
        b"<iq id='a<b' type='get'/>",
        b"<iq id='1' type='get'>\xff</iq>",
        b"<iq id='1' type='get'>\0</iq>",
        b"<iq id='1' type='get' xmlns:p=''/>",
        b"<iq id='1' type=get/>",
        b"<iq id='1' type='get'>]]></iq>",
        long.as_bytes(),
    ];
    for stanza in cases {
        let call = xmpp_sic::Request {
            stanza,
            sender: ALICE,
            target: None,
            peer: None,
            flags: Flags::NONE,
        };
        assert_eq!(
            xmpp_sic::handle_iq_to_vec(&call),
            Err(HandleError::MalformedStanza),
            "{}",
            String::from_utf8_lossy(stanza)
        );
    }
}

#[test]
fn invalid_jids_are_invalid_arguments() {
    for sender in ["", "@example.com", "a b@example.com", "alice@example.com/"] {
        assert_eq!(
            Call::new(SIC1).from(sender).run(),
            Err(HandleError::InvalidArgument),
            "{sender:?}"
        );
    }
    assert_eq!(
        Call::new(SIC1).to("bob@").run(),
        Err(HandleError::InvalidArgument)
    );
}

#[test]
fn markup_in_ids_and_jids_cannot_inject() {
    let stanza =
        "<iq id='&apos;&quot;&lt;x/&gt;\"&gt;' type='get'><address xmlns='urn:xmpp:sic:1'/></iq>";
    let sender = "alice@example.com/<evil a='1'>\"";
    let iq = Call::new(stanza).from(sender).reply();
    assert_eq!(iq.attr("id"), Some("'\"<x/>\">"));
    assert_eq!(iq.attr("to"), Some(sender));
    assert_eq!(iq.children.len(), 1);
    // Newlines from character references survive attribute normalisation.
    let iq =
        Call::new("<iq id='a&#10;b' type='get'><address xmlns='urn:xmpp:sic:1'/></iq>").reply();
    assert_eq!(iq.attr("id"), Some("a\nb"));
    // References to characters beyond ASCII come back as the characters.
    let iq = Call::new(
        "<iq id='&#xE9;&#233;&#x1F600;&amp;' type='get'><address xmlns='urn:xmpp:sic:1'/></iq>",
    )
    .reply();
    assert_eq!(iq.attr("id"), Some("\u{e9}\u{e9}\u{1F600}&"));
}

#[test]
fn buffer_too_small_reports_the_exact_size() {
    let req = xmpp_sic::Request {
        stanza: SIC1.as_bytes(),
        sender: ALICE,
        target: None,
        peer: Some("1.2.3.4:5".parse().unwrap()),
        flags: Flags::NONE,
    };
    let full = xmpp_sic::handle_iq_to_vec(&req).unwrap().unwrap();
    let mut small = vec![0xAA; full.len() - 1];
    assert_eq!(
        xmpp_sic::handle_iq(&req, &mut small),
        Err(HandleError::BufferTooSmall { needed: full.len() })
    );
    assert!(small.iter().all(|&b| b == 0xAA), "nothing written");
    let mut exact = vec![0; full.len()];
    assert_eq!(
        xmpp_sic::handle_iq(&req, &mut exact),
        Ok(xmpp_sic::Handled::Reply { len: full.len() })
    );
    assert_eq!(exact, full);
}

#[test]
fn features_follow_the_flags() {
    let names = |f| {
        xmpp_sic::features(f)
            .iter()
            .map(|c| c.to_str().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(Flags::NONE), ["urn:xmpp:sic:1", "urn:xmpp:sic:0"]);
    assert_eq!(names(Flags::NO_SIC0), ["urn:xmpp:sic:1"]);
}
