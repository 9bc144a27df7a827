//! A zero-copy, allocation-free pull tokenizer over a stanza held in memory.
//!
//! The attributes of a start tag are quick-xml's `Attributes` iterator, run
//! over the input from the end of the tag name; the caller pulls them one by
//! one with [`Tokenizer::attribute`]. Between two attributes only white space
//! can stand before the `>` or `/>` that ends the tag, so the tag's end is
//! found there, by the same pass that splits the attributes, instead of by a
//! scan of its own first (quick-xml's `ElementParser` looks at every quote once
//! to find the end, and `Attributes` then looks at every byte again). We do not
//! use `quick_xml::Reader` itself because it pushes every start-tag name onto
//! an internal `String` and `Vec`, which costs two heap allocations per
//! stanza; our caller keeps its own fixed-size element stack instead. A
//! property test checks that both produce the same tokens.
//!
//! Markup that XMPP forbids in stanzas (comments, processing instructions, the
//! XML declaration and DTDs) is reported as such at its first bytes and never
//! parsed further.

use quick_xml::events::attributes::Attributes;

use crate::escape::{is_space, Malformed};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Token<'a> {
    /// The name of a start tag or empty-element tag. Its attributes and its
    /// end follow from [`Tokenizer::attribute`], which must be called until it
    /// gives [`Attr::End`] before the next token is asked for.
    Start(&'a str),
    /// An end tag, with its name.
    End(&'a str),
    /// Escaped character data, exactly as in the input.
    Text(&'a str),
    /// The inside of a CDATA section.
    CData(&'a str),
}

/// One step through the attributes of a start tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attr<'a> {
    /// An attribute: its name and its value, still escaped.
    Pair(&'a str, &'a str),
    /// The end of the tag. `content` is what stands between `<` and `>`
    /// (without the `/` of an empty element), as quick-xml's `Reader` gives it.
    End { content: &'a str, empty: bool },
}

/// A start tag whose end has not been reached yet.
struct OpenTag<'a> {
    /// Where the tag's content starts, just after `<`.
    start: usize,
    attrs: Attributes<'a>,
}

pub struct Tokenizer<'a> {
    input: &'a str,
    /// Inside a start tag: just after its name or its last attribute.
    pos: usize,
    tag: Option<OpenTag<'a>>,
}

impl<'a> Tokenizer<'a> {
    pub fn new(input: &'a str) -> Self {
        Tokenizer {
            input,
            pos: 0,
            tag: None,
        }
    }

    /// The next attribute of the start tag last returned, or its end.
    // Inlined into the parser's attribute loop: it runs for every attribute
    // and every tag end, and a call returning the enum through memory cost
    // ~150 instructions per request.
    #[inline(always)]
    pub fn attribute(&mut self) -> Result<Attr<'a>, Malformed> {
        let Some(tag) = &mut self.tag else {
            return Err(Malformed);
        };
        let bytes = self.input.as_bytes();
        let mut i = self.pos;
        while i < bytes.len() && is_space(bytes[i]) {
            i += 1;
        }
        let empty = match bytes.get(i) {
            Some(b'>') => false,
            Some(b'/') if bytes.get(i + 1) == Some(&b'>') => true,
            // `/` anywhere else, or no end at all.
            Some(b'/') | None => return Err(Malformed),
            Some(_) => {
                // quick-xml's iterator resumes just after the previous value
                // (or the name) too, so it parses from this same attribute.
                let attr = match tag.attrs.next() {
                    Some(Ok(attr)) => attr,
                    _ => return Err(Malformed),
                };
                let value = match attr.value {
                    std::borrow::Cow::Borrowed(v) => v,
                    // Only `Attributes::html` produces owned values.
                    std::borrow::Cow::Owned(_) => return Err(Malformed),
                };
                // Past the value and its closing quote.
                self.pos = value.as_ptr() as usize - self.input.as_ptr() as usize + value.len() + 1;
                return Ok(Attr::Pair(attr.key.0, value));
            }
        };
        let content = &self.input[tag.start..i];
        self.pos = i + if empty { 2 } else { 1 };
        self.tag = None;
        Ok(Attr::End { content, empty })
    }

    /// The next token, `Ok(None)` at the end of input.
    pub fn next_token(&mut self) -> Result<Option<Token<'a>>, Malformed> {
        while self.tag.is_some() {
            self.attribute()?;
        }
        let rest = &self.input[self.pos..];
        let bytes = rest.as_bytes();
        let Some(&first) = bytes.first() else {
            return Ok(None);
        };
        if first != b'<' {
            let len = memchr::memchr(b'<', bytes).unwrap_or(bytes.len());
            self.pos += len;
            return Ok(Some(Token::Text(&rest[..len])));
        }
        match bytes.get(1) {
            Some(b'/') => {
                // End tags are short: a plain loop beats memchr's setup.
                let gt = bytes.iter().position(|&b| b == b'>').ok_or(Malformed)?;
                // `</name S?>`: white space may follow the name, nothing else.
                let name =
                    rest[2..gt].trim_end_matches(|c: char| c.is_ascii() && is_space(c as u8));
                if name.is_empty() || name.bytes().any(is_space) {
                    return Err(Malformed);
                }
                self.pos += gt + 1;
                Ok(Some(Token::End(name)))
            }
            Some(b'!') => {
                const OPEN: &str = "<![CDATA[";
                if !rest.starts_with(OPEN) {
                    // A comment or a DOCTYPE: both forbidden in stanzas.
                    return Err(Malformed);
                }
                let body = &rest[OPEN.len()..];
                let end = memchr::memmem::find(body.as_bytes(), b"]]>").ok_or(Malformed)?;
                self.pos += OPEN.len() + end + 3;
                Ok(Some(Token::CData(&body[..end])))
            }
            // A processing instruction or an XML declaration: forbidden too.
            Some(b'?') | None => Err(Malformed),
            Some(_) => {
                let start = self.pos + 1;
                // The name runs to the first white space, `/` or `>`; one
                // that runs to the end of the input has no tag end. Counted
                // with take_while rather than found with position: inlined
                // into the parser, position's index lived on the stack and
                // was stored and reloaded on every byte of the name.
                let after = &bytes[1..];
                let name_len = after
                    .iter()
                    .take_while(|&&b| !(is_space(b) || b == b'/' || b == b'>'))
                    .count();
                if name_len == 0 || name_len == after.len() {
                    return Err(Malformed);
                }
                let name_end = start + name_len;
                let mut attrs = Attributes::new(self.input, name_end);
                // The caller finds duplicates itself, without allocating.
                attrs.with_checks(false);
                self.tag = Some(OpenTag { start, attrs });
                self.pos = name_end;
                Ok(Some(Token::Start(&self.input[start..name_end])))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use quick_xml::events::Event;

    /// A token with its start tag read to the end, as the tests compare them.
    #[derive(Debug, PartialEq, Eq)]
    enum Whole<'a> {
        Start {
            content: &'a str,
            name_len: usize,
            empty: bool,
        },
        End(&'a str),
        Text(&'a str),
        CData(&'a str),
    }

    fn tokens(input: &str) -> Result<Vec<Whole<'_>>, Malformed> {
        let mut t = Tokenizer::new(input);
        let mut out = Vec::new();
        while let Some(tok) = t.next_token()? {
            out.push(match tok {
                Token::Start(name) => loop {
                    if let Attr::End { content, empty } = t.attribute()? {
                        assert!(content.starts_with(name));
                        break Whole::Start {
                            content,
                            name_len: name.len(),
                            empty,
                        };
                    }
                },
                Token::End(name) => Whole::End(name),
                Token::Text(text) => Whole::Text(text),
                Token::CData(text) => Whole::CData(text),
            });
        }
        Ok(out)
    }

    #[test]
    fn splits_a_stanza() {
        let toks = tokens("<iq id='a>b' type=\"get\"><x/> t<![CDATA[c]]></iq >").unwrap();
        assert_eq!(
            toks,
            vec![
                Whole::Start {
                    content: "iq id='a>b' type=\"get\"",
                    name_len: 2,
                    empty: false
                },
                Whole::Start {
                    content: "x",
                    name_len: 1,
                    empty: true
                },
                Whole::Text(" t"),
                Whole::CData("c"),
                Whole::End("iq"),
            ]
        );
    }

    /// Two inputs quick-xml's reader lets through and XML does not; found by
    /// the differential property below.
    #[test]
    fn stricter_than_quick_xml_where_xml_is() {
        assert_eq!(tokens("<a></a a=''>"), Err(Malformed));
        assert_eq!(tokens("<>"), Err(Malformed));
    }

    #[test]
    fn forbidden_markup_is_rejected() {
        for input in [
            "<!-- c --><iq/>",
            "<?xml version='1.0'?><iq/>",
            "<iq><?pi x?></iq>",
            "<!DOCTYPE iq><iq/>",
            "<iq",
            "<iq>&amp;<",
            "</>",
            "< iq/>",
            "<iq><![CDATA[x</iq>",
        ] {
            assert_eq!(tokens(input), Err(Malformed), "{input}");
        }
    }

    /// Our tokens, in the shape quick-xml's `Reader` reports them.
    fn as_reader_events(input: &str) -> Option<Vec<String>> {
        let mut out = Vec::new();
        for tok in tokens(input).ok()? {
            out.push(match tok {
                Whole::Start {
                    content,
                    empty: false,
                    ..
                } => format!("S{content}"),
                Whole::Start {
                    content,
                    empty: true,
                    ..
                } => format!("E{content}"),
                Whole::End(name) => format!("/{name}"),
                Whole::Text(t) => format!("T{t}"),
                Whole::CData(t) => format!("C{t}"),
            });
        }
        Some(out)
    }

    fn reader_events(input: &str) -> Option<Vec<String>> {
        let mut reader = quick_xml::Reader::from_str(input);
        let config = reader.config_mut();
        config.check_end_names = false;
        config.trim_markup_names_in_closing_tags = true;
        let mut out = Vec::new();
        let mut text = String::new();
        loop {
            let event = reader.read_event().ok()?;
            // quick-xml splits text at entity references; we keep it whole.
            match &event {
                Event::Text(t) => {
                    text.push_str(t);
                    continue;
                }
                Event::GeneralRef(r) => {
                    text.push('&');
                    text.push_str(r);
                    text.push(';');
                    continue;
                }
                _ => {}
            }
            if !text.is_empty() {
                out.push(format!("T{}", std::mem::take(&mut text)));
            }
            out.push(match event {
                Event::Start(s) => format!("S{}", &*s),
                Event::Empty(s) => format!("E{}", &*s),
                Event::End(e) => format!("/{}", &*e),
                Event::CData(c) => format!("C{}", &*c),
                Event::Eof => return Some(out),
                _ => return None,
            });
        }
    }

    /// A start tag's content, whether it is empty, and its attributes.
    type TagRead<'a> = (&'a str, bool, Vec<(&'a str, &'a str)>);

    /// The first start tag of `input` as quick-xml's `ElementParser` and
    /// then its `Attributes` read it: content, emptiness and attributes.
    fn element_parser_then_attributes(input: &str) -> Option<TagRead<'_>> {
        use quick_xml::parser::{ElementParser, Parser};
        let bytes = input.as_bytes();
        let gt = ElementParser::default().feed(&bytes[1..])? + 1;
        let inner = &input[1..gt];
        let (content, empty) = match inner.strip_suffix('/') {
            Some(content) => (content, true),
            None => (inner, false),
        };
        let name_len = content
            .bytes()
            .position(|b| is_space(b) || b == b'/')
            .unwrap_or(content.len());
        if name_len == 0 {
            return None;
        }
        let mut attrs = Attributes::new(content, name_len);
        attrs.with_checks(false);
        let mut pairs = Vec::new();
        for attr in attrs {
            let attr = attr.ok()?;
            let std::borrow::Cow::Borrowed(value) = attr.value else {
                return None;
            };
            pairs.push((attr.key.0, value));
        }
        Some((content, empty, pairs))
    }

    /// The same, as this tokenizer reads it.
    fn ours(input: &str) -> Option<TagRead<'_>> {
        let mut t = Tokenizer::new(input);
        let Ok(Some(Token::Start(_))) = t.next_token() else {
            return None;
        };
        let mut pairs = Vec::new();
        loop {
            match t.attribute().ok()? {
                Attr::Pair(key, value) => pairs.push((key, value)),
                Attr::End { content, empty } => return Some((content, empty, pairs)),
            }
        }
    }

    /// What the parser goes on to accept: element and attribute names that
    /// are names.
    fn with_name_keys<'a>(tag: Option<TagRead<'a>>) -> Option<TagRead<'a>> {
        let is_name = |s: &str| s.bytes().all(|b| b.is_ascii_alphabetic() || b == b':');
        tag.filter(|(content, _, pairs)| {
            let name = content.split(|c: char| c == '/' || c.is_ascii_whitespace());
            name.take(1).all(is_name) && pairs.iter().all(|(k, _)| is_name(k))
        })
    }

    proptest! {
        /// Wherever quick-xml's own reader accepts the input, we accept it too
        /// and give the same tokens. (The grammar holds no forbidden markup,
        /// and no attributes in end tags, which quick-xml lets through but
        /// XML does not.)
        #[test]
        fn agrees_with_quick_xml_reader(input in "(<[a-z:]{1,3}( [a-z]{1,2}=('[^'<]{0,3}'|\"[^\"<]{0,3}\"))?/?>|</[a-z:]{1,3} ?>|[a-z &;#>]{0,4}|<!\\[CDATA\\[[a-z<>]{0,3}\\]\\]>){0,8}") {
            if let Some(theirs) = reader_events(&input) {
                prop_assert_eq!(as_reader_events(&input), Some(theirs));
            }
        }

        /// Finding a tag's end between its attributes gives what finding it
        /// first with `ElementParser` and then splitting the attributes gave,
        /// for every tag whose attribute names the parser would accept, even
        /// tags with broken attribute syntax.
        #[test]
        fn tag_end_agrees_with_element_parser(input in "<[a-z]{1,2}[a-z '\"=/> \t]{0,14}(<b/>|<c d='>'/>| e='<>'|)") {
            let theirs = with_name_keys(element_parser_then_attributes(&input));
            prop_assert_eq!(with_name_keys(ours(&input)), theirs);
        }
    }
}
