//! Text decoding for the feed (ISO-8859-1 declared, UTF-8 mojibake inside).
//!
//! quick-xml 0.42 only reads UTF-8, so the raw bytes of the file go first through
//! [`Transcoder`], a `BufRead` adapter that turns them into UTF-8 by one byte-level rule, the same
//! for every file the feed ever served:
//!
//! 1. ASCII bytes pass through (copied in runs: the fast path, >98 % of the file);
//! 2. a *valid* UTF-8 multi-byte sequence is kept as UTF-8. The publisher's files are ISO-8859-1,
//!    but some addresses were typed through a UTF-8 form and stored as raw bytes: station
//!    92330002's `C3 89` means `É` ("77 Avenue Édouard Depreux"), not `Ã‰`. Two Latin-1 letters
//!    forming a valid UTF-8 sequence (`Ã` followed by a C1 control or a symbol) never occur in
//!    French text, so this reading is safe; in the one UTF-8 file (2014) it is plain UTF-8;
//! 3. any other byte 0x80–0x9F decodes as Windows-1252 (`€ ’ œ …`: what a Windows client meant;
//!    the five bytes Windows-1252 leaves undefined map to the C1 control of the same value, as in
//!    the WHATWG table);
//! 4. any other byte 0xA0–0xFF decodes as Latin-1.
//!
//! Then [`clean`] resolves XML references (`&amp;`, `&#339;`, `&#x2019;`), trims, and folds inner
//! runs of white space, on the values the parser keeps, and only on those.

use std::io::{self, BufRead, Read};

/// The encodings an XML declaration may name for this feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclaredEncoding {
    /// ISO-8859-1 and its aliases (and Windows-1252, its superset, and US-ASCII, its subset).
    Latin1,
    Utf8,
}

impl DeclaredEncoding {
    /// Reads an `encoding="…"` label; `None` for anything this feed never used and the
    /// transcoder cannot read (UTF-16, ISO-8859-15, Shift-JIS…).
    pub fn from_label(label: &str) -> Option<DeclaredEncoding> {
        let l = label.trim().to_ascii_lowercase();
        match l.as_str() {
            "iso-8859-1" | "iso8859-1" | "iso_8859-1" | "iso_8859-1:1987" | "latin1" | "latin-1" | "l1" | "cp819"
            | "ibm819" | "windows-1252" | "cp1252" | "us-ascii" | "ascii" => Some(DeclaredEncoding::Latin1),
            "utf-8" | "utf8" => Some(DeclaredEncoding::Utf8),
            _ => None,
        }
    }
}

/// Windows-1252 for 0x80–0x9F; the undefined slots keep the C1 control of the same value.
const CP1252_HIGH: [char; 32] = [
    '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8D}', 'Ž', '\u{8F}', '\u{90}', '‘', '’',
    '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9D}', 'ž', 'Ÿ',
];

/// One non-ASCII byte on its own (rules 3 and 4).
#[inline]
fn single_byte_char(b: u8) -> char {
    if (0x80..0xA0).contains(&b) { CP1252_HIGH[usize::from(b - 0x80)] } else { char::from(b) }
}

/// What the bytes at the start of `s` (which starts with a non-ASCII byte) decode to.
enum Step {
    /// A valid UTF-8 sequence of this length: copy it as is.
    Utf8(usize),
    /// Not UTF-8: this one byte decodes alone.
    Single(char),
    /// A valid UTF-8 prefix cut by the end of the buffer: more bytes are needed to decide.
    NeedMore,
}

#[inline]
fn step(s: &[u8]) -> Step {
    let b = s[0];
    // (length, allowed range of the second byte) per the UTF-8 table (RFC 3629).
    let (len, lo, hi) = match b {
        0xC2..=0xDF => (2, 0x80, 0xBF),
        0xE0 => (3, 0xA0, 0xBF),
        0xE1..=0xEC | 0xEE..=0xEF => (3, 0x80, 0xBF),
        0xED => (3, 0x80, 0x9F),
        0xF0 => (4, 0x90, 0xBF),
        0xF1..=0xF3 => (4, 0x80, 0xBF),
        0xF4 => (4, 0x80, 0x8F),
        _ => return Step::Single(single_byte_char(b)),
    };
    for i in 1..len {
        let Some(&c) = s.get(i) else {
            return Step::NeedMore;
        };
        let ok = if i == 1 { (lo..=hi).contains(&c) } else { (0x80..=0xBF).contains(&c) };
        if !ok {
            return Step::Single(single_byte_char(b));
        }
    }
    Step::Utf8(len)
}

/// Length of the leading ASCII run of `s`, eight bytes at a time.
#[inline]
fn ascii_prefix(s: &[u8]) -> usize {
    let mut i = 0;
    for c in s.chunks_exact(8) {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        if w & 0x8080_8080_8080_8080 != 0 {
            break;
        }
        i += 8;
    }
    i + s[i..].iter().position(|&b| b >= 0x80).unwrap_or(s.len() - i)
}

/// Appends the decoding of `src` to `out`. `at_end` says no more bytes follow `src`; otherwise
/// a UTF-8 sequence cut at the end is left undecoded and its length is returned.
fn decode_into(src: &[u8], out: &mut Vec<u8>, at_end: bool) -> usize {
    let mut i = 0;
    while i < src.len() {
        let ascii = ascii_prefix(&src[i..]);
        out.extend_from_slice(&src[i..i + ascii]);
        i += ascii;
        if i >= src.len() {
            break;
        }
        match step(&src[i..]) {
            Step::Utf8(n) => {
                out.extend_from_slice(&src[i..i + n]);
                i += n;
            }
            Step::Single(c) => {
                let mut b = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
                i += 1;
            }
            Step::NeedMore if at_end => {
                let mut b = [0u8; 4];
                out.extend_from_slice(single_byte_char(src[i]).encode_utf8(&mut b).as_bytes());
                i += 1;
            }
            Step::NeedMore => return src.len() - i,
        }
    }
    0
}

/// Decodes a whole byte string by the rules above (tests, small inputs).
#[cfg(test)]
pub fn decode_bytes(src: &[u8]) -> String {
    let mut out = Vec::with_capacity(src.len() + src.len() / 8);
    decode_into(src, &mut out, true);
    // decode_into only ever writes ASCII runs, validated UTF-8 sequences and encoded chars.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// How many source bytes the transcoder takes per refill: large enough to amortise the call,
/// small enough to stay in L2 and keep memory flat on a 500 MB yearly file.
const CHUNK: usize = 64 * 1024;

/// A `BufRead` adapter that turns the feed's raw bytes into UTF-8 (see the module doc), for
/// quick-xml. Memory is bounded: at most [`CHUNK`] source bytes are decoded at a time.
pub struct Transcoder<R> {
    inner: R,
    out: Vec<u8>,
    pos: usize,
    /// A UTF-8 sequence cut by the end of the inner buffer, waiting for its tail.
    carry: Vec<u8>,
    eof: bool,
}

impl<R: BufRead> Transcoder<R> {
    pub fn new(inner: R) -> Transcoder<R> {
        Transcoder { inner, out: Vec::with_capacity(CHUNK + CHUNK / 4), pos: 0, carry: Vec::new(), eof: false }
    }

    fn refill(&mut self) -> io::Result<()> {
        self.out.clear();
        self.pos = 0;
        while self.out.is_empty() && !self.eof {
            if !self.carry.is_empty() {
                // Complete the cut sequence with the first bytes of the next chunk.
                let next = self.inner.fill_buf()?;
                if next.is_empty() {
                    self.eof = true;
                    let carry = std::mem::take(&mut self.carry);
                    decode_into(&carry, &mut self.out, true);
                    continue;
                }
                let carried = self.carry.len();
                let mut k = 0;
                while k < next.len() && matches!(step(&self.carry), Step::NeedMore) {
                    self.carry.push(next[k]);
                    k += 1;
                }
                match step(&self.carry) {
                    Step::NeedMore => {
                        self.inner.consume(k);
                    }
                    Step::Utf8(n) => {
                        self.out.extend_from_slice(&self.carry[..n]);
                        self.carry.clear();
                        self.inner.consume(k);
                    }
                    Step::Single(c) => {
                        // The lead byte stands alone; the bytes borrowed from `next` were not
                        // consumed and are decoded again by the normal path.
                        let mut b = [0u8; 4];
                        self.out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
                        let rest = self.carry[1..carried].to_vec();
                        self.carry = rest;
                    }
                }
                continue;
            }
            let src = self.inner.fill_buf()?;
            if src.is_empty() {
                self.eof = true;
                break;
            }
            let n = src.len().min(CHUNK);
            let left = decode_into(&src[..n], &mut self.out, false);
            if left > 0 {
                self.carry.extend_from_slice(&src[n - left..n]);
            }
            self.inner.consume(n);
        }
        Ok(())
    }
}

impl<R: BufRead> Read for Transcoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_buffered(self, buf)
    }
}

/// `Read::read` of a reader whose buffer is the source: a copy of what `fill_buf` holds (the
/// [`Transcoder`], and the parser's raw filter after it).
pub(super) fn read_buffered(r: &mut impl BufRead, buf: &mut [u8]) -> io::Result<usize> {
    let n = {
        let avail = r.fill_buf()?;
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        n
    };
    r.consume(n);
    Ok(n)
}

impl<R: BufRead> BufRead for Transcoder<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.out.len() {
            self.refill()?;
        }
        Ok(&self.out[self.pos..])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.out.len());
    }
}

/// The character a reference names (`amp`, `#339`, `#x2019`), if it is one XML defines.
pub fn resolve_reference(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => {
            let num = name.strip_prefix('#')?;
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse::<u32>().ok()?,
            };
            char::from_u32(code).filter(|&c| c != '\0')
        }
    }
}

/// Cleans a raw (still escaped) text or attribute value: references resolved, ends trimmed,
/// inner runs of white space folded to one space. An unknown or malformed reference is kept
/// as written rather than failing the station: it is the publisher's typo, still readable.
///
/// White space is Unicode white space, so a `&#160;` (no-break space) folds too: addresses are
/// searched and displayed, never typeset.
pub fn clean(raw: &str) -> String {
    if is_clean(raw) {
        return raw.to_owned();
    }
    let mut out = String::with_capacity(raw.len());
    let mut pending_space = false;
    let mut push = |c: char, out: &mut String| {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    };
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        for c in rest[..amp].chars() {
            push(c, &mut out);
        }
        let after = &rest[amp + 1..];
        let resolved = after
            .find(';')
            .filter(|&semi| semi <= 10)
            .and_then(|semi| resolve_reference(&after[..semi]).map(|c| (c, semi)));
        match resolved {
            Some((c, semi)) => {
                push(c, &mut out);
                rest = &after[semi + 1..];
            }
            None => {
                push('&', &mut out);
                rest = after;
            }
        }
    }
    for c in rest.chars() {
        push(c, &mut out);
    }
    out
}

/// The fast path of [`clean`]: nothing to resolve, no white space but single inner spaces.
#[inline]
fn is_clean(raw: &str) -> bool {
    let b = raw.as_bytes();
    if b.first() == Some(&b' ') || b.last() == Some(&b' ') {
        return false;
    }
    let mut prev_space = false;
    for &c in b {
        match c {
            b'&' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C => return false,
            b' ' if prev_space => return false,
            // Non-ASCII may hold Unicode white space: take the careful path.
            0x80.. => return false,
            _ => {}
        }
        prev_space = c == b' ';
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transcode_all(src: &[u8], cap: usize) -> String {
        // A BufReader with a tiny capacity cuts sequences at every possible place.
        let inner = io::BufReader::with_capacity(cap, src);
        let mut t = Transcoder::new(inner);
        let mut s = String::new();
        t.read_to_string(&mut s).unwrap();
        s
    }

    #[test]
    fn latin1_and_cp1252_bytes() {
        assert_eq!(decode_bytes(b"Carburant additiv\xe9"), "Carburant additivé");
        assert_eq!(decode_bytes(b"\x80 \x92 \x9c \x85"), "€ ’ œ …");
        assert_eq!(decode_bytes(b"\x81\x8d\x8f\x90\x9d"), "\u{81}\u{8d}\u{8f}\u{90}\u{9d}");
        assert_eq!(decode_bytes(b"\xa0\xff"), "\u{a0}ÿ");
        assert_eq!(decode_bytes(b"plain ascii"), "plain ascii");
    }

    #[test]
    fn utf8_mojibake_is_read_as_utf8() {
        // Station 92330002, as stored in every file.
        assert_eq!(decode_bytes(b"77 Avenue \xc3\x89douard Depreux"), "77 Avenue Édouard Depreux");
        // A lone lead byte, or a lead byte followed by a non-continuation, stays Latin-1.
        assert_eq!(decode_bytes(b"\xc3 x"), "Ã x");
        assert_eq!(decode_bytes(b"\xc3"), "Ã");
        assert_eq!(decode_bytes(b"\xe9t\xe9"), "été");
        // Overlong and surrogate encodings are not UTF-8.
        assert_eq!(decode_bytes(b"\xc0\xaf"), "À¯");
        assert_eq!(decode_bytes(b"\xed\xa0\x80"), "í\u{a0}€");
        // A lone 0x89 after a plain letter (2019 file: "Saint-E\x89tienne") is Windows-1252.
        assert_eq!(decode_bytes(b"Saint-E\x89tienne"), "Saint-E‰tienne");
        assert_eq!(decode_bytes("œ’€".as_bytes()), "œ’€");
    }

    /// The real bytes of station 92330002, when ../shared/data is there.
    #[test]
    fn station_92330002_in_a_real_file() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/data/instantane_ruptures_2026-06-05T1010.zip");
        let Ok(bytes) = std::fs::read(&path) else {
            eprintln!("{} absent: skipped", path.display());
            return;
        };
        let reader = crate::feed::archive::open(&bytes, &Default::default()).unwrap();
        let mut xml = String::new();
        Transcoder::new(reader).read_to_string(&mut xml).unwrap();
        let at = xml.find("<pdv id=\"92330002\"").unwrap();
        let adresse = &xml[at..at + 200];
        assert!(adresse.contains("<adresse>77 Avenue Édouard Depreux</adresse>"), "{adresse}");
        // Elsewhere Latin-1 and references are untouched by the transcoder.
        assert!(xml.contains("<service>Restauration à emporter</service>"));
        assert!(xml.contains("&#339;"));
    }

    #[test]
    fn transcoder_handles_cut_sequences() {
        let src = b"<a>\xc3\x89douard \xe2\x80\x99 \xf0\x9f\x98\x80 \xe9t\xe9 \xc3</a>\xc3";
        let want = decode_bytes(src);
        assert_eq!(want, "<a>Édouard ’ 😀 été Ã</a>Ã");
        for cap in 1..12 {
            assert_eq!(transcode_all(src, cap), want, "capacity {cap}");
        }
    }

    #[test]
    fn encodings() {
        assert_eq!(DeclaredEncoding::from_label("ISO-8859-1"), Some(DeclaredEncoding::Latin1));
        assert_eq!(DeclaredEncoding::from_label("utf-8"), Some(DeclaredEncoding::Utf8));
        assert_eq!(DeclaredEncoding::from_label("UTF-16"), None);
        assert_eq!(DeclaredEncoding::from_label("ISO-8859-15"), None);
    }

    #[test]
    fn clean_resolves_trims_and_folds() {
        assert_eq!(clean("  Rue  de\tla\n Paix  "), "Rue de la Paix");
        assert_eq!(clean("C&#339;ur"), "Cœur");
        assert_eq!(clean("l&#8217;&Eacute;glise &amp; co"), "l’&Eacute;glise & co");
        assert_eq!(clean("&#x2019;&#X153;&lt;&gt;&quot;&apos;"), "’œ<>\"'");
        assert_eq!(clean("a &#160; b"), "a b");
        assert_eq!(clean("a & b"), "a & b");
        assert_eq!(clean("&#0;&#xD800;&#99999999;"), "&#0;&#xD800;&#99999999;");
        assert_eq!(clean(""), "");
        assert_eq!(clean("   "), "");
        assert_eq!(clean("PARIS 13"), "PARIS 13");
        assert!(is_clean("PARIS 13") && !is_clean("PARIS  13") && !is_clean(" PARIS"));
    }
}
