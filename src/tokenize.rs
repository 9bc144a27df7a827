//! A zero-copy, allocation-free pull tokenizer over a stanza held in memory.
//!
//! It is quick-xml's own grammar pieces driven over a slice: `ElementParser`
//! finds the end of a tag (respecting quoted `>`), `Attributes` splits the
//! attributes later on. We do not use `quick_xml::Reader` itself because it
//! pushes every start-tag name onto an internal `String` and `Vec`, which costs
//! two heap allocations per stanza; our caller keeps its own fixed-size element
//! stack instead. A property test checks that both produce the same tokens.
//!
//! Markup that XMPP forbids in stanzas (comments, processing instructions, the
//! XML declaration and DTDs) is reported as such at its first bytes and never
//! parsed further.

use quick_xml::parser::{ElementParser, Parser};

use crate::escape::{is_space, Malformed};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Token<'a> {
    /// A start tag or an empty-element tag. `content` is what stands between
    /// `<` and `>` (without the `/` of an empty element); the name is its first
    /// `name_len` bytes.
    Start {
        content: &'a str,
        name_len: usize,
        empty: bool,
    },
    /// An end tag, with its name.
    End(&'a str),
    /// Escaped character data, exactly as in the input.
    Text(&'a str),
    /// The inside of a CDATA section.
    CData(&'a str),
}

pub struct Tokenizer<'a> {
    input: &'a str,
    pos: usize,
}

impl<'a> Tokenizer<'a> {
    pub fn new(input: &'a str) -> Self {
        Tokenizer { input, pos: 0 }
    }

    /// The next token, `Ok(None)` at the end of input.
    pub fn next_token(&mut self) -> Result<Option<Token<'a>>, Malformed> {
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
                let mut parser = ElementParser::default();
                let gt = parser.feed(&bytes[1..]).ok_or(Malformed)? + 1;
                self.pos += gt + 1;
                let inner = &rest[1..gt];
                let (content, empty) = match inner.strip_suffix('/') {
                    Some(content) => (content, true),
                    None => (inner, false),
                };
                let name_len = content
                    .bytes()
                    .position(|b| is_space(b) || b == b'/')
                    .unwrap_or(content.len());
                if name_len == 0 {
                    return Err(Malformed);
                }
                Ok(Some(Token::Start {
                    content,
                    name_len,
                    empty,
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use quick_xml::events::Event;

    fn tokens(input: &str) -> Result<Vec<Token<'_>>, Malformed> {
        let mut t = Tokenizer::new(input);
        let mut out = Vec::new();
        while let Some(tok) = t.next_token()? {
            out.push(tok);
        }
        Ok(out)
    }

    #[test]
    fn splits_a_stanza() {
        let toks = tokens("<iq id='a>b' type=\"get\"><x/> t<![CDATA[c]]></iq >").unwrap();
        assert_eq!(
            toks,
            vec![
                Token::Start {
                    content: "iq id='a>b' type=\"get\"",
                    name_len: 2,
                    empty: false
                },
                Token::Start {
                    content: "x",
                    name_len: 1,
                    empty: true
                },
                Token::Text(" t"),
                Token::CData("c"),
                Token::End("iq"),
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
                Token::Start {
                    content,
                    empty: false,
                    ..
                } => format!("S{content}"),
                Token::Start {
                    content,
                    empty: true,
                    ..
                } => format!("E{content}"),
                Token::End(name) => format!("/{name}"),
                Token::Text(t) => format!("T{t}"),
                Token::CData(t) => format!("C{t}"),
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
    }
}
