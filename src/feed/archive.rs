//! Sniffs what a file is (ZIP, XML, HTML, garbage) from its bytes, never its name, and extracts
//! the XML with size caps.
//!
//! People rename files and servers send error pages with a 200, so the first bytes decide.
//! A ZIP entry is decompressed as a stream (a yearly archive holds ~500 MB of XML) through a
//! reader that counts the bytes it *actually* produces: the sizes a ZIP declares are never
//! trusted for the caps, so a ZIP bomb stops at the cap with a few hundred KB of memory.
//! The CRC and the declared size are checked when the entry has been read to its end, so a
//! damaged archive is an error and never a shorter document.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read, Seek, SeekFrom, Take};

use chrono::{DateTime, NaiveDate, Utc};
use flate2::Crc;
use flate2::bufread::DeflateDecoder;
use zip::{CompressionMethod, ZipArchive};

use super::error::FeedError;
use super::model::FeedKind;

/// Caps on what a feed file may cost. Checked on real byte counts, never on declared sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The file as downloaded (ZIP or XML).
    pub max_input_bytes: u64,
    /// The XML once decompressed.
    pub max_xml_bytes: u64,
    /// Decompressed bytes per compressed byte. The real XML compresses ~12:1; a bomb reaches
    /// 1000:1. Not enforced on the first [`RATIO_GRACE_BYTES`], where tiny test archives of
    /// repetitive text legitimately exceed it.
    pub max_ratio: u64,
}

/// Output allowed before [`Limits::max_ratio`] applies.
pub const RATIO_GRACE_BYTES: u64 = 1 << 20;

impl Default for Limits {
    /// 256 MiB in, 2 GiB of XML out (a yearly archive is ~500 MB), ratio 100.
    fn default() -> Limits {
        Limits { max_input_bytes: 256 << 20, max_xml_bytes: 2 << 30, max_ratio: 100 }
    }
}

/// What the first bytes say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    Zip,
    Xml,
}

/// Tells a ZIP from an XML document from an HTML error page from anything else.
pub fn sniff(bytes: &[u8]) -> Result<Sniffed, FeedError> {
    if bytes.starts_with(b"PK\x03\x04") {
        return Ok(Sniffed::Zip);
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = body.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(body.len());
    let body = &body[start..];
    if body.is_empty() {
        return Err(FeedError::Empty);
    }
    let head = |n: usize| &body[..body.len().min(n)];
    if head(14).eq_ignore_ascii_case(b"<!DOCTYPE html") || head(5).eq_ignore_ascii_case(b"<html") {
        return Err(FeedError::Html);
    }
    if body.starts_with(b"<") {
        return Ok(Sniffed::Xml);
    }
    Err(FeedError::NotAFeed(format!(
        "unrecognised content, first bytes: {}",
        hex::encode(&bytes[..bytes.len().min(16)])
    )))
}

/// The feed kind a ZIP entry's name suggests (a hint only: the parser decides from content).
pub fn kind_hint(entry_name: &str) -> Option<FeedKind> {
    let n = entry_name.to_ascii_lowercase();
    if n.contains("instantane") {
        Some(FeedKind::Snapshot)
    } else if ["quotidien", "annuel", "jour", "annee"].iter().any(|w| n.contains(w)) {
        Some(FeedKind::Archive)
    } else {
        None
    }
}

/// The XML of a feed file, as a stream of raw bytes (still in the file's encoding).
pub struct FeedReader<'a> {
    /// The ZIP entry read, `None` for a bare XML file.
    pub entry_name: Option<String>,
    /// The ZIP entry's modification time: the publisher writes it in UTC, and it is the best
    /// capture time a snapshot has.
    pub entry_time: Option<DateTime<Utc>>,
    inner: Inner<'a>,
}

enum Inner<'a> {
    /// A bare XML file is read in place: no copy.
    Plain(&'a [u8]),
    /// A bare XML file read from disk ([`open_file`]).
    Stream(BufReader<Box<dyn Read + Send>>),
    Zip(BufReader<CheckedEntry<'a>>),
}

impl std::fmt::Debug for FeedReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedReader")
            .field("entry_name", &self.entry_name)
            .field("entry_time", &self.entry_time)
            .finish_non_exhaustive()
    }
}

impl Read for FeedReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.inner {
            Inner::Plain(s) => s.read(buf),
            Inner::Stream(r) => r.read(buf),
            Inner::Zip(r) => r.read(buf),
        }
    }
}

impl BufRead for FeedReader<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        match &mut self.inner {
            Inner::Plain(s) => Ok(s),
            Inner::Stream(r) => r.fill_buf(),
            Inner::Zip(r) => r.fill_buf(),
        }
    }

    fn consume(&mut self, amt: usize) {
        match &mut self.inner {
            Inner::Plain(s) => *s = &s[amt.min(s.len())..],
            Inner::Stream(r) => r.consume(amt),
            Inner::Zip(r) => r.consume(amt),
        }
    }
}

/// Opens a feed file: sniffs it, and for a ZIP finds the `.xml` entry and streams it out.
///
/// Errors from the stream itself (a cap reached, a CRC mismatch) come through `Read` as an
/// `io::Error` carrying the [`FeedError`]; [`FeedError::from_io`] gets it back.
pub fn open<'a>(bytes: &'a [u8], limits: &Limits) -> Result<FeedReader<'a>, FeedError> {
    if bytes.is_empty() {
        return Err(FeedError::Empty);
    }
    if bytes.len() as u64 > limits.max_input_bytes {
        return Err(FeedError::TooLarge { what: "the downloaded file", cap: limits.max_input_bytes });
    }
    match sniff(bytes)? {
        Sniffed::Xml => {
            if bytes.len() as u64 > limits.max_xml_bytes {
                return Err(FeedError::TooLarge { what: "the XML document", cap: limits.max_xml_bytes });
            }
            Ok(FeedReader { entry_name: None, entry_time: None, inner: Inner::Plain(bytes) })
        }
        Sniffed::Zip => open_zip(bytes, limits),
    }
}

fn zip_err(e: impl std::fmt::Display) -> FeedError {
    FeedError::Zip(e.to_string())
}

fn open_zip<'a>(bytes: &'a [u8], limits: &Limits) -> Result<FeedReader<'a>, FeedError> {
    let entry = xml_entry(Cursor::new(bytes))?;
    let data = entry_data(bytes, entry.header_start, entry.compressed)?;
    let source = Source::of(entry.method, data, Source::Stored, Source::Deflate)?;
    Ok(entry.reader(source, data.len() as u64, limits))
}

/// Opens a feed file on disk as [`open`] opens bytes, reading it as a stream: only the ZIP's
/// central directory and a 64 KB buffer are in memory, never the whole file (a yearly archive
/// is 27 MB zipped). The same checks, caps and errors as [`open`].
pub fn open_file(mut file: File, limits: &Limits) -> Result<FeedReader<'static>, FeedError> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Err(FeedError::Empty);
    }
    if len > limits.max_input_bytes {
        return Err(FeedError::TooLarge { what: "the downloaded file", cap: limits.max_input_bytes });
    }
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    (&mut file).take(SNIFF_BYTES as u64).read_to_end(&mut head)?;
    match sniff(&head)? {
        Sniffed::Xml => {
            if len > limits.max_xml_bytes {
                return Err(FeedError::TooLarge { what: "the XML document", cap: limits.max_xml_bytes });
            }
            let rest: Box<dyn Read + Send> = Box::new(Cursor::new(head).chain(file));
            Ok(FeedReader {
                entry_name: None,
                entry_time: None,
                inner: Inner::Stream(BufReader::with_capacity(64 * 1024, rest)),
            })
        }
        Sniffed::Zip => {
            let entry = xml_entry(BufReader::new(&mut file))?;
            let truncated = || FeedError::Zip("the archive is truncated (entry data missing)".into());
            let mut header = [0u8; 30];
            file.seek(SeekFrom::Start(entry.header_start))?;
            file.read_exact(&mut header).map_err(|_| truncated())?;
            let start = data_start(&header, entry.header_start)?;
            if start.checked_add(entry.compressed).is_none_or(|end| end > len) {
                return Err(truncated());
            }
            file.seek(SeekFrom::Start(start))?;
            let data = BufReader::with_capacity(64 * 1024, file.take(entry.compressed));
            let source = Source::of(entry.method, data, Source::StoredFile, Source::DeflateFile)?;
            let compressed = entry.compressed;
            Ok(entry.reader(source, compressed, limits))
        }
    }
}

/// Bytes read from a file to tell what it is ([`sniff`]).
const SNIFF_BYTES: usize = 64 * 1024;

/// What a ZIP's central directory says of its XML entry (the first `.xml` file in it).
struct XmlEntry {
    name: String,
    time: Option<DateTime<Utc>>,
    header_start: u64,
    compressed: u64,
    method: CompressionMethod,
    size: u64,
    crc: u32,
}

fn xml_entry<R: Read + Seek>(reader: R) -> Result<XmlEntry, FeedError> {
    let archive = ZipArchive::new(reader).map_err(zip_err)?;
    let mut chosen = None;
    for i in 0..archive.len() {
        let entry = archive.by_index_data(i).map_err(zip_err)?;
        let name = entry.name().map_err(zip_err)?;
        if !entry.is_dir() && name.to_ascii_lowercase().ends_with(".xml") {
            chosen = Some(i);
            break;
        }
    }
    let index = chosen.ok_or(FeedError::NoXmlInZip)?;
    let entry = archive.by_index_data(index).map_err(zip_err)?;
    if entry.encrypted() {
        return Err(FeedError::Zip("the XML entry is encrypted".into()));
    }
    let name = entry.name().map_err(zip_err)?.into_owned();
    let time = entry.last_modified().and_then(|t| {
        NaiveDate::from_ymd_opt(t.year().into(), t.month().into(), t.day().into())?
            .and_hms_opt(t.hour().into(), t.minute().into(), t.second().into())
            .map(|n| n.and_utc())
    });
    Ok(XmlEntry {
        name,
        time,
        header_start: entry.header_start(),
        compressed: entry.compressed_size(),
        method: entry.compression(),
        size: entry.size(),
        crc: entry.crc32(),
    })
}

impl XmlEntry {
    /// The entry's XML through the caps and checks of [`CheckedEntry`]; `compressed`: the
    /// bytes of `source`, for the ratio cap.
    fn reader<'a>(self, source: Source<'a>, compressed: u64, limits: &Limits) -> FeedReader<'a> {
        let ratio_cap = limits.max_ratio.saturating_mul(compressed).max(RATIO_GRACE_BYTES);
        let checked = CheckedEntry {
            source,
            crc: Crc::new(),
            produced: 0,
            max_xml_bytes: limits.max_xml_bytes,
            ratio_cap,
            expected_size: self.size,
            expected_crc: self.crc,
            done: false,
        };
        FeedReader {
            entry_name: Some(self.name),
            entry_time: self.time,
            inner: Inner::Zip(BufReader::with_capacity(64 * 1024, checked)),
        }
    }
}

/// Where an entry's data starts: after its local header (`header`, its first 30 bytes, read at
/// `header_start`), whose name and extra field lengths may differ from the central directory's.
fn data_start(header: &[u8], header_start: u64) -> Result<u64, FeedError> {
    if !header.starts_with(b"PK\x03\x04") || header.len() < 30 {
        return Err(FeedError::Zip("bad local header signature".into()));
    }
    let name_len = u64::from(u16::from_le_bytes([header[26], header[27]]));
    let extra_len = u64::from(u16::from_le_bytes([header[28], header[29]]));
    Ok(header_start + 30 + name_len + extra_len)
}

/// The compressed bytes of an entry: after its local header, whose name and extra field
/// lengths may differ from the central directory's.
fn entry_data(bytes: &[u8], header_start: u64, compressed: u64) -> Result<&[u8], FeedError> {
    let truncated = || FeedError::Zip("the archive is truncated (entry data missing)".into());
    let start = usize::try_from(header_start).map_err(|_| truncated())?;
    let header = bytes.get(start..start.saturating_add(30)).ok_or_else(truncated)?;
    let data_start = usize::try_from(data_start(header, header_start)?).map_err(|_| truncated())?;
    let len = usize::try_from(compressed).map_err(|_| truncated())?;
    bytes.get(data_start..data_start.checked_add(len).ok_or_else(truncated)?).ok_or_else(truncated)
}

enum Source<'a> {
    Stored(&'a [u8]),
    /// Boxed: the inflate state is large and the reader is moved around.
    Deflate(Box<DeflateDecoder<&'a [u8]>>),
    /// The same, read from a file ([`open_file`]).
    StoredFile(BufReader<Take<File>>),
    DeflateFile(Box<DeflateDecoder<BufReader<Take<File>>>>),
}

impl<'a> Source<'a> {
    /// The entry's `data` read through its compression `method`: stored or deflated (the only
    /// two the feed's archives use), wrapped by `stored` or `deflated` into this enum's variant
    /// for the reader at hand (bytes in memory or a file).
    fn of<R: BufRead>(
        method: CompressionMethod,
        data: R,
        stored: fn(R) -> Source<'a>,
        deflated: fn(Box<DeflateDecoder<R>>) -> Source<'a>,
    ) -> Result<Source<'a>, FeedError> {
        match method {
            CompressionMethod::Stored => Ok(stored(data)),
            CompressionMethod::Deflated => Ok(deflated(Box::new(DeflateDecoder::new(data)))),
            other => Err(FeedError::Zip(format!("unsupported compression method {other:?}"))),
        }
    }
}

/// Decompresses one entry, counting and checksumming what it really produces.
struct CheckedEntry<'a> {
    source: Source<'a>,
    crc: Crc,
    produced: u64,
    max_xml_bytes: u64,
    ratio_cap: u64,
    expected_size: u64,
    expected_crc: u32,
    done: bool,
}

impl Read for CheckedEntry<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        let corrupt = |e: io::Error| FeedError::Zip(format!("corrupt compressed data: {e}")).into_io();
        let n = match &mut self.source {
            Source::Stored(s) => s.read(buf)?,
            Source::StoredFile(s) => s.read(buf)?,
            Source::Deflate(d) => d.read(buf).map_err(corrupt)?,
            Source::DeflateFile(d) => d.read(buf).map_err(corrupt)?,
        };
        if n == 0 {
            self.done = true;
            if self.produced != self.expected_size {
                return Err(FeedError::Zip(format!(
                    "the XML entry ends after {} bytes, {} expected (truncated archive?)",
                    self.produced, self.expected_size
                ))
                .into_io());
            }
            if self.crc.sum() != self.expected_crc {
                return Err(FeedError::Zip(format!(
                    "CRC mismatch: {:08x} computed, {:08x} expected",
                    self.crc.sum(),
                    self.expected_crc
                ))
                .into_io());
            }
            return Ok(0);
        }
        self.produced += n as u64;
        if self.produced > self.max_xml_bytes {
            self.done = true;
            return Err(FeedError::TooLarge { what: "the decompressed XML", cap: self.max_xml_bytes }.into_io());
        }
        if self.produced > self.ratio_cap {
            self.done = true;
            return Err(
                FeedError::TooLarge { what: "the decompressed XML (compression ratio)", cap: self.ratio_cap }.into_io()
            );
        }
        self.crc.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;

    use super::*;

    /// A ZIP holding `entries`, deflated, with a fixed modification time.
    pub(crate) fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let t = zip::DateTime::from_date_and_time(2026, 6, 5, 10, 10, 0).unwrap();
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .last_modified_time(t);
        for (name, data) in entries {
            w.start_file(*name, opts).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    /// The XML of a feed file, read by [`open`]; [`open_file`] must read the same bytes from
    /// a file holding them, or fail with the same message.
    fn read_all(bytes: &[u8], limits: &Limits) -> Result<Vec<u8>, FeedError> {
        fn drain(r: Result<FeedReader<'_>, FeedError>) -> Result<Vec<u8>, FeedError> {
            let mut out = Vec::new();
            r?.read_to_end(&mut out).map_err(FeedError::from_io)?;
            Ok(out)
        }
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(bytes).unwrap();
        file.rewind().unwrap();
        let from_file = drain(open_file(file, limits)).map_err(|e| e.to_string());
        let in_memory = drain(open(bytes, limits));
        assert_eq!(in_memory.as_ref().map_err(ToString::to_string), from_file.as_ref().map_err(Clone::clone));
        in_memory
    }

    const XML: &[u8] = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<pdv_liste></pdv_liste>\n";

    #[test]
    fn sniffs_from_bytes() {
        assert_eq!(sniff(XML).unwrap(), Sniffed::Xml);
        assert_eq!(sniff(b"\xEF\xBB\xBF \n<pdv_liste/>").unwrap(), Sniffed::Xml);
        assert_eq!(sniff(b"PK\x03\x04rest").unwrap(), Sniffed::Zip);
        assert!(matches!(sniff(b""), Err(FeedError::Empty)));
        assert!(matches!(sniff(b"  \n "), Err(FeedError::Empty)));
        assert!(matches!(sniff(b"\n<!doctype HTML><html>"), Err(FeedError::Html)));
        assert!(matches!(sniff(b"<HTML><body>"), Err(FeedError::Html)));
        match sniff(b"\x1f\x8b\x08\x00gzip") {
            Err(FeedError::NotAFeed(m)) => assert!(m.contains("1f8b0800"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(open(b"", &Limits::default()), Err(FeedError::Empty)));
    }

    #[test]
    fn kind_hints() {
        assert_eq!(kind_hint("PrixCarburants_instantane_ruptures.xml"), Some(FeedKind::Snapshot));
        assert_eq!(kind_hint("PrixCarburants_quotidien_20240101.xml"), Some(FeedKind::Archive));
        assert_eq!(kind_hint("PrixCarburants_annuel_2024.xml"), Some(FeedKind::Archive));
        assert_eq!(kind_hint("feed.xml"), None);
    }

    #[test]
    fn plain_xml_is_read_in_place() {
        let r = open(XML, &Limits::default()).unwrap();
        assert_eq!(r.entry_name, None);
        assert_eq!(read_all(XML, &Limits::default()).unwrap(), XML);
    }

    #[test]
    fn zip_picks_the_xml_entry_and_its_time() {
        let z = zip_of(&[("readme.txt", b"hello"), ("Prix_INSTANTANE.XML", XML)]);
        let r = open(&z, &Limits::default()).unwrap();
        assert_eq!(r.entry_name.as_deref(), Some("Prix_INSTANTANE.XML"));
        assert_eq!(r.entry_time.unwrap().to_rfc3339(), "2026-06-05T10:10:00+00:00");
        assert_eq!(read_all(&z, &Limits::default()).unwrap(), XML);
        let none = zip_of(&[("readme.txt", b"hello")]);
        assert!(matches!(open(&none, &Limits::default()), Err(FeedError::NoXmlInZip)));
    }

    #[test]
    fn damaged_zips_are_errors() {
        let big: Vec<u8> = (0..200_000u32).flat_map(|i| format!("<pdv id=\"{i}\"/>\n").into_bytes()).collect();
        let z = zip_of(&[("a.xml", &big)]);
        // Cut anywhere: never Ok.
        for cut in [10, 100, z.len() / 2, z.len() - 30, z.len() - 1] {
            assert!(read_all(&z[..cut], &Limits::default()).is_err(), "cut {cut}");
        }
        // A flipped byte in the compressed data: a Zip error (inflate or CRC), never Ok.
        let mut flipped = z.clone();
        let mid = 200;
        flipped[mid] ^= 0x01;
        assert!(matches!(read_all(&flipped, &Limits::default()), Err(FeedError::Zip(_))));
        // A wrong CRC in both headers with intact data: detected at the end.
        let mut bad_crc = z.clone();
        for sig in [b"PK\x03\x04".as_slice(), b"PK\x01\x02".as_slice()] {
            let at = bad_crc.windows(4).position(|w| w == sig).unwrap();
            let crc_at = if sig[2] == 3 { at + 14 } else { at + 16 };
            bad_crc[crc_at] ^= 0xFF;
        }
        match read_all(&bad_crc, &Limits::default()) {
            Err(FeedError::Zip(m)) => assert!(m.contains("CRC"), "{m}"),
            other => panic!("{:?}", other.map(|v| v.len())),
        }
    }

    #[test]
    fn zip_bomb_stops_at_the_cap() {
        // 64 MiB of zeros deflate to ~64 KB: ratio ~1000.
        let zeros = vec![0u8; 64 << 20];
        let z = zip_of(&[("bomb.xml", &zeros)]);
        let started = std::time::Instant::now();
        match read_all(&z, &Limits::default()) {
            Err(FeedError::TooLarge { what, .. }) => assert!(what.contains("ratio")),
            other => panic!("{:?}", other.map(|v| v.len())),
        }
        let tight = Limits { max_xml_bytes: 1 << 20, max_ratio: 10_000, ..Limits::default() };
        assert!(matches!(
            read_all(&z, &tight),
            Err(FeedError::TooLarge { cap, .. }) if cap == 1 << 20
        ));
        assert!(started.elapsed().as_secs() < 10);
        let small_in = Limits { max_input_bytes: 10, ..Limits::default() };
        assert!(matches!(open(XML, &small_in), Err(FeedError::TooLarge { .. })));
    }
}
