//! Reads one stanza and says what it asks for: the IQ's id, type and stanza
//! namespace, and whether it carries a Server IP Check payload.
//!
//! The whole stanza is checked for well-formedness and namespace validity,
//! not only the parts we use, so that a status never depends on how far we
//! happened to read. Namespaces are resolved with a fixed-size scope stack
//! (no allocation); the limits below are far above what any real stanza needs.

use quick_xml::events::attributes::Attributes;

use crate::decide::{IqType, Shape, SicNs};
use crate::escape::{
    self, check_attribute, decoded_eq, decoded_is_blank, AttrText, Context, Malformed,
};
use crate::tokenize::{Attr, Token, Tokenizer};

/// The largest stanza we accept, in bytes.
pub const MAX_STANZA_LEN: usize = 65_536;
/// Element nesting deeper than this is refused.
pub(crate) const MAX_DEPTH: usize = 128;
/// Namespace declarations in scope at once.
pub(crate) const MAX_BINDINGS: usize = 64;
/// The stacks a stanza is parsed with first. Real stanzas nest three or four
/// deep and declare a namespace or two, and small stacks are cheap to clear;
/// a stanza that outgrows them is parsed again with the full limits above
/// (at most twice the work, and only for stanzas no client sends).
const SHALLOW_DEPTH: usize = 16;
const FEW_BINDINGS: usize = 16;
/// Above this many attributes on one element, duplicates are found with
/// quick-xml's hashed check (which allocates) instead of our stack array.
/// Stanza elements carry a handful; a small array is cheap to clear.
const SMALL_ATTRS: usize = 8;

/// The namespaces we tell apart; every other one is `Other`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ns {
    /// No namespace at all (no default declared).
    Empty,
    Client,
    Server,
    Component,
    Sic0,
    Sic1,
    Other,
}

impl Ns {
    /// Also validates `raw`'s references.
    fn classify(raw: &str) -> Result<Ns, Malformed> {
        const KNOWN: [(&str, Ns); 5] = [
            ("jabber:client", Ns::Client),
            ("jabber:server", Ns::Server),
            ("jabber:component:accept", Ns::Component),
            (crate::NS_SIC0, Ns::Sic0),
            (crate::NS_SIC1, Ns::Sic1),
        ];
        // Almost every declaration is one of these exact strings; none holds
        // a byte that decoding changes, so no scan is needed to trust them.
        if let Some(&(_, ns)) = KNOWN.iter().find(|(uri, _)| raw == *uri) {
            return Ok(ns);
        }
        // Every reference stands for a character, so only "" decodes to "".
        if raw.is_empty() {
            return Ok(Ns::Empty);
        }
        if check_attribute(raw)? {
            return Ok(Ns::Other);
        }
        for (uri, ns) in KNOWN {
            if decoded_eq(raw, Context::Attribute, uri)? {
                return Ok(ns);
            }
        }
        Ok(Ns::Other)
    }

    /// Which Server IP Check namespace this is, if any.
    pub fn sic(self) -> Option<SicNs> {
        match self {
            Ns::Sic0 => Some(SicNs::Sic0),
            Ns::Sic1 => Some(SicNs::Sic1),
            _ => None,
        }
    }

    /// The namespace URI we write back for a stanza namespace.
    pub fn stanza_uri(self) -> Option<&'static str> {
        match self {
            Ns::Client => Some("jabber:client"),
            Ns::Server => Some("jabber:server"),
            Ns::Component => Some("jabber:component:accept"),
            _ => None,
        }
    }
}

/// The IQ's first child element: what the IQ asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Child<'a> {
    /// Its local name.
    pub local: &'a str,
    /// Its namespace.
    pub ns: Ns,
    /// What it holds, and what stands beside it.
    pub shape: Shape,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Iq<'a> {
    /// The `id` attribute, still escaped as in the input.
    pub id: AttrText<'a>,
    pub kind: IqType,
    /// The namespace of the `<iq/>` element.
    pub ns: Ns,
    /// The first child element, if any.
    pub payload: Option<Child<'a>>,
}

// Frames and bindings are 8 bytes each, all of them fields, so a stack
// zero-initialises with plain vector stores. Names fit u16: a stanza is at
// most 64 KiB.
#[derive(Clone, Copy, Default)]
struct Frame {
    name_start: u32,
    name_len: u16,
    /// Bindings in force before this element's own declarations.
    bindings_before: u8,
    default_ns: u8,
}

#[derive(Clone, Copy, Default)]
struct Binding {
    prefix_start: u32,
    prefix_len: u16,
    ns: u8,
    /// Fills what would be padding; with padding, the array was zeroed
    /// field by field (~220 instructions per request).
    _spare: u8,
}

const NS_TABLE: [Ns; 7] = [
    Ns::Empty,
    Ns::Client,
    Ns::Server,
    Ns::Component,
    Ns::Sic0,
    Ns::Sic1,
    Ns::Other,
];

fn ns_code(ns: Ns) -> u8 {
    ns as u8
}

fn ns_from_code(code: u8) -> Ns {
    NS_TABLE.get(code as usize).copied().unwrap_or(Ns::Other)
}

/// Element nesting and the namespace bindings in scope.
struct Scopes<'a, 's> {
    input: &'a str,
    // Borrowed, not owned: the arrays are zeroed where they live instead of
    // being built and then copied into the struct.
    frames: &'s mut [Frame],
    depth: usize,
    bindings: &'s mut [Binding],
    nbindings: usize,
    /// A stack smaller than its limit was full: the stanza needs a parse
    /// with the full-size stacks before it can be called malformed.
    outgrown: bool,
    /// Open elements nested past `MAX_DEPTH`, which have no frames: see
    /// [`open_element`].
    overflow: usize,
}

impl<'a, 's> Scopes<'a, 's> {
    fn new(input: &'a str, frames: &'s mut [Frame], bindings: &'s mut [Binding]) -> Self {
        Scopes {
            input,
            frames,
            depth: 0,
            bindings,
            nbindings: 0,
            outgrown: false,
            overflow: 0,
        }
    }

    /// Whether another frame fits; at the end of a small stack, notes that a
    /// bigger one is needed.
    fn frame_fits(&mut self) -> bool {
        let fits = self.depth < self.frames.len();
        self.outgrown |= !fits && self.frames.len() < MAX_DEPTH;
        fits
    }

    /// Whether another binding fits, like [`Scopes::frame_fits`].
    fn binding_fits(&mut self) -> bool {
        let fits = self.nbindings < self.bindings.len();
        self.outgrown |= !fits && self.bindings.len() < MAX_BINDINGS;
        fits
    }
    fn slice(&self, start: u32, len: u16) -> &'a str {
        let start = start as usize;
        &self.input[start..start + len as usize]
    }

    fn offset_of(&self, s: &str) -> u32 {
        // `s` always borrows from `input`, which is at most MAX_STANZA_LEN long.
        (s.as_ptr() as usize - self.input.as_ptr() as usize) as u32
    }

    fn default_ns(&self) -> Ns {
        match self.depth {
            0 => Ns::Empty,
            d => ns_from_code(self.frames[d - 1].default_ns),
        }
    }

    fn resolve_prefix(&self, prefix: &str) -> Result<Ns, Malformed> {
        if prefix == "xml" {
            return Ok(Ns::Other);
        }
        self.bindings[..self.nbindings]
            .iter()
            .rev()
            .find(|b| self.slice(b.prefix_start, b.prefix_len) == prefix)
            .map(|b| ns_from_code(b.ns))
            .ok_or(Malformed)
    }
}

/// What a start tag tells the IQ analysis.
struct StartTag<'a> {
    ns: Ns,
    local: &'a str,
    id: Option<AttrText<'a>>,
    kind: Option<IqType>,
    /// It has attributes besides namespace declarations.
    attributes: bool,
    /// An empty-element tag, closed already (no frame was pushed for it).
    empty: bool,
}

const NAME_START: u8 = 1;
const NAME_CHAR: u8 = 2;

/// XML name characters, with every non-ASCII byte allowed (the UTF-8 was
/// validated already; the finer Unicode classes are not checked).
const NAME_CLASSES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            NAME_START | NAME_CHAR
        } else if c.is_ascii_digit() || c == b'-' || c == b'.' {
            NAME_CHAR
        } else {
            0
        };
        b += 1;
    }
    table
};

/// Splits a qualified name into (prefix, local part), checking that both are
/// XML names without colons. One pass: names are a few bytes, so finding the
/// colon and checking the classes separately would double the work.
fn split_qname(qname: &str) -> Result<(Option<&str>, &str), Malformed> {
    let bytes = qname.as_bytes();
    // The byte that starts the current part must be a name start.
    let mut need = NAME_START;
    let mut colon = None;
    for (i, &c) in bytes.iter().enumerate() {
        if NAME_CLASSES[c as usize] & need == 0 {
            if c != b':' || colon.is_some() || need == NAME_START {
                return Err(Malformed);
            }
            colon = Some(i);
            need = NAME_START;
            continue;
        }
        need = NAME_CHAR;
    }
    if need == NAME_START {
        // Empty, or ending with the colon.
        return Err(Malformed);
    }
    Ok(match colon {
        Some(colon) => (Some(&qname[..colon]), &qname[colon + 1..]),
        None => (None, qname),
    })
}

fn open_element<'a>(
    scopes: &mut Scopes<'a, '_>,
    tokens: &mut Tokenizer<'a>,
    qname: &'a str,
    seen: &mut [&'a str; SMALL_ATTRS],
) -> Result<StartTag<'a>, Malformed> {
    let (prefix, local) = split_qname(qname)?;
    // Past MAX_DEPTH an element is still tokenized and its attribute values
    // checked, but it gets no frame: its end tag is counted, not matched by
    // name, and its prefixes are neither bound nor resolved. Such depth only
    // ever sits inside the IQ's payload, which is then answered bad-request
    // whatever else it holds; refusing the stanza instead would leave the
    // host without an answer for a client it could answer. The stanza's
    // well-formedness there is the host's parser's to vouch for.
    let deep = !scopes.frame_fits();
    if deep && scopes.frames.len() < MAX_DEPTH {
        return Err(Malformed);
    }
    let bindings_before = scopes.nbindings;
    let mut default_ns = scopes.default_ns();
    let mut id = None;
    let mut kind = None;
    let mut prefixed_attrs = false;
    let mut attributes = false;
    // The names so far are `seen[..count]`, as slices: different lengths,
    // the usual case, compare without touching the bytes. What lies past
    // `count` is left from earlier elements and never read.
    let mut count = 0usize;

    let (content, empty) = loop {
        let (key, value) = match tokens.attribute()? {
            Attr::Pair(key, value) => (key, value),
            Attr::End { content, empty } => break (content, empty),
        };
        if count < SMALL_ATTRS {
            if seen[..count].contains(&key) {
                return Err(Malformed);
            }
            seen[count] = key;
        }
        count += 1;
        // The names stanzas use on every element are valid unprefixed names
        // as they stand; only the others need splitting and checking.
        let (attr_prefix, attr_local) = match key {
            "xmlns" | "id" | "type" => (None, key),
            _ => split_qname(key)?,
        };
        // Every value's references are validated, also where we do not use
        // the value. The values stanzas repeat (known namespaces, IQ types)
        // are compared first: a match proves them plain without a scan.
        match (attr_prefix, attr_local) {
            (None, "xmlns") => default_ns = Ns::classify(value)?,
            (Some("xmlns"), declared) => {
                let ns = Ns::classify(value)?;
                // Namespaces in XML 1.0 §3: no undeclaring a prefix, and
                // `xml`/`xmlns` keep their fixed meaning.
                if ns == Ns::Empty || declared == "xmlns" {
                    return Err(Malformed);
                }
                if declared == "xml" {
                    if !decoded_eq(
                        value,
                        Context::Attribute,
                        "http://www.w3.org/XML/1998/namespace",
                    )? {
                        return Err(Malformed);
                    }
                    continue;
                }
                if deep {
                    continue;
                }
                if !scopes.binding_fits() {
                    return Err(Malformed);
                }
                scopes.bindings[scopes.nbindings] = Binding {
                    prefix_start: scopes.offset_of(declared),
                    prefix_len: declared.len() as u16,
                    ns: ns_code(ns),
                    _spare: 0,
                };
                scopes.nbindings += 1;
            }
            (None, "id") => {
                // One scan for the reply's question too: may it be echoed as is?
                let scan = escape::scan_attribute(value);
                if !scan.plain {
                    check_attribute(value)?;
                }
                id = Some(AttrText {
                    text: value,
                    verbatim: scan.verbatim,
                });
            }
            (None, "type") => kind = Some(iq_type(value)?),
            (Some(_), _) => {
                check_attribute(value)?;
                prefixed_attrs = true;
                attributes = true;
            }
            (None, _) => {
                check_attribute(value)?;
                attributes = true;
            }
        }
    };
    let name_len = qname.len();
    if count > SMALL_ATTRS {
        let mut checked = Attributes::new(content, name_len);
        checked.with_checks(true);
        if checked.any(|a| a.is_err()) {
            return Err(Malformed);
        }
    }
    if deep {
        if prefix == Some("xmlns") {
            return Err(Malformed);
        }
        scopes.overflow += usize::from(!empty);
        return Ok(StartTag {
            ns: Ns::Other,
            local,
            id,
            kind,
            attributes,
            empty,
        });
    }
    if prefixed_attrs {
        let mut attrs = Attributes::new(content, name_len);
        attrs.with_checks(false);
        for attr in attrs.flatten() {
            if let (Some(p), _) = split_qname(attr.key.0)? {
                if p != "xmlns" {
                    scopes.resolve_prefix(p)?;
                }
            }
        }
    }
    let ns = match prefix {
        Some("xmlns") => return Err(Malformed),
        Some(p) => scopes.resolve_prefix(p)?,
        None => default_ns,
    };
    if empty {
        // Closed already: its declarations go out of scope at once, and no
        // end tag will need its name.
        scopes.nbindings = bindings_before;
    } else {
        scopes.frames[scopes.depth] = Frame {
            name_start: scopes.offset_of(qname),
            name_len: qname.len() as u16,
            bindings_before: bindings_before as u8,
            default_ns: ns_code(default_ns),
        };
        scopes.depth += 1;
    }
    Ok(StartTag {
        ns,
        local,
        id,
        kind,
        attributes,
        empty,
    })
}

fn close_element(scopes: &mut Scopes<'_, '_>, name: &str) -> Result<(), Malformed> {
    if scopes.overflow > 0 {
        scopes.overflow -= 1;
        return Ok(());
    }
    let frame = match scopes.depth {
        0 => return Err(Malformed),
        d => scopes.frames[d - 1],
    };
    if scopes.slice(frame.name_start, frame.name_len) != name {
        return Err(Malformed);
    }
    scopes.nbindings = frame.bindings_before as usize;
    scopes.depth -= 1;
    Ok(())
}

/// The type an IQ's `type` value names; also validates its references.
fn iq_type(raw: &str) -> Result<IqType, Malformed> {
    const TYPES: [(&str, IqType); 4] = [
        ("get", IqType::Get),
        ("set", IqType::Set),
        ("result", IqType::Result),
        ("error", IqType::Error),
    ];
    // None of the names holds a byte that decoding changes.
    if let Some(&(_, kind)) = TYPES.iter().find(|(name, _)| raw == *name) {
        return Ok(kind);
    }
    if check_attribute(raw)? {
        return Ok(IqType::Unknown);
    }
    for (name, kind) in TYPES {
        if decoded_eq(raw, Context::Attribute, name)? {
            return Ok(kind);
        }
    }
    Ok(IqType::Unknown)
}

/// Parses `input` as one IQ stanza.
pub fn parse_iq(input: &[u8]) -> Result<Iq<'_>, Malformed> {
    if input.len() > MAX_STANZA_LEN {
        return Err(Malformed);
    }
    let input = std::str::from_utf8(input).map_err(|_| Malformed)?;
    if !escape::all_xml_chars(input) {
        return Err(Malformed);
    }
    let mut frames = [Frame::default(); SHALLOW_DEPTH];
    let mut bindings = [Binding::default(); FEW_BINDINGS];
    let mut scopes = Scopes::new(input, &mut frames, &mut bindings);
    match parse_events(&mut scopes) {
        Err(Malformed) if scopes.outgrown => {
            let mut frames = [Frame::default(); MAX_DEPTH];
            let mut bindings = [Binding::default(); MAX_BINDINGS];
            parse_events(&mut Scopes::new(input, &mut frames, &mut bindings))
        }
        parsed => parsed,
    }
}

/// Reads the stanza's events with the stacks `scopes` has.
fn parse_events<'a>(scopes: &mut Scopes<'a, '_>) -> Result<Iq<'a>, Malformed> {
    let input = scopes.input;
    let mut tokens = Tokenizer::new(input);
    let mut root: Option<Iq<'_>> = None;
    let mut root_done = false;
    // The IQ's first child.
    let mut payload: Option<Child<'a>> = None;
    // Shape bits gathered before the payload is known (text before it), and
    // whether a second child has opened: at depth 2 we are inside the first
    // child until then. One word for both, not a counter of its own: the
    // hot loops are short of registers.
    let mut shape = Shape::EMPTY;
    // open_element's scratch for attribute names, which each element fills
    // from the start: initialised once per stanza rather than once per
    // element (sixteen stores each time).
    let mut seen = [""; SMALL_ATTRS];

    while let Some(token) = tokens.next_token()? {
        match token {
            Token::Start(name) => {
                if root_done {
                    return Err(Malformed);
                }
                let depth = scopes.depth;
                let tag = open_element(scopes, &mut tokens, name, &mut seen)?;
                match depth {
                    0 => {
                        if tag.local != "iq"
                            || (tag.ns.stanza_uri().is_none() && tag.ns != Ns::Empty)
                        {
                            return Err(Malformed);
                        }
                        let (Some(id), Some(kind)) = (tag.id, tag.kind) else {
                            return Err(Malformed);
                        };
                        root = Some(Iq {
                            id,
                            kind,
                            ns: tag.ns,
                            payload: None,
                        });
                    }
                    1 => {
                        if payload.is_some() {
                            shape.insert(Shape::SIBLINGS_AND_SECOND_CHILD);
                        } else {
                            if tag.attributes {
                                shape.insert(Shape::ATTRIBUTES);
                            }
                            payload = Some(Child {
                                local: tag.local,
                                ns: tag.ns,
                                shape: Shape::EMPTY,
                            });
                        }
                    }
                    2 if shape.in_first_child() => shape.insert(Shape::CHILDREN),
                    // Deeper elements sit inside an element already counted.
                    _ => {}
                }
                if tag.empty {
                    root_done |= scopes.depth == 0;
                }
            }
            Token::End(name) => {
                close_element(scopes, name)?;
                root_done |= scopes.depth == 0;
            }
            Token::Text(text) => {
                // Validates every reference, also where the text is ignored.
                if !decoded_is_blank(text, Context::Text)? {
                    match scopes.depth {
                        0 => return Err(Malformed),
                        1 => shape.insert(Shape::SIBLINGS),
                        2 if shape.in_first_child() => shape.insert(Shape::TEXT),
                        _ => {}
                    }
                }
            }
            Token::CData(text) => {
                if scopes.depth == 0 {
                    return Err(Malformed);
                }
                if !text.bytes().all(escape::is_space) {
                    match scopes.depth {
                        1 => shape.insert(Shape::SIBLINGS),
                        2 if shape.in_first_child() => shape.insert(Shape::TEXT),
                        _ => {}
                    }
                }
            }
        }
    }
    let mut iq = match (root, root_done) {
        (Some(iq), true) => iq,
        _ => return Err(Malformed),
    };
    iq.payload = payload.map(|child| Child {
        shape: shape.reported(),
        ..child
    });
    Ok(iq)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(children: &str) -> Result<Option<(&'static str, Ns, u32)>, Malformed> {
        let stanza = format!("<iq xmlns='jabber:client' id='1' type='get'>{children}</iq>");
        let stanza: &'static str = Box::leak(stanza.into_boxed_str());
        parse_iq(stanza.as_bytes()).map(|iq| iq.payload.map(|c| (c.local, c.ns, c.shape.bits())))
    }

    /// An empty element closes at once, and so does the scope of what it
    /// declares: neither a prefix nor a default namespace outlives it.
    #[test]
    fn empty_elements_end_their_scope() {
        assert_eq!(payload("<x xmlns:p='urn:a'/><p:y/>"), Err(Malformed));
        assert_eq!(
            payload("<x xmlns:p='urn:xmpp:sic:1'><p:address/></x>"),
            Ok(Some(("x", Ns::Client, Shape::CHILDREN.bits())))
        );
        assert_eq!(
            payload("<x xmlns='urn:xmpp:sic:1'/><address/>"),
            Ok(Some(("x", Ns::Sic1, Shape::SIBLINGS.bits())))
        );
        assert_eq!(
            payload("<p:address xmlns:p='urn:xmpp:sic:1'/>"),
            Ok(Some(("address", Ns::Sic1, 0)))
        );
        assert_eq!(
            payload("<p:address xmlns:p='urn:xmpp:sic:1'/><p:address/>"),
            Err(Malformed)
        );
        let empty_root = parse_iq(b"<iq id='1' type='get'/>").unwrap();
        assert_eq!(empty_root.payload, None);
        assert_eq!(
            parse_iq(b"<iq id='1' type='get'/><iq id='2' type='get'/>"),
            Err(Malformed)
        );
    }

    /// The payload is the first child element; each shape bit comes from
    /// its own place, and whitespace sets none.
    #[test]
    fn payload_shape() {
        const A: &str = "address xmlns='urn:xmpp:sic:1'";
        const E: &str = "address";
        let shape = |children: &str| payload(children).map(|p| p.map(|(_, _, s)| s));
        let cases = [
            (format!("<{A}/>"), 0),
            (format!(" \n\t<{A}> \r\n</{E}> "), 0),
            (format!("<{A}><![CDATA[ \n]]></{E}>"), 0),
            (format!("<{A}><x/></{E}>"), Shape::CHILDREN.bits()),
            (format!("<{A}>&#x41;</{E}>"), Shape::TEXT.bits()),
            (format!("<{A}><![CDATA[x]]></{E}>"), Shape::TEXT.bits()),
            (format!("<{A} a='1'/>"), Shape::ATTRIBUTES.bits()),
            (
                format!("<{A} xmlns:p='urn:p' p:a='1'/>"),
                Shape::ATTRIBUTES.bits(),
            ),
            (format!("<{A} xmlns:p='urn:p'/>"), 0),
            (format!("<{A}/><x/>"), Shape::SIBLINGS.bits()),
            (format!("x<{A}/>"), Shape::SIBLINGS.bits()),
            (format!("<{A}/><![CDATA[x]]>"), Shape::SIBLINGS.bits()),
            // Text inside a sibling is the sibling's: it adds nothing.
            (format!("<{A}/><x>t<y/></x>"), Shape::SIBLINGS.bits()),
            // A grandchild's text is the child's content, counted already.
            (format!("<{A}><x>t</x></{E}>"), Shape::CHILDREN.bits()),
            (
                format!("<{A} a='1'>t<x/></{E}><y/>"),
                Shape::CHILDREN.bits()
                    | Shape::TEXT.bits()
                    | Shape::ATTRIBUTES.bits()
                    | Shape::SIBLINGS.bits(),
            ),
        ];
        for (children, want) in cases {
            assert_eq!(shape(&children), Ok(Some(want)), "{children}");
        }
        assert_eq!(shape("text only"), Ok(None));
    }

    /// Nesting past MAX_DEPTH no longer costs the host its answer: the
    /// envelope and payload were read, and the depth makes it bad-request.
    /// What lies past the limit is still tokenized and checked.
    #[test]
    fn depth_past_the_limit_is_content() {
        let deep = |depth: usize, inner: &str| {
            format!(
                "<address xmlns='urn:xmpp:sic:1'>{}{inner}{}</address>",
                "<a x='1'>".repeat(depth),
                "</a>".repeat(depth)
            )
        };
        for depth in [MAX_DEPTH, MAX_DEPTH + 1, 5000] {
            assert_eq!(
                payload(&deep(depth, "<p:b xmlns:p='urn:p'/>")),
                Ok(Some(("address", Ns::Sic1, Shape::CHILDREN.bits()))),
                "depth {depth}"
            );
        }
        for bad in [
            "<a",
            "</b>",
            "<a x='&bogus;'/>",
            "<a x='1' x='2'/>",
            "<!-- c -->",
            "&#0;",
        ] {
            assert_eq!(payload(&deep(5000, bad)), Err(Malformed), "{bad}");
        }
        // Unbalanced past the limit: one end tag too few or too many.
        let short = format!(
            "<iq id='1' type='get'>{}{}</iq>",
            "<a>".repeat(300),
            "</a>".repeat(299)
        );
        assert_eq!(parse_iq(short.as_bytes()), Err(Malformed));
        let long = format!(
            "<iq id='1' type='get'>{}{}</iq>",
            "<a>".repeat(300),
            "</a>".repeat(301)
        );
        assert_eq!(parse_iq(long.as_bytes()), Err(Malformed));
    }

    /// Stanzas that outgrow the first, small stacks are parsed again with
    /// the full ones, so the limits stay exactly MAX_DEPTH and MAX_BINDINGS.
    #[test]
    fn limits_hold_past_the_small_stacks() {
        let nested = |depth: usize| {
            let inner = depth - 2;
            format!(
                "<iq id='1' type='get'><x xmlns='urn:a'>{}{}</x></iq>",
                "<a>".repeat(inner),
                "</a>".repeat(inner)
            )
        };
        let declaring = |n: usize| {
            let decls: String = (0..n).map(|i| format!(" xmlns:p{i}='urn:{i}'")).collect();
            format!(
                "<iq id='1' type='get'><x{decls}><p{0}:y/></x></iq>",
                n.saturating_sub(1)
            )
        };
        let parses = |s: String| parse_iq(s.as_bytes()).is_ok();
        for depth in [SHALLOW_DEPTH, SHALLOW_DEPTH + 1, MAX_DEPTH] {
            assert!(parses(nested(depth)), "depth {depth}");
        }
        // Past the limit the stanza is still read (see
        // depth_past_the_limit_is_content), and still checked.
        assert!(parses(nested(MAX_DEPTH + 1)));
        assert!(!parses(format!("{}<", nested(MAX_DEPTH + 1))));
        for n in [FEW_BINDINGS, FEW_BINDINGS + 1, MAX_BINDINGS] {
            assert!(parses(declaring(n)), "{n} bindings");
        }
        assert!(!parses(declaring(MAX_BINDINGS + 1)));
        // Outgrowing the small stacks does not excuse a later error.
        let late_error = format!("{}<", nested(SHALLOW_DEPTH + 1));
        assert!(!parses(late_error));
    }

    #[test]
    fn qualified_names() {
        assert_eq!(split_qname("iq"), Ok((None, "iq")));
        assert_eq!(split_qname("c:iq"), Ok((Some("c"), "iq")));
        assert_eq!(split_qname("a-1.b_c"), Ok((None, "a-1.b_c")));
        assert_eq!(split_qname("x:é"), Ok((Some("x"), "é")));
        assert_eq!(split_qname("_x.1-y:z9"), Ok((Some("_x.1-y"), "z9")));
        assert_eq!(split_qname("\u{e9}t\u{e9}"), Ok((None, "\u{e9}t\u{e9}")));
        for bad in [
            "", ":", "a:", ":a", "a::b", "a:b:c", "1a", "a:1b", "-a", "a>b", "a b", "a'",
        ] {
            assert_eq!(split_qname(bad), Err(Malformed), "{bad:?}");
        }
    }
}
