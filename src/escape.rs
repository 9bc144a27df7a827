//! Character data in and out: validating and decoding what the stanza holds,
//! escaping what we write. Both work piecewise so nothing is allocated.

/// The input broke an XML well-formedness rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed;

/// One piece of decoded character data: a literal run copied from the input,
/// or a single character that came from a reference or from normalisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    Run(&'a str),
    Char(char),
}

/// Where the data sits decides how raw whitespace is normalised (XML 1.0 §2.11
/// and §3.3.3): in an attribute value every literal tab, CR or LF becomes a
/// space, so an `id` spread over lines is echoed as the peer's parser saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    Text,
    Attribute,
}

/// Walks escaped character data, checks every reference and hands out the
/// decoded pieces. Unknown entities are errors: stanzas carry no DTD that
/// could define them.
pub fn decode<'a, F>(raw: &'a str, ctx: Context, mut visit: F) -> Result<(), Malformed>
where
    F: FnMut(Piece<'a>),
{
    let bytes = raw.as_bytes();
    let mut run_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let special = match b {
            b'&' | b'<' | b'\r' => true,
            b'\t' | b'\n' => ctx == Context::Attribute,
            b'>' => ctx == Context::Text,
            _ => false,
        };
        if !special {
            i += 1;
            continue;
        }
        if run_start < i {
            visit(Piece::Run(&raw[run_start..i]));
        }
        match b {
            b'&' => {
                let rest = &bytes[i + 1..];
                let (c, len) = match predefined(rest) {
                    Some(known) => known,
                    None => {
                        let semi = memchr::memchr(b';', rest).ok_or(Malformed)?;
                        (char_reference(&rest[..semi])?, semi + 1)
                    }
                };
                visit(Piece::Char(c));
                i += len + 1;
            }
            b'<' => return Err(Malformed),
            b'\r' => {
                // Line ends are normalised to LF before anything else.
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                visit(Piece::Char(if ctx == Context::Attribute {
                    ' '
                } else {
                    '\n'
                }));
                i += 1;
            }
            b'>' => {
                // `]]>` may not appear in text outside a CDATA section.
                if i >= 2 && &bytes[i - 2..i] == b"]]" {
                    return Err(Malformed);
                }
                visit(Piece::Char('>'));
                i += 1;
            }
            _ => {
                visit(Piece::Char(' '));
                i += 1;
            }
        }
        run_start = i;
    }
    if run_start < bytes.len() {
        visit(Piece::Run(&raw[run_start..]));
    }
    Ok(())
}

/// The five predefined entities, which are nearly all references in real
/// stanzas, matched in place: a `memchr` call for the `;` costs more than the
/// whole match. Returns the character and the bytes it took after the `&`.
#[inline]
fn predefined(rest: &[u8]) -> Option<(char, usize)> {
    Some(match rest {
        [b'a', b'm', b'p', b';', ..] => ('&', 4),
        [b'l', b't', b';', ..] => ('<', 3),
        [b'g', b't', b';', ..] => ('>', 3),
        [b'q', b'u', b'o', b't', b';', ..] => ('"', 5),
        [b'a', b'p', b'o', b's', b';', ..] => ('\'', 5),
        _ => return None,
    })
}

/// Resolves what stands between `&` and `;` when it is not one of the
/// [`predefined`] entities: a character reference, or else an entity no DTD
/// defined.
fn char_reference(name: &[u8]) -> Result<char, Malformed> {
    let code = match name {
        [b'#', b'x', hex @ ..] => parse_code(hex, 16)?,
        [b'#', dec @ ..] => parse_code(dec, 10)?,
        _ => return Err(Malformed),
    };
    char::from_u32(code)
        .filter(|&c| is_xml_char(c))
        .ok_or(Malformed)
}

fn parse_code(digits: &[u8], radix: u32) -> Result<u32, Malformed> {
    if digits.is_empty() || digits.len() > 8 {
        return Err(Malformed);
    }
    let mut value: u32 = 0;
    for &d in digits {
        let digit = (d as char).to_digit(radix).ok_or(Malformed)?;
        value = value.checked_mul(radix).ok_or(Malformed)? + digit;
    }
    Ok(value)
}

/// XML 1.0 `Char`: what a document may contain at all.
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Checks that every character of `s` is an XML `Char`. Valid UTF-8 cannot hold
/// surrogates, so only C0 controls and U+FFFE/U+FFFF need looking for.
pub fn all_xml_chars(s: &str) -> bool {
    let bytes = s.as_bytes();
    // The smallest and largest byte vectorise to two SIMD instructions per
    // 16 bytes (`pminub`, `pmaxub`): no byte below a space and none from 0xEF
    // up proves the stanza clean.
    let (lo, hi) = min_max(bytes);
    if lo >= 0x20 && hi < 0xEF {
        return true;
    }
    // Line breaks or high bytes: a branch-free fold that lets white space and
    // other high bytes through still vectorises; only a stanza with a suspect
    // byte gets the exact check below.
    if !bytes.iter().fold(false, |acc, &b| {
        acc | (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) | (b == 0xEF)
    }) {
        return true;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r') {
            return false;
        }
        if b == 0xEF
            && bytes.get(i + 1) == Some(&0xBF)
            && matches!(bytes.get(i + 2), Some(0xBE | 0xBF))
        {
            return false;
        }
        i += 1;
    }
    true
}

/// Validates the references in an attribute value and says whether it is
/// plain (see [`is_plain`]).
pub fn check_attribute(raw: &str) -> Result<bool, Malformed> {
    let plain = is_plain(raw, Context::Attribute);
    if !plain {
        decode(raw, Context::Attribute, |_| {})?;
    }
    Ok(plain)
}

/// Text for an attribute of the reply, and whether it can be written as it
/// stands (nothing in it needs [`attribute_escape`]). `text` is either still
/// escaped as in the request (the id) or plain data (the JIDs); with
/// `verbatim` both mean the same bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttrText<'a> {
    pub text: &'a str,
    pub verbatim: bool,
}

impl<'a> AttrText<'a> {
    /// Plain data, scanned for what needs escaping.
    pub fn scanned(text: &'a str) -> Self {
        AttrText {
            text,
            verbatim: !needs_attribute_escape(text),
        }
    }
}

/// What one look at an attribute value, as it stands in the input, tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scan {
    /// Decoding would change nothing (see [`is_plain`]).
    pub plain: bool,
    /// Nothing in it needs [`attribute_escape`]: it can be echoed as it
    /// stands. Implies `plain`.
    pub verbatim: bool,
}

/// Scans an attribute value once for both questions the id raises: is it
/// plain, and may it be echoed as it stands.
pub fn scan_attribute(raw: &str) -> Scan {
    let bytes = raw.as_bytes();
    if bytes.len() < 32 {
        let class = bytes
            .iter()
            .fold(0, |acc, &b| acc | BYTE_CLASSES[b as usize]);
        return Scan {
            plain: class & SPECIAL_IN_ATTRIBUTE == 0,
            verbatim: class & ESCAPED_ON_OUTPUT == 0,
        };
    }
    let verbatim = !needs_attribute_escape(raw);
    Scan {
        plain: verbatim || is_plain(raw, Context::Attribute),
        verbatim,
    }
}

/// The smallest and the largest byte of `bytes`. Whole blocks of 32 bytes
/// run as SIMD lanes, and the tail is one more block that overlaps the last
/// (taking a byte twice changes neither), so a stanza never ends in a
/// byte-by-byte loop.
fn min_max(bytes: &[u8]) -> (u8, u8) {
    const BLOCK: usize = 32;
    if bytes.len() < BLOCK {
        return bytes
            .iter()
            .fold((u8::MAX, 0), |(lo, hi), &b| (lo.min(b), hi.max(b)));
    }
    let (mut lo, mut hi) = ([u8::MAX; BLOCK], [0u8; BLOCK]);
    let mut take = |block: &[u8]| {
        for ((l, h), &b) in lo.iter_mut().zip(hi.iter_mut()).zip(block) {
            *l = (*l).min(b);
            *h = (*h).max(b);
        }
    };
    let blocks = bytes.chunks_exact(BLOCK);
    let tail = !blocks.remainder().is_empty();
    blocks.for_each(&mut take);
    if tail {
        take(&bytes[bytes.len() - BLOCK..]);
    }
    (
        lo.iter().copied().min().unwrap_or(u8::MAX),
        hi.iter().copied().max().unwrap_or(0),
    )
}

/// True when decoding would change nothing: no references, and no raw
/// white space that attribute-value normalisation rewrites. Such data can be
/// compared and copied as it stands.
pub fn is_plain(raw: &str, ctx: Context) -> bool {
    match ctx {
        Context::Attribute => !contains_any(
            raw.as_bytes(),
            SPECIAL_IN_ATTRIBUTE,
            [b'&', b'<', b'\t', b'\n', b'\r'],
        ),
        Context::Text => !contains_any(raw.as_bytes(), SPECIAL_IN_TEXT, [b'&', b'<', b'>', b'\r']),
    }
}

const SPECIAL_IN_ATTRIBUTE: u8 = 1;
const SPECIAL_IN_TEXT: u8 = 2;
const ESCAPED_ON_OUTPUT: u8 = 4;

/// The byte sets of this module as one lookup table, for short values.
const BYTE_CLASSES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let mut class = 0;
        if matches!(c, b'&' | b'<' | b'\t' | b'\n' | b'\r') {
            class |= SPECIAL_IN_ATTRIBUTE;
        }
        if matches!(c, b'&' | b'<' | b'>' | b'\r') {
            class |= SPECIAL_IN_TEXT;
        }
        if matches!(c, b'&' | b'<' | b'>' | b'\'' | b'"' | b'\t' | b'\n' | b'\r') {
            class |= ESCAPED_ON_OUTPUT;
        }
        table[b] = class;
        b += 1;
    }
    table
};

/// True when `bytes` holds any byte of `set`, which must be the bytes of
/// `class` in [`BYTE_CLASSES`] (a test checks both agree). Values are mostly
/// a dozen bytes, where one table lookup per byte is cheapest; long ones (ids
/// of kilobytes) go through memchr's SIMD searches, three bytes per pass.
#[inline]
fn contains_any<const N: usize>(bytes: &[u8], class: u8, set: [u8; N]) -> bool {
    if bytes.len() < 32 {
        return bytes.iter().any(|&b| BYTE_CLASSES[b as usize] & class != 0);
    }
    set.chunks(3).any(|three| match *three {
        [a, b, c] => memchr::memchr3(a, b, c, bytes).is_some(),
        [a, b] => memchr::memchr2(a, b, bytes).is_some(),
        [a] => memchr::memchr(a, bytes).is_some(),
        _ => false,
    })
}

/// True when the decoded data equals `expected` exactly.
pub fn decoded_eq(raw: &str, ctx: Context, expected: &str) -> Result<bool, Malformed> {
    if is_plain(raw, ctx) {
        return Ok(raw == expected);
    }
    let mut rest = expected.as_bytes();
    let mut equal = true;
    decode(raw, ctx, |piece| {
        if !equal {
            return;
        }
        let mut utf8 = [0u8; 4];
        let part = match piece {
            Piece::Run(s) => s.as_bytes(),
            Piece::Char(c) => c.encode_utf8(&mut utf8).as_bytes(),
        };
        match rest.strip_prefix(part) {
            Some(tail) => rest = tail,
            None => equal = false,
        }
    })?;
    Ok(equal && rest.is_empty())
}

/// True when the decoded data is only XML white space.
pub fn decoded_is_blank(raw: &str, ctx: Context) -> Result<bool, Malformed> {
    let mut blank = true;
    decode(raw, ctx, |piece| {
        blank &= match piece {
            Piece::Run(s) => s.bytes().all(is_space),
            Piece::Char(c) => c.is_ascii() && is_space(c as u8),
        }
    })?;
    Ok(blank)
}

/// XML's `S` production.
pub fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// The longest escape we ever emit for one input byte (`'` → `&apos;`).
pub(crate) const MAX_ESCAPE_GROWTH: usize = 6;

/// Returns the escape for a byte that may not appear literally in an attribute
/// value quoted with `'` (the quote style of everything we write), or `None`.
/// Tab, LF and CR are written as references so that attribute-value
/// normalisation at the receiver does not turn them into spaces.
#[inline]
pub const fn attribute_escape(b: u8) -> Option<&'static [u8]> {
    Some(match b {
        b'&' => b"&amp;",
        b'<' => b"&lt;",
        b'>' => b"&gt;",
        b'\'' => b"&apos;",
        b'"' => b"&quot;",
        b'\t' => b"&#x9;",
        b'\n' => b"&#xA;",
        b'\r' => b"&#xD;",
        _ => return None,
    })
}

/// True when some byte of `s` needs [`attribute_escape`].
#[inline]
pub fn needs_attribute_escape(s: &str) -> bool {
    contains_any(
        s.as_bytes(),
        ESCAPED_ON_OUTPUT,
        [b'&', b'<', b'>', b'\'', b'"', b'\t', b'\n', b'\r'],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(raw: &str, ctx: Context) -> Result<String, Malformed> {
        let mut out = String::new();
        decode(raw, ctx, |p| match p {
            Piece::Run(s) => out.push_str(s),
            Piece::Char(c) => out.push(c),
        })?;
        Ok(out)
    }

    #[test]
    fn references_decode() {
        assert_eq!(
            decoded("a&lt;b&gt;&amp;&apos;&quot;", Context::Text).unwrap(),
            "a<b>&'\""
        );
        assert_eq!(
            decoded("&#65;&#x42;&#x1F600;", Context::Text).unwrap(),
            "AB\u{1F600}"
        );
        // Back to back, at both ends, and as the only content.
        assert_eq!(
            decoded(
                "&quot;&apos;&amp;&lt;&gt;x&gt;&lt;&amp;&apos;&quot;",
                Context::Text
            )
            .unwrap(),
            "\"'&<>x><&'\""
        );
        assert_eq!(decoded("&lt;", Context::Attribute).unwrap(), "<");
        assert_eq!(decoded("&#38;amp;", Context::Text).unwrap(), "&amp;");
    }

    #[test]
    fn bad_references_are_malformed() {
        for raw in [
            "&",
            "&lt",
            "&nbsp;",
            "&#;",
            "&#x;",
            "&#0;",
            "&#xD800;",
            "&#x110000;",
            "&#xFFFE;",
            "&#99999999999;",
            "a<b",
            // Near misses of the predefined names, which are matched in place.
            "&amp",
            "&ampx;",
            "&am;",
            "&l;",
            "&gt",
            "&quo;",
            "&quott;",
            "&apo;",
            "&apos",
            "&AMP;",
        ] {
            assert_eq!(decoded(raw, Context::Text), Err(Malformed), "{raw}");
        }
        assert_eq!(decoded("a]]>b", Context::Text), Err(Malformed));
        assert_eq!(decoded("a]]>b", Context::Attribute).unwrap(), "a]]>b");
    }

    #[test]
    fn attribute_whitespace_is_normalised() {
        assert_eq!(
            decoded("a\tb\nc\r\nd\re", Context::Attribute).unwrap(),
            "a b c d e"
        );
        assert_eq!(decoded("a&#10;b", Context::Attribute).unwrap(), "a\nb");
        assert_eq!(decoded("a\r\nb\rc", Context::Text).unwrap(), "a\nb\nc");
    }

    #[test]
    fn comparisons() {
        assert!(decoded_eq("g&#101;t", Context::Attribute, "get").unwrap());
        assert!(!decoded_eq("gets", Context::Attribute, "get").unwrap());
        assert!(!decoded_eq("ge", Context::Attribute, "get").unwrap());
        assert!(decoded_is_blank(" \n&#x20;&#9;", Context::Text).unwrap());
        assert!(!decoded_is_blank(" &#x41;", Context::Text).unwrap());
    }

    #[test]
    fn the_table_and_the_byte_sets_agree() {
        for b in 0..=127u8 {
            let short = (b as char).to_string();
            let long = short.repeat(40);
            for ctx in [Context::Attribute, Context::Text] {
                assert_eq!(is_plain(&short, ctx), is_plain(&long, ctx), "byte {b}");
            }
            assert_eq!(
                needs_attribute_escape(&short),
                needs_attribute_escape(&long),
                "byte {b}"
            );
            assert_eq!(
                needs_attribute_escape(&short),
                attribute_escape(b).is_some(),
                "byte {b}"
            );
        }
    }

    #[test]
    fn one_scan_answers_both_questions() {
        for b in 0..=127u8 {
            for len in [1, 40] {
                let raw = (b as char).to_string().repeat(len);
                let scan = scan_attribute(&raw);
                assert_eq!(scan.plain, is_plain(&raw, Context::Attribute), "byte {b}");
                assert_eq!(scan.verbatim, !needs_attribute_escape(&raw), "byte {b}");
            }
        }
    }

    #[test]
    fn min_max_sees_every_byte() {
        for len in 1..100 {
            for at in 0..len {
                for odd in [0x01, 0xF0] {
                    let mut bytes = vec![b'm'; len];
                    bytes[at] = odd;
                    let naive = (*bytes.iter().min().unwrap(), *bytes.iter().max().unwrap());
                    assert_eq!(min_max(&bytes), naive, "len {len} at {at}");
                }
            }
        }
        assert_eq!(min_max(b""), (u8::MAX, 0));
    }

    #[test]
    fn xml_chars() {
        assert!(all_xml_chars("a\tb\u{FFFD}"));
        assert!(!all_xml_chars("a\0b"));
        assert!(!all_xml_chars("\u{FFFE}"));
        assert!(!all_xml_chars("\u{1B}"));
    }
}
