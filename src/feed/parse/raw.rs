//! Unchanged stations skipped unparsed: a filter between the transcoder and quick-xml that cuts
//! the document at its markup, finds each `<pdv>` element child of the root, hashes its bytes
//! ([`raw_hash`]) and asks a [`RawSieve`] whether the element may be dropped before quick-xml
//! ever reads it (its station is stored with a hash of the same bytes: the parse would give the
//! stored station again). Ten minutes after the last national snapshot, ~9,800 of ~10,000
//! elements are dropped here; the parser reads the rest.
//!
//! The filter only needs to find where markup starts and ends, as quick-xml does: `<` in text
//! always opens markup, a tag ends at the first `>` outside quotes, comments, CDATA and
//! processing instructions end at `-->`, `]]>`, `?>`. Anything it does not expect (a DOCTYPE, a
//! `<` followed by something that is no name, an end tag with no element open) turns it into a
//! plain pass-through for the rest of the file: quick-xml reads every byte and judges.
//!
//! A hash is only worth storing for an element whose parse depends on its bytes alone and
//! matches what the filter counts: the parser attaches it to a station (`FeedStation::raw_hash`)
//! only when the element it parsed is exactly the region the filter passed on (same start and
//! end in the stream), its `<prix>` and `<rupture>` were all kept, it made no rejection, did not
//! make the file an archive, and has no shortage whose end is still to come (a `<rupture fin>`
//! in the future: the same bytes would read otherwise once it is past). So a dropped element
//! stands for exactly one station with that many prices and shortages, whatever the day.

use std::cell::RefCell;
use std::collections::{HashSet, VecDeque};
use std::io::{self, BufRead, Read};
use std::rc::Rc;

use crate::domain::StationId;

/// Bumped when the parser reads a `<pdv>` element's bytes into another station (a new cleaning
/// rule, another reading of hours or prices): the stored hashes of the older parser then match
/// nothing, and stations are parsed again until their next change stores the new hash.
const RAW_HASH_VERSION: u64 = 1;

/// Input bytes held, at most, while the sieve is not ready (the loader is still opening its
/// transaction): decompressing ahead overlaps that wait instead of parsing stations that the
/// sieve would have dropped.
const HOLD_BYTES: usize = 16 << 20;

/// A `<pdv>` element found longer than this (a yearly archive's station is ~30 KB) is passed on
/// without a hash.
const MAX_ELEMENT: usize = 4 << 20;

/// Bytes read from the transcoder at a time.
const READ: usize = 64 << 10;

/// A `<pdv>` element as the filter saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawPdv {
    /// The `id` attribute, as [`StationId::parse`] reads it.
    pub id: i64,
    /// [`raw_hash`] of the element's bytes, `<pdv` to `</pdv>` (or `/>`).
    pub hash: i64,
    /// `<prix>` and `<rupture>` tags in it.
    pub prices: usize,
    pub shortages: usize,
}

/// What a [`RawSieve`] says of an element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Dropped unparsed: the stored station is the same.
    Skip,
    /// Parsed.
    Parse,
    /// Not known yet (the stored stations are being read): ask again later.
    Wait,
}

/// Decides which `<pdv>` elements are dropped unparsed.
pub trait RawSieve {
    /// `may_wait`: whether [`Verdict::Wait`] is allowed; when not, the sieve decides now (it may
    /// block until it can).
    fn judge(&mut self, pdv: &RawPdv, may_wait: bool) -> Verdict;
}

impl<S: RawSieve + ?Sized> RawSieve for &mut S {
    fn judge(&mut self, pdv: &RawPdv, may_wait: bool) -> Verdict {
        (**self).judge(pdv, may_wait)
    }
}

/// Parses everything: the hashes are still computed (and stored by a first import).
pub struct ParseAll;

impl RawSieve for ParseAll {
    fn judge(&mut self, _: &RawPdv, _: bool) -> Verdict {
        Verdict::Parse
    }
}

/// A 64-bit hash of an element's bytes, eight at a time: each word is mixed in by a bijection of
/// the state (xor, multiply by an odd constant, rotate), so a single changed word always changes
/// the hash. Stable across builds (stored in the database), seeded with [`RAW_HASH_VERSION`].
pub fn raw_hash(b: &[u8]) -> i64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mix = |h: u64, w: u64| (h ^ w).wrapping_mul(K).rotate_left(29);
    let mut h = 0x243f_6a88_85a3_08d3 ^ RAW_HASH_VERSION;
    let mut words = b.chunks_exact(8);
    for w in &mut words {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        h = mix(h, u64::from_le_bytes(a));
    }
    let rest = words.remainder();
    let mut a = [0u8; 8];
    a[..rest.len()].copy_from_slice(rest);
    h = mix(h, u64::from_le_bytes(a));
    mix(h, b.len() as u64) as i64
}

/// An element passed on to the parser, and where it lies in the filtered stream.
#[derive(Debug, Clone, Copy)]
pub(super) struct Region {
    pub start: u64,
    pub end: u64,
    pub pdv: RawPdv,
}

/// Elements dropped by the filter, counted as the parser would have.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Dropped {
    pub stations: usize,
    pub prices: usize,
    pub shortages: usize,
}

/// What the filter tells the parser: the regions it passed on (oldest first) and what it dropped.
#[derive(Default)]
pub(super) struct Shared {
    pub regions: VecDeque<Region>,
    pub dropped: Dropped,
    /// Set by the parser once the file is an archive: no element of it is vouched for, so the
    /// filter stops judging and passes every byte on.
    pub archive: bool,
    /// Where bytes were dropped: (position in the filtered stream, bytes dropped before it in
    /// all), in stream order, so that an error's position is told in the document's bytes.
    cuts: Vec<(u64, u64)>,
}

impl Shared {
    /// The position in the unfiltered document of `position` in the filtered stream.
    pub fn unfiltered(&self, position: u64) -> u64 {
        let i = self.cuts.partition_point(|c| c.0 <= position);
        position + i.checked_sub(1).map_or(0, |i| self.cuts[i].1)
    }

    /// The region passed on that starts at `start`, if it ends at `end` (older ones are dropped).
    pub fn take(&mut self, start: u64, end: u64) -> Option<RawPdv> {
        while let Some(r) = self.regions.front() {
            if r.start > start {
                return None;
            }
            let r = *r;
            self.regions.pop_front();
            if r.start == start {
                return (r.end == end).then_some(r.pdv);
            }
        }
        None
    }
}

/// The filter, a `BufRead` of the document without the dropped elements.
pub(super) struct Filter<R, S> {
    inner: R,
    sieve: S,
    shared: Rc<RefCell<Shared>>,
    /// Bytes read, from `at` on not judged yet.
    input: Vec<u8>,
    at: usize,
    eof: bool,
    /// Judged bytes not handed out yet, from `out_at`; `out_base` is the stream position of
    /// `out[0]`.
    out: Vec<u8>,
    out_at: usize,
    out_base: u64,
    /// Bytes of a UTF-8 byte order mark at the start of the stream: quick-xml consumes it
    /// without counting it in its positions, so the positions told the parser leave it out.
    bom: Option<u64>,
    /// Elements open (1 inside the root).
    depth: u32,
    /// Nothing is judged any more: every byte goes on.
    plain: bool,
    /// Stations passed on: a later element of the same id is never dropped (the first occurrence
    /// wins, and the parser may not have handed the earlier one over yet).
    passed: HashSet<i64>,
}

/// One step of the judging.
enum Step {
    /// More input is needed to judge what starts at `at`.
    More,
    /// The next `n` bytes go on.
    Pass(usize),
    /// The next `n` bytes are dropped.
    Drop(usize),
}

impl<R: BufRead, S: RawSieve> Filter<R, S> {
    pub fn new(inner: R, sieve: S, shared: Rc<RefCell<Shared>>) -> Self {
        Filter {
            inner,
            sieve,
            shared,
            input: Vec::with_capacity(2 * READ),
            at: 0,
            eof: false,
            out: Vec::with_capacity(2 * READ),
            out_at: 0,
            out_base: 0,
            bom: None,
            depth: 0,
            plain: false,
            passed: HashSet::new(),
        }
    }

    /// Where the next byte passed on lies in the stream quick-xml reads, as it counts.
    fn position(&self) -> u64 {
        (self.out_base + self.out.len() as u64).saturating_sub(self.bom.unwrap_or(0))
    }

    /// Reads up to [`READ`] more bytes; false at the end of the input.
    fn read_more(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.at > 0 && self.at * 2 >= self.input.len() {
            self.input.drain(..self.at);
            self.at = 0;
            // What was held while the sieve waited (up to HOLD_BYTES) is given back once it has
            // gone on: it would stay for the rest of an archive's import, beside its peak.
            if self.input.capacity() > 4 * READ && self.input.len() <= READ {
                self.input.shrink_to(2 * READ);
            }
        }
        let got = {
            let buf = self.inner.fill_buf()?;
            let n = buf.len().min(READ);
            self.input.extend_from_slice(&buf[..n]);
            n
        };
        self.inner.consume(got);
        if got == 0 {
            self.eof = true;
        }
        Ok(got > 0)
    }

    /// Judges input into `out` until some bytes are there or the input ends.
    fn refill(&mut self) -> io::Result<()> {
        self.out_base += self.out.len() as u64;
        self.out.clear();
        self.out_at = 0;
        if self.out.capacity() > 4 * READ {
            self.out.shrink_to(2 * READ);
        }
        loop {
            if self.bom.is_none() {
                if self.input.len() < 3 && !self.eof {
                    self.read_more()?;
                    continue;
                }
                self.bom = Some(if self.input.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 });
            }
            while self.at < self.input.len() {
                match self.step() {
                    Step::Pass(n) => {
                        self.out.extend_from_slice(&self.input[self.at..self.at + n]);
                        self.at += n;
                    }
                    Step::Drop(n) => self.at += n,
                    // At the end nothing more comes: the rest goes on as it is.
                    Step::More if self.eof => self.plain = true,
                    Step::More => break,
                }
                if self.out.len() >= READ {
                    return Ok(());
                }
            }
            if !self.out.is_empty() || (self.eof && self.at >= self.input.len()) {
                return Ok(());
            }
            self.read_more()?;
        }
    }

    /// The next unit of the input from `at`: text up to the next `<`, or one piece of markup
    /// (a whole `<pdv>` element at once).
    fn step(&mut self) -> Step {
        let b = &self.input[self.at..];
        if self.plain {
            // At most a read's worth at a time: `out` never holds what was read ahead whole.
            return Step::Pass(b.len().min(READ));
        }
        if b[0] != b'<' {
            return Step::Pass(memchr::memchr(b'<', b).unwrap_or(b.len()));
        }
        let Some(&second) = b.get(1) else { return self.more() };
        match second {
            // quick-xml ends an instruction at the first `?>` after `<`, even `<?>`.
            b'?' => self.until(1, b"?>"),
            b'!' => {
                if b.len() < 9 {
                    return self.more();
                }
                if b.starts_with(b"<!--") {
                    self.until(4, b"-->")
                } else if b.starts_with(b"<![CDATA[") {
                    self.until(9, b"]]>")
                } else {
                    self.give_up()
                }
            }
            b'/' => match memchr::memchr(b'>', b) {
                None => self.more(),
                Some(end) => {
                    if self.depth == 0 {
                        return self.give_up();
                    }
                    self.depth -= 1;
                    Step::Pass(end + 1)
                }
            },
            c if is_name_start(c) => {
                let Some(end) = tag_end(b, 1) else { return self.more() };
                let name = name_of(&b[1..end]);
                let empty = b[end - 1] == b'/';
                if self.depth == 1 && name == b"pdv" {
                    return self.pdv(end, empty);
                }
                if !empty {
                    self.depth += 1;
                }
                Step::Pass(end + 1)
            }
            _ => self.give_up(),
        }
    }

    /// Markup from `at` to the end of `close` (searched from `from`).
    fn until(&mut self, from: usize, close: &[u8]) -> Step {
        match memchr::memmem::find(&self.input[self.at + from..], close) {
            Some(i) => Step::Pass(from + i + close.len()),
            None => self.more(),
        }
    }

    fn more(&mut self) -> Step {
        if self.eof { self.give_up() } else { Step::More }
    }

    /// Everything from here on goes to quick-xml as it is.
    fn give_up(&mut self) -> Step {
        self.plain = true;
        Step::Pass((self.input.len() - self.at).min(READ))
    }

    /// A `<pdv>` child of the root whose start tag ends at `tag` (relative to `at`).
    fn pdv(&mut self, tag: usize, empty: bool) -> Step {
        if self.shared.borrow().archive {
            return self.give_up();
        }
        let b = &self.input[self.at..];
        let id = match id_attribute(&b[4..if empty { tag - 1 } else { tag }]) {
            Err(()) => return self.give_up(),
            // No id, or not one a station may have: the parser rejects the element.
            Ok(None) => None,
            Ok(Some(raw)) => std::str::from_utf8(raw).ok().and_then(StationId::parse).map(StationId::get),
        };
        let whole = if empty { End::Whole(tag + 1, 0, 0) } else { element_end(b, tag + 1) };
        let (len, prices, shortages) = match (whole, id) {
            (End::Whole(len, p, s), Some(_)) => (len, p, s),
            // Not a station: parsed (and rejected) as it is.
            (End::Whole(len, _, _), None) => return Step::Pass(len),
            (End::More, _) if !self.eof && b.len() < MAX_ELEMENT => return Step::More,
            _ => {
                // Cut short, too long or not plain: passed on tag by tag, never dropped.
                if let Some(id) = id {
                    self.passed.insert(id);
                }
                self.depth += u32::from(!empty);
                return Step::Pass(tag + 1);
            }
        };
        let Some(id) = id else { return Step::Pass(len) };
        let pdv = RawPdv { id, hash: raw_hash(&b[..len]), prices, shortages };
        if !self.passed.contains(&id) {
            let may_wait = !self.eof && self.input.len() < HOLD_BYTES;
            match self.sieve.judge(&pdv, may_wait) {
                Verdict::Skip => {
                    let at = self.position();
                    let mut s = self.shared.borrow_mut();
                    let before = s.cuts.last().map_or(0, |c| c.1);
                    s.cuts.push((at, before + len as u64));
                    s.dropped.stations += 1;
                    s.dropped.prices += prices;
                    s.dropped.shortages += shortages;
                    return Step::Drop(len);
                }
                Verdict::Wait => return Step::More,
                Verdict::Parse => {}
            }
        }
        self.passed.insert(id);
        let start = self.position();
        self.shared.borrow_mut().regions.push_back(Region { start, end: start + len as u64, pdv });
        Step::Pass(len)
    }
}

impl<R: BufRead, S: RawSieve> Read for Filter<R, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        crate::feed::text::read_buffered(self, buf)
    }
}

impl<R: BufRead, S: RawSieve> BufRead for Filter<R, S> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.out_at >= self.out.len() {
            self.refill()?;
        }
        Ok(&self.out[self.out_at..])
    }

    fn consume(&mut self, amt: usize) {
        self.out_at = (self.out_at + amt).min(self.out.len());
    }
}

/// A byte that may start an XML name (ASCII letters, `_`, `:`, anything non-ASCII).
fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':' || c >= 0x80
}

/// The name at the start of a tag's text (after `<` or `</`).
fn name_of(b: &[u8]) -> &[u8] {
    let n = b.iter().position(|&c| c.is_ascii_whitespace() || c == b'/' || c == b'>').unwrap_or(b.len());
    &b[..n]
}

/// The index of the `>` that ends the tag starting at `b[0]` (`<`), searched from `from`: the
/// first outside quotes.
fn tag_end(b: &[u8], mut from: usize) -> Option<usize> {
    loop {
        let i = from + memchr::memchr3(b'>', b'"', b'\'', &b[from..])?;
        if b[i] == b'>' {
            return Some(i);
        }
        from = i + 1 + memchr::memchr(b[i], &b[i + 1..])? + 1;
    }
}

/// Where a `<pdv>` element ends.
enum End {
    /// Its length, and its `<prix>` and `<rupture>` tags.
    Whole(usize, usize, usize),
    /// Not in the bytes read so far.
    More,
    /// Not a plain element: comments, CDATA or instructions inside, an end tag of another name.
    Odd,
}

/// The end of a `<pdv>` element whose start tag ends before `from`.
///
/// One pass over the bytes, eight at a time: each word is checked at once for the bytes the
/// scan must look at (`<`, `>`, quotes, ~one in nine bytes of a station), and only those are
/// looked at, each by the state it falls in. The same reading as [`tag_end`] and a `memchr` for
/// `<` in text and `>` in an end tag, without a call per quoted attribute.
fn element_end(b: &[u8], from: usize) -> End {
    let mut scan = ElementScan { state: State::Text, start: 0, quote: 0, depth: 0, prices: 0, shortages: 0 };
    let mut words = b[from..].chunks_exact(8);
    let mut at = from;
    for w in &mut words {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        let mut marks = marks(u64::from_le_bytes(a));
        while marks != 0 {
            if let Some(end) = scan.at(b, at + (marks.trailing_zeros() / 8) as usize) {
                return end;
            }
            marks &= marks - 1;
        }
        at += 8;
    }
    for (i, &c) in words.remainder().iter().enumerate() {
        if matches!(c, b'<' | b'>' | b'"' | b'\'')
            && let Some(end) = scan.at(b, at + i)
        {
            return end;
        }
    }
    End::More
}

/// The high bit of each byte of `w` that is `<`, `>`, `"` or `'`. Exact for every byte (no carry
/// crosses bytes: the low seven bits of a byte plus 0x7f stay within it; a byte with its high
/// bit set is none of them).
fn marks(w: u64) -> u64 {
    const LOW: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const ONES: u64 = 0x0101_0101_0101_0101;
    let low = w & LOW;
    // The high bit of each byte of `differs(c)` is set where the byte's low bits are not `c`.
    let differs = |c: u8| (low ^ (ONES * u64::from(c))) + LOW;
    !(differs(b'<') & differs(b'>') & differs(b'"') & differs(b'\'') | w) & HIGH
}

/// Where [`element_end`] is, between two bytes it looks at.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Text,
    /// In a start tag, outside quotes.
    Tag,
    /// In a quoted value of a start tag, closed by [`ElementScan::quote`].
    Quoted,
    EndTag,
}

struct ElementScan {
    state: State,
    /// Where the tag the scan is in starts (its `<`).
    start: usize,
    quote: u8,
    /// Elements open inside the `<pdv>` element.
    depth: u32,
    prices: usize,
    shortages: usize,
}

impl ElementScan {
    /// Byte `b[i]`, one of `<`, `>` and quotes: the element's end once it is known. Inlined in
    /// the scan's loop: it runs for ~one byte in nine.
    #[inline(always)]
    fn at(&mut self, b: &[u8], i: usize) -> Option<End> {
        let c = b[i];
        match self.state {
            State::Text => {
                if c != b'<' {
                    return None;
                }
                self.start = i;
                match b.get(i + 1) {
                    None => return Some(End::More),
                    Some(b'/') => self.state = State::EndTag,
                    Some(&n) if is_name_start(n) => self.state = State::Tag,
                    Some(_) => return Some(End::Odd),
                }
            }
            State::Tag => {
                if c == b'>' {
                    match name_of(&b[self.start + 1..i]) {
                        b"prix" => self.prices += 1,
                        b"rupture" => self.shortages += 1,
                        _ => {}
                    }
                    if b[i - 1] != b'/' {
                        self.depth += 1;
                    }
                    self.state = State::Text;
                } else if c != b'<' {
                    self.quote = c;
                    self.state = State::Quoted;
                }
            }
            State::Quoted => {
                if c == self.quote {
                    self.state = State::Tag;
                }
            }
            State::EndTag => {
                if c != b'>' {
                    return None;
                }
                if self.depth == 0 {
                    let name = &b[self.start + 2..i];
                    let name = &name[..name.iter().rposition(|c| !c.is_ascii_whitespace()).map_or(0, |p| p + 1)];
                    return Some(if name == b"pdv" {
                        End::Whole(i + 1, self.prices, self.shortages)
                    } else {
                        End::Odd
                    });
                }
                self.depth -= 1;
                self.state = State::Text;
            }
        }
        None
    }
}

/// The raw value of the `id` attribute in a start tag's attributes. `Err`: attributes of a shape
/// this reader does not follow (quick-xml's to judge); `Ok(None)`: no `id`.
fn id_attribute(b: &[u8]) -> Result<Option<&[u8]>, ()> {
    let mut i = 0;
    let mut id = None;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == b.len() {
            return Ok(id);
        }
        let start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-' || b[i] == b'_' || b[i] == b':') {
            i += 1;
        }
        let name = &b[start..i];
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if name.is_empty() || b.get(i) != Some(&b'=') {
            return Err(());
        }
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let quote = *b.get(i).filter(|&&q| q == b'"' || q == b'\'').ok_or(())?;
        let from = i + 1;
        let len = memchr::memchr(quote, &b[from..]).ok_or(())?;
        if name == b"id" {
            // The last one wins, as in the parser's reading without the duplicate check.
            id = Some(&b[from..from + len]);
        }
        i = from + len + 1;
        if i < b.len() && !b[i].is_ascii_whitespace() {
            return Err(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filtered(doc: &[u8]) -> (Vec<u8>, Vec<RawPdv>, Dropped) {
        let shared = Rc::new(RefCell::new(Shared::default()));
        let mut seen = Vec::new();
        let mut out = Vec::new();
        {
            let mut f = Filter::new(doc, SkipAllRef(&mut seen), Rc::clone(&shared));
            f.read_to_end(&mut out).unwrap();
        }
        let dropped = shared.borrow().dropped;
        (out, seen, dropped)
    }

    struct SkipAllRef<'a>(&'a mut Vec<RawPdv>);
    impl RawSieve for SkipAllRef<'_> {
        fn judge(&mut self, pdv: &RawPdv, _: bool) -> Verdict {
            self.0.push(*pdv);
            Verdict::Skip
        }
    }

    #[test]
    fn drops_root_children_only() {
        let doc = br#"<?xml version="1.0" encoding="ISO-8859-1"?>
<pdv_liste><!-- <pdv id="1000009"></pdv> -->
  <pdv id="1000001" latitude="1" a='x>y'><prix nom="Gazole" id="1"/><rupture id="2"/><services><service>a &gt; b</service></services></pdv>
  <x><pdv id="1000002"></pdv></x>
  <pdv id="1000003"/>
  <pdv id="abc"><prix/></pdv>
</pdv_liste>
"#;
        let (out, seen, dropped) = filtered(doc);
        let out = String::from_utf8(out).unwrap();
        assert_eq!(
            seen.iter().map(|p| (p.id, p.prices, p.shortages)).collect::<Vec<_>>(),
            [(1000001, 1, 1), (1000003, 0, 0)]
        );
        assert_eq!(dropped.stations, 2);
        assert!(out.contains("<!-- <pdv id=\"1000009\"></pdv> -->"));
        assert!(out.contains("<x><pdv id=\"1000002\"></pdv></x>"));
        assert!(out.contains("<pdv id=\"abc\"><prix/></pdv>"));
        assert!(!out.contains("1000001") && !out.contains("1000003"));
    }

    #[test]
    fn anything_unexpected_passes_the_rest_on() {
        for doc in [
            &b"<!DOCTYPE x><pdv_liste><pdv id=\"1000001\"></pdv></pdv_liste>"[..],
            b"<pdv_liste></pdv_liste></pdv_liste><pdv id=\"1000001\"></pdv>",
            b"<pdv_liste>< pdv id=\"1\"></pdv><pdv id=\"1000001\"></pdv></pdv_liste>",
            b"<pdv_liste><pdv id=\"1000001\"><!-- x --></pdv></pdv_liste>",
            b"<pdv_liste><pdv id=\"1000001\"></pdvx></pdv_liste>",
            b"<pdv_liste><pdv id=\"1000001\"></pdv",
            b"<pdv_liste><pdv id=\"1000001\" id2></pdv></pdv_liste>",
        ] {
            let (out, seen, _) = filtered(doc);
            assert_eq!(out, doc, "{}", String::from_utf8_lossy(doc));
            assert!(seen.is_empty());
        }
    }

    #[test]
    fn a_station_passed_on_is_never_dropped_later() {
        struct Once(bool);
        impl RawSieve for Once {
            fn judge(&mut self, _: &RawPdv, _: bool) -> Verdict {
                let first = !self.0;
                self.0 = true;
                if first { Verdict::Parse } else { Verdict::Skip }
            }
        }
        let doc = b"<pdv_liste><pdv id=\"1000001\">a</pdv><pdv id=\"1000001\">b</pdv><pdv id=\"1000002\"/></pdv_liste>";
        let shared = Rc::new(RefCell::new(Shared::default()));
        let mut out = Vec::new();
        Filter::new(&doc[..], Once(false), Rc::clone(&shared)).read_to_end(&mut out).unwrap();
        assert_eq!(out, b"<pdv_liste><pdv id=\"1000001\">a</pdv><pdv id=\"1000001\">b</pdv></pdv_liste>");
        let s = shared.borrow();
        assert_eq!(s.regions.len(), 2);
        assert_eq!((s.regions[0].start, s.regions[0].end), (11, 36));
    }

    #[test]
    fn every_cut_gives_the_input_back_when_nothing_is_dropped() {
        let doc = br#"<?xml version="1.0"?><pdv_liste><pdv id="1000001" a="1"><prix nom="x"/></pdv><pdv id="1000002"/></pdv_liste>"#;
        for cut in 0..doc.len() {
            let shared = Rc::new(RefCell::new(Shared::default()));
            let mut out = Vec::new();
            Filter::new(&doc[..cut], ParseAll, shared).read_to_end(&mut out).unwrap();
            assert_eq!(out, &doc[..cut]);
        }
    }

    #[test]
    fn marks_are_exactly_the_bytes_looked_at() {
        for c in 0..=255u8 {
            for filler in [0u8, b'a', b'<', b'"', 0x7f, 0x80, 0xbc, 0xff] {
                for p in 0..8 {
                    let mut w = [filler; 8];
                    w[p] = c;
                    let expected = w
                        .iter()
                        .enumerate()
                        .filter(|(_, c)| matches!(c, b'<' | b'>' | b'"' | b'\''))
                        .fold(0u64, |m, (i, _)| m | 0x80 << (8 * i));
                    assert_eq!(marks(u64::from_le_bytes(w)), expected, "{w:?}");
                }
            }
        }
    }

    #[test]
    fn hash_moves_with_any_byte() {
        let a = raw_hash(b"<pdv id=\"1\"><prix valeur=\"1.799\"/></pdv>");
        assert_ne!(a, raw_hash(b"<pdv id=\"1\"><prix valeur=\"1.798\"/></pdv>"));
        assert_ne!(a, raw_hash(b"<pdv id=\"1\"><prix valeur=\"1.799\"/></pdv> "));
        assert_eq!(a, raw_hash(b"<pdv id=\"1\"><prix valeur=\"1.799\"/></pdv>"));
        // Pinned: the hash is stored, it must not move between builds.
        assert_eq!(raw_hash(b""), raw_hash(&[]));
    }

    /// Parsed once, then again with the stations the parser vouched for dropped: the same
    /// outcome's counts, the other stations the same.
    #[test]
    fn dropped_elements_count_as_parsed_ones() {
        use chrono::{DateTime, Utc};
        let now: DateTime<Utc> = "2026-06-05T10:10:00Z".parse().unwrap();
        let body = r#"<?xml version="1.0" encoding="ISO-8859-1"?>
<pdv_liste>
  <pdv id="1000001" latitude="4620114" longitude="519791" cp="01000" pop="R"><adresse>a</adresse><ville>b</ville>
    <horaires automate-24-24="1"><jour id="1" nom="Lundi" ferme=""><horaire ouverture="06.20" fermeture="01.00"/></jour></horaires>
    <services><service>Laverie</service></services>
    <prix nom="Gazole" id="1" maj="2026-06-04 06:55:53" valeur="1.981"/>
    <rupture nom="E85" id="3" debut="2020-03-21 16:13:39" fin="" type="definitive"/>
  </pdv>
  <pdv id="1000002" latitude="4620114" longitude="519791" cp="01000" pop="R"><prix nom="SP98" id="6" maj="2026-06-04 06:55:11" valeur="9.999"/><prix nom="Gazole" id="1" maj="2026-06-04 06:55:53" valeur="1.981"/></pdv>
  <pdv id="1000003" latitude="4620114" longitude="519791" cp="01000" pop="R"><rupture nom="E85" id="3" debut="2020-03-21 16:13:39" fin="2026-06-01 00:00:00" type="definitive"/></pdv>
  <pdv id="1000004" latitude="4620114" longitude="519791" cp="01000" pop="R"><rupture nom="E85" id="3" debut="2020-03-21 16:13:39" fin="2026-07-01 00:00:00" type="definitive"/></pdv>
  <pdv id="1000005" latitude="4620114" longitude="519791" cp="01000" pop="R"><prix/></pdv>
  <pdv id="1000006" latitude="4620114" longitude="519791" cp="01000" pop="R"/>
  <pdv id="1000001" latitude="4620114" longitude="519791" cp="01000" pop="R"><prix nom="SP95" id="2" maj="2026-06-04 06:55:53" valeur="1.881"/></pdv>
  <pdv id="1000007" latitude="0" longitude="519791" cp="01000" pop="R"/>
  <pdv id="1000008" latitude="4620114" longitude="519791" cp="01000" pop="R"><prix nom="E10" id="5" maj="2026-06-04 06:55:53" valeur="1.781"/></pdv>
</pdv_liste>
"#;
        let mut first = Vec::new();
        let o1 = super::super::parse_sieved_at(body.as_bytes(), ParseAll, now, |s| first.push(s)).unwrap();
        let vouched: Vec<(i64, Option<i64>)> = first.iter().map(|s| (s.id.get(), s.raw_hash.map(|_| 0))).collect();
        assert_eq!(
            vouched,
            [
                (1000001, Some(0)),
                (1000002, None),
                (1000003, None),
                (1000004, None),
                (1000005, None),
                (1000006, Some(0)),
                (1000001, Some(0)),
                (1000008, Some(0))
            ]
        );

        struct Known(Vec<(i64, i64)>, usize);
        impl RawSieve for Known {
            fn judge(&mut self, pdv: &RawPdv, _: bool) -> Verdict {
                if self.0.contains(&(pdv.id, pdv.hash)) {
                    self.1 += 1;
                    Verdict::Skip
                } else {
                    Verdict::Parse
                }
            }
        }
        let known: Vec<(i64, i64)> = first.iter().filter_map(|s| s.raw_hash.map(|h| (s.id.get(), h))).collect();
        let mut second = Vec::new();
        let mut sieve = Known(known, 0);
        let o2 = super::super::parse_sieved_at(body.as_bytes(), &mut sieve, now, |s| second.push(s)).unwrap();
        // Both 1000001 are dropped: this sieve knows both elements (the loader's drops a later one as seen).
        assert_eq!(sieve.1, 4);
        assert_eq!(
            (o2.stations, o2.price_elements, o2.shortage_elements),
            (o1.stations, o1.price_elements, o1.shortage_elements)
        );
        assert_eq!((o2.has_shortages, o2.kind, o2.rejections.len()), (o1.has_shortages, o1.kind, o1.rejections.len()));
        let kept: Vec<_> = first.iter().filter(|s| s.raw_hash.is_none()).cloned().collect();
        assert_eq!(second, kept);
    }

    /// A reader that hands `data` out in pieces ending at `cuts` (and at its end).
    struct Pieces<'a> {
        data: &'a [u8],
        cuts: Vec<usize>,
        at: usize,
    }

    impl<'a> Pieces<'a> {
        fn new(data: &'a [u8], mut cuts: Vec<usize>) -> Self {
            cuts.retain(|&c| c > 0 && c < data.len());
            cuts.push(data.len());
            Pieces { data, cuts, at: 0 }
        }
    }

    impl Read for Pieces<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            crate::feed::text::read_buffered(self, buf)
        }
    }

    impl BufRead for Pieces<'_> {
        fn fill_buf(&mut self) -> io::Result<&[u8]> {
            let end = self.cuts.iter().copied().find(|&c| c > self.at).unwrap_or(self.at);
            Ok(&self.data[self.at..end])
        }
        fn consume(&mut self, amt: usize) {
            self.at += amt;
        }
    }

    /// A document with what the filter must follow as quick-xml does: a byte order mark,
    /// instructions and comments around the root (one holding a `<pdv>`), quotes holding `>`
    /// and `<`, references, non-ASCII text, white space in tags, a `<pdv>` deeper than the
    /// root's children, one with a comment and CDATA holding markup inside, one with no valid id.
    const DOC: &str = "\u{feff}<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n\
<!-- before <pdv id=\"1000009\"></pdv> --><?pi <pdv>?>\n\
<pdv_liste>\n\
  <pdv id=\"1000001\" latitude=\"1\" a='x>y' b=\"<\">\n\
    <adresse>a &lt;b&gt; c</adresse><ville>Évry &amp; co</ville>\n\
    <prix nom=\"Gazole\" id=\"1\" maj=\"2026-06-04 06:55:53\" valeur=\"1.981\"/>\n\
    <rupture nom=\"E85\" id=\"3\"/><prix nom=\"E10\" id=\"5\"></prix>\n\
  </pdv>\n\
  <pdv id=\"1000002\"/>\n\
  <x><pdv id=\"1000003\"></pdv></x>\n\
  <pdv id=\"1000004\"><!-- odd --><adresse><![CDATA[a <b> ]] c]]></adresse></pdv>\n\
  <pdv  id = \"1000005\" ><services><service>a</service></services></pdv >\n\
  <pdv id=\"abc\"><prix/></pdv>\n\
  <pdv id='1000006'>text &#233; only</pdv>\n\
</pdv_liste>\n\
<!-- after -->\n";

    /// quick-xml's view of `doc`: where each `<pdv>` child of the root starts and ends.
    fn quick_xml_pdvs(doc: &[u8]) -> Vec<(u64, u64)> {
        use quick_xml::events::Event;
        let mut r = quick_xml::Reader::from_reader(doc);
        r.config_mut().check_end_names = true;
        let (mut buf, mut depth, mut open, mut out) = (Vec::new(), 0u32, None, Vec::new());
        loop {
            buf.clear();
            let start = r.buffer_position();
            match r.read_event_into(&mut buf).unwrap() {
                Event::Eof => return out,
                Event::Start(e) => {
                    if depth == 1 && e.name().into_inner() == "pdv" {
                        open = Some(start);
                    }
                    depth += 1;
                }
                Event::Empty(e) if depth == 1 && e.name().into_inner() == "pdv" => {
                    out.push((start, r.buffer_position()));
                }
                Event::End(_) => {
                    depth -= 1;
                    if depth == 1
                        && let Some(s) = open.take()
                    {
                        out.push((s, r.buffer_position()));
                    }
                }
                _ => {}
            }
        }
    }

    /// Records what it is asked, and says `verdict` (after `waits` times [`Verdict::Wait`]
    /// whenever waiting is allowed).
    struct Record {
        seen: Vec<RawPdv>,
        verdict: Verdict,
        waits: usize,
    }

    impl RawSieve for Record {
        fn judge(&mut self, pdv: &RawPdv, may_wait: bool) -> Verdict {
            if may_wait && self.waits > 0 {
                self.waits -= 1;
                return Verdict::Wait;
            }
            self.seen.push(*pdv);
            self.verdict
        }
    }

    fn run_filter(doc: &[u8], cuts: Vec<usize>, verdict: Verdict, waits: usize) -> (Vec<u8>, Vec<RawPdv>, Shared) {
        let shared = Rc::new(RefCell::new(Shared::default()));
        let mut sieve = Record { seen: Vec::new(), verdict, waits };
        let mut out = Vec::new();
        Filter::new(Pieces::new(doc, cuts), &mut sieve, Rc::clone(&shared)).read_to_end(&mut out).unwrap();
        let shared = std::mem::take(&mut *shared.borrow_mut());
        (out, sieve.seen, shared)
    }

    /// Every split of the document in two, and in pieces of 1 to 9 bytes: the filter finds the
    /// `<pdv>` children of the root exactly where quick-xml finds them (but the one holding a
    /// comment, passed on tag by tag, and the one whose id is no station's), hashes those bytes,
    /// and either passes everything on or drops exactly those elements.
    #[test]
    fn every_split_finds_the_elements_quick_xml_finds() {
        let doc = DOC.as_bytes();
        let spans = quick_xml_pdvs(doc);
        assert_eq!(spans.len(), 6, "{spans:?}");
        // quick-xml's positions leave the byte order mark out.
        let bom = 3;
        let text = |s: &(u64, u64)| &doc[bom + s.0 as usize..bom + s.1 as usize];
        let judged: Vec<(u64, u64)> = spans
            .iter()
            .copied()
            .filter(|s| {
                let t = String::from_utf8_lossy(text(s)).into_owned();
                !t.contains("1000004") && !t.contains("\"abc\"")
            })
            .collect();
        assert_eq!(judged.len(), 4);
        let expected: Vec<RawPdv> = judged
            .iter()
            .zip([(1000001, 2, 1), (1000002, 0, 0), (1000005, 0, 0), (1000006, 0, 0)])
            .map(|(s, (id, prices, shortages))| RawPdv { id, hash: raw_hash(text(s)), prices, shortages })
            .collect();
        let mut without = Vec::new();
        let mut from = 0;
        for s in &judged {
            without.extend_from_slice(&doc[from..bom + s.0 as usize]);
            from = bom + s.1 as usize;
        }
        without.extend_from_slice(&doc[from..]);

        let mut splits: Vec<Vec<usize>> = (0..=doc.len()).map(|c| vec![c]).collect();
        splits.extend((1..10).map(|n| (0..doc.len()).step_by(n).collect()));
        for cuts in splits {
            let (out, seen, shared) = run_filter(doc, cuts.clone(), Verdict::Parse, 0);
            assert_eq!(out, doc, "cuts {cuts:?}");
            assert_eq!(seen, expected, "cuts {cuts:?}");
            let regions: Vec<(u64, u64)> = shared.regions.iter().map(|r| (r.start, r.end)).collect();
            assert_eq!(regions, judged, "cuts {cuts:?}");

            for waits in [0, 3] {
                let (out, seen, shared) = run_filter(doc, cuts.clone(), Verdict::Skip, waits);
                assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&without), "cuts {cuts:?}");
                assert_eq!(seen, expected, "cuts {cuts:?}");
                assert_eq!(shared.dropped.stations, 4);
                // Positions after a dropped element are told in the document's bytes.
                let last = judged[3];
                let filtered_end = out.len() as u64 - (doc.len() as u64 - bom as u64 - last.1) - bom as u64;
                assert_eq!(shared.unfiltered(filtered_end), last.1);
                assert_eq!(shared.unfiltered(0), 0);
            }
        }
    }

    /// A damaged document is refused as the parser alone refuses it, at the same place in the
    /// document, whatever the filter dropped before the damage.
    #[test]
    fn errors_after_dropped_elements_are_the_parsers() {
        use crate::feed::FeedError;
        use chrono::{DateTime, Utc};
        // Skips the two first stations, as a sieve that stored them from an earlier file would:
        // only bytes that parsed once are ever skipped, so a damaged element is never judged
        // the same as a stored one.
        struct SkipTwo;
        impl RawSieve for SkipTwo {
            fn judge(&mut self, pdv: &RawPdv, _: bool) -> Verdict {
                if pdv.id <= 1000002 { Verdict::Skip } else { Verdict::Parse }
            }
        }
        let now: DateTime<Utc> = "2026-06-05T10:10:00Z".parse().unwrap();
        let head = "<?xml version=\"1.0\"?>\n<pdv_liste>\n  <pdv id=\"1000001\" latitude=\"4620114\" longitude=\"519791\"><prix/></pdv>\n  <pdv id=\"1000002\" latitude=\"4620114\" longitude=\"519791\"/>\n";
        for tail in [
            "  <a></b>\n</pdv_liste>\n",
            "  <pdv id=\"1000003\"><x></y></pdv>\n</pdv_liste>\n",
            "</pdv_liste>\n<pdv id=\"1000004\"/>",
            "</pdv_liste>\ntext",
            "  <pdv id=\"1000005\" latitude=\"4620114\" longitude=\"519791\"></pdv>\n",
            "  <pdv id=\"1000005\" latitude=\"4620114\"",
        ] {
            let doc = format!("{head}{tail}");
            let alone = super::super::parse_sieved_at(doc.as_bytes(), ParseAll, now, |_| {}).unwrap_err();
            let dropped = super::super::parse_sieved_at(doc.as_bytes(), SkipTwo, now, |_| {}).unwrap_err();
            assert_eq!(format!("{dropped:?}"), format!("{alone:?}"), "{tail}");
            if let FeedError::Xml { position, .. } = alone {
                assert!(position as usize > head.len(), "{tail}: {position}");
            }
        }
    }
}
