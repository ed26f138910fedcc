//! The feed parser: bytes of XML in, validated [`ParsedFeed`] out. Pure: no I/O, no database.
//!
//! One pass over quick-xml events, streaming: a yearly archive never sits whole in memory, and
//! each complete `<pdv>` is handed to a callback. The raw bytes first go through
//! [`Transcoder`] (see `text.rs`: ISO-8859-1 with UTF-8 mojibake → UTF-8), then only the values
//! kept are cleaned (references, white space).
//!
//! Rules, in the order a station meets them:
//! - a station whose `id` or coordinates are missing, unparsable, zero or out of range is not
//!   loaded: it becomes a [`Rejection`] and parsing goes on;
//! - a price whose fuel is unknown, whose value is not a number or implausible for its fuel
//!   (placeholders `0.001`/`9.999`, typos `7.849`), or whose `maj` is not a date is a
//!   [`Rejection`]; the station's other data still loads. An empty `<prix/>` (pre-2015) is not
//!   a price element at all and is ignored;
//! - a `<rupture>` whose `fin` is a date already past is over, not a current shortage; a fuel
//!   listed twice is merged (the more definite kind, the earlier start);
//! - pre-2015 `<ouverture debut fin saufjour>` becomes seven [`DayHours`]: the days named in
//!   `saufjour` are closed, the others open on the one `debut`–`fin` slot (`01:00`–`01:00`, the
//!   old "always open" convention, is kept as the same full-day slot the new schema writes).
//!   `automate_24_24` is false: the old schema does not say;
//! - the document must be exactly one `<pdv_liste>`: another root is [`FeedError::WrongRoot`],
//!   an end of file before `</pdv_liste>` is [`FeedError::Truncated`] (a cut file must never
//!   load as a shorter valid one), markup or text after it is an error.

use std::cell::RefCell;
use std::io::BufRead;
use std::rc::Rc;

use chrono::{DateTime, Utc};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::error::FeedError;
use super::model::{FeedKind, FeedStation, ParsedFeed};
use super::text::{self, DeclaredEncoding, Transcoder};
use crate::domain::{Fuel, Rejection, StationId};

mod hours;
mod maj;
mod pdv;
mod raw;

pub use raw::{ParseAll, RawPdv, RawSieve, Verdict, raw_hash};

/// What a streaming parse reports once the document is complete (the stations went to the
/// callback).
#[derive(Debug, Clone)]
pub struct ParseOutcome {
    /// [`FeedKind::Archive`] if any station had two `<prix>` for one fuel, or if the document
    /// uses the pre-2015 schema (`<ouverture>`, `<fermeture>`): those files are daily extracts,
    /// and a partial file read as a snapshot would make every absent station look closed.
    pub kind: FeedKind,
    /// Whether any `<rupture>` carrying attributes was seen (the `instantane_ruptures` flavour).
    pub has_shortages: bool,
    /// Stations handed to the callback (rejected ones are not counted).
    pub stations: usize,
    /// `<prix>` elements with attributes, valid or not.
    pub price_elements: usize,
    /// `<rupture>` elements with attributes, merged, ended or not.
    pub shortage_elements: usize,
    pub rejections: Vec<Rejection>,
    /// The latest valid `maj` of any `<prix>` (even one rejected for its value or its station):
    /// the capture time of a file that carries no other (a bare XML file).
    pub latest_maj: Option<DateTime<Utc>>,
    /// `<pdv>` elements dropped unparsed by the sieve (counted in `stations` too).
    pub skipped: usize,
}

/// Parses a whole document held in memory (fixtures, a snapshot) and collects everything.
///
/// Same path as [`parse_stream`]: decoding the whole document first and letting quick-xml
/// borrow events from it was measured no faster (the 14 MB copy costs as much in page faults
/// as the per-event copies it saves) and doubles the memory.
pub fn parse(xml: &[u8]) -> Result<ParsedFeed, FeedError> {
    let mut stations = Vec::new();
    let o = parse_stream(xml, |s| stations.push(s))?;
    Ok(ParsedFeed {
        kind: o.kind,
        has_shortages: o.has_shortages,
        stations,
        rejections: o.rejections,
        price_elements: o.price_elements,
    })
}

/// Streams a document, calling `on_station` once per complete, valid `<pdv>`.
///
/// `reader` gives the raw bytes (for a ZIP, [`crate::feed::archive::open`]); the positions in
/// [`FeedError::Xml`] count bytes of the document decoded to UTF-8, which equal file offsets
/// up to the first non-ASCII byte and stay close after it.
///
/// Ruptures are judged ended against the current time; see [`parse_stream_at`].
pub fn parse_stream<R: BufRead>(reader: R, on_station: impl FnMut(FeedStation)) -> Result<ParseOutcome, FeedError> {
    parse_stream_at(reader, Utc::now(), on_station)
}

/// [`parse_stream`] with an explicit "now": a `<rupture fin>` at or before it is over.
/// Deterministic, for tests.
pub fn parse_stream_at<R: BufRead>(
    reader: R,
    now: DateTime<Utc>,
    on_station: impl FnMut(FeedStation),
) -> Result<ParseOutcome, FeedError> {
    parse_sieved_at(reader, ParseAll, now, on_station)
}

/// [`parse_stream`], with the `<pdv>` elements that `sieve` judges unchanged dropped before they
/// are parsed (see `raw.rs`): they count in the outcome's stations, prices and shortages as
/// parsed ones would, but add nothing to [`ParseOutcome::latest_maj`].
pub fn parse_stream_sieved<R: BufRead>(
    reader: R,
    sieve: impl RawSieve,
    on_station: impl FnMut(FeedStation),
) -> Result<ParseOutcome, FeedError> {
    parse_sieved_at(reader, sieve, Utc::now(), on_station)
}

/// [`parse_stream_sieved`] with an explicit "now".
pub fn parse_sieved_at<R: BufRead>(
    reader: R,
    sieve: impl RawSieve,
    now: DateTime<Utc>,
    on_station: impl FnMut(FeedStation),
) -> Result<ParseOutcome, FeedError> {
    let shared = Rc::new(RefCell::new(raw::Shared::default()));
    let filter = raw::Filter::new(Transcoder::new(reader), sieve, Rc::clone(&shared));
    let source = BufSource { reader: Reader::from_reader(filter), buf: Vec::with_capacity(4096) };
    run(source, now, shared, on_station)
}

/// Where events come from (a trait so that another reader, e.g. one borrowing from a decoded
/// document, can be plugged in without touching the parser).
trait Source {
    /// The next event, and the stream positions where it starts and ends.
    fn next_event(&mut self) -> quick_xml::Result<(Event<'_>, u64, u64)>;
    fn reader_config(&mut self) -> &mut quick_xml::reader::Config;
    fn error_position(&self) -> u64;
    fn buffer_position(&self) -> u64;
}

/// A buffered stream: each event is copied into `buf`, reused.
struct BufSource<B> {
    reader: Reader<B>,
    buf: Vec<u8>,
}

impl<B: BufRead> Source for BufSource<B> {
    fn next_event(&mut self) -> quick_xml::Result<(Event<'_>, u64, u64)> {
        self.buf.clear();
        let start = self.reader.buffer_position();
        let event = self.reader.read_event_into(&mut self.buf)?;
        Ok((event, start, self.reader.buffer_position()))
    }
    fn reader_config(&mut self) -> &mut quick_xml::reader::Config {
        self.reader.config_mut()
    }
    fn error_position(&self) -> u64 {
        self.reader.error_position()
    }
    fn buffer_position(&self) -> u64 {
        self.reader.buffer_position()
    }
}

fn run(
    mut src: impl Source,
    now: DateTime<Utc>,
    shared: Rc<RefCell<raw::Shared>>,
    mut on_station: impl FnMut(FeedStation),
) -> Result<ParseOutcome, FeedError> {
    {
        let c = src.reader_config();
        c.check_end_names = true;
        c.expand_empty_elements = false;
        c.trim_text(false);
    }
    let mut p = Parser {
        now,
        stack: Vec::with_capacity(8),
        root_done: false,
        cur: None,
        text: String::with_capacity(256),
        shared,
        event: (0, 0),
        outcome: ParseOutcome {
            kind: FeedKind::Snapshot,
            has_shortages: false,
            stations: 0,
            price_elements: 0,
            shortage_elements: 0,
            rejections: Vec::new(),
            latest_maj: None,
            skipped: 0,
        },
    };
    loop {
        let event = match src.next_event() {
            Ok((e, start, end)) => {
                p.event = (start, end);
                e
            }
            Err(e) => {
                let position = p.shared.borrow().unfiltered(src.error_position());
                return Err(xml_error(&e, position));
            }
        };
        let bad = |message: String| Fatal::Xml(message);
        let step: Result<bool, Fatal> = (|| {
            match event {
                Event::Eof => return Ok(false),
                Event::Decl(d) => {
                    if let Some(enc) = d.encoding() {
                        let enc = enc.map_err(|e| bad(e.to_string()))?;
                        if DeclaredEncoding::from_label(&enc).is_none() {
                            return Err(Fatal::Encoding(enc.into_owned()));
                        }
                    }
                }
                Event::Start(e) => p.start(&e, false, &mut on_station)?,
                Event::Empty(e) => p.start(&e, true, &mut on_station)?,
                Event::End(_) => p.end(&mut on_station),
                Event::Text(t) => {
                    if p.collecting() {
                        p.text.push_str(&t);
                    } else if p.stack.is_empty() && !t.trim().is_empty() {
                        return Err(bad("text outside the root element".into()));
                    }
                }
                Event::GeneralRef(r) => {
                    if p.collecting() {
                        p.text.push('&');
                        p.text.push_str(&r);
                        p.text.push(';');
                    } else if p.stack.is_empty() {
                        return Err(bad("text outside the root element".into()));
                    }
                }
                Event::CData(c) => {
                    if p.collecting() {
                        // Literal text: escape `&` so that `clean` gives it back unchanged.
                        p.text.push_str(&c.replace('&', "&amp;"));
                    } else if p.stack.is_empty() {
                        return Err(bad("CDATA outside the root element".into()));
                    }
                }
                Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
            }
            Ok(true)
        })();
        match step {
            Ok(true) => {}
            Ok(false) => break,
            Err(f) => return Err(f.at(p.shared.borrow().unfiltered(src.buffer_position()))),
        }
    }
    if !p.root_done {
        return Err(FeedError::Truncated);
    }
    let dropped = p.shared.borrow().dropped;
    let mut outcome = p.outcome;
    outcome.stations += dropped.stations;
    outcome.skipped = dropped.stations;
    outcome.price_elements += dropped.prices;
    outcome.shortage_elements += dropped.shortages;
    outcome.has_shortages |= dropped.shortages > 0;
    Ok(outcome)
}

fn xml_error(e: &quick_xml::Error, position: u64) -> FeedError {
    use quick_xml::errors::SyntaxError;
    match e {
        quick_xml::Error::Io(io) => FeedError::from_io_ref(io),
        // quick-xml reports these only when the input ends inside the construct.
        quick_xml::Error::Syntax(
            SyntaxError::UnclosedTag
            | SyntaxError::UnclosedComment
            | SyntaxError::UnclosedCData
            | SyntaxError::UnclosedDoctype
            | SyntaxError::UnclosedPI
            | SyntaxError::UnclosedXmlDecl
            | SyntaxError::UnclosedSingleQuotedAttributeValue
            | SyntaxError::UnclosedDoubleQuotedAttributeValue,
        ) => FeedError::Truncated,
        other => FeedError::Xml { position, message: other.to_string() },
    }
}

/// A document-level error found by the parser itself, positioned by the event loop.
enum Fatal {
    Xml(String),
    WrongRoot(String),
    Encoding(String),
}

impl Fatal {
    fn at(self, position: u64) -> FeedError {
        match self {
            Fatal::Xml(message) => FeedError::Xml { position, message },
            Fatal::WrongRoot(name) => FeedError::WrongRoot(name),
            Fatal::Encoding(label) => FeedError::Encoding(label),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Root,
    Pdv,
    Adresse,
    Ville,
    Horaires,
    Jour,
    Services,
    Service,
    Other,
}

struct Parser {
    now: DateTime<Utc>,
    stack: Vec<Tag>,
    root_done: bool,
    /// The station being read; `None` inside a rejected `<pdv>`.
    cur: Option<Station>,
    /// Raw text of the element being collected (`adresse`, `ville`, `service`).
    text: String,
    outcome: ParseOutcome,
    /// What the raw filter passed on and dropped.
    shared: Rc<RefCell<raw::Shared>>,
    /// Where the event being handled starts and ends in the filtered stream.
    event: (u64, u64),
}

/// A station being built, plus what the kind detection needs.
struct Station {
    s: FeedStation,
    /// Fuels (bit = id) that already had a `<prix>`: a second one makes the file an archive.
    price_fuels: u8,
    /// Where its `<pdv>` starts, and the outcome's counts then: whether its element's raw hash
    /// may be kept ([`Parser::raw_hash_of`]).
    start: u64,
    rejections: usize,
    price_elements: usize,
    shortage_elements: usize,
    /// A `<rupture>` ends later than now: the same bytes will read otherwise then.
    ends_later: bool,
}

impl Parser {
    fn collecting(&self) -> bool {
        matches!(self.stack.last(), Some(Tag::Adresse | Tag::Ville | Tag::Service))
    }

    fn reject(&mut self, station: Option<StationId>, fuel: Option<Fuel>, value: &str, why: String) {
        self.outcome.rejections.push(Rejection {
            station_id: station,
            fuel,
            value: value.chars().take(200).collect(),
            reason: why,
        });
    }

    fn start(
        &mut self,
        e: &BytesStart<'_>,
        empty: bool,
        on_station: &mut impl FnMut(FeedStation),
    ) -> Result<(), Fatal> {
        let name = e.name().into_inner();
        let Some(&parent) = self.stack.last() else {
            if self.root_done {
                return Err(Fatal::Xml(format!("element <{name}> after the end of the root element")));
            }
            if name != "pdv_liste" {
                return Err(Fatal::WrongRoot(name.chars().take(100).collect()));
            }
            if empty {
                self.root_done = true;
            } else {
                self.stack.push(Tag::Root);
            }
            return Ok(());
        };
        let tag = match (parent, name) {
            (Tag::Root, "pdv") => {
                self.begin_station(e)?;
                if empty {
                    self.finish_station(on_station);
                    return Ok(());
                }
                Tag::Pdv
            }
            (Tag::Pdv, "adresse") | (Tag::Pdv, "ville") | (Tag::Services, "service") => {
                self.text.clear();
                let tag = match name {
                    "adresse" => Tag::Adresse,
                    "ville" => Tag::Ville,
                    _ => Tag::Service,
                };
                if empty {
                    self.stack.push(tag);
                    self.end(on_station);
                    return Ok(());
                }
                tag
            }
            (Tag::Pdv, "services") => Tag::Services,
            (Tag::Pdv, "horaires") => {
                self.horaires(e)?;
                Tag::Horaires
            }
            (Tag::Horaires, "jour") => {
                self.jour(e)?;
                Tag::Jour
            }
            (Tag::Jour, "horaire") => {
                self.horaire(e)?;
                Tag::Other
            }
            (Tag::Pdv, "prix") => {
                self.prix(e)?;
                Tag::Other
            }
            (Tag::Pdv, "rupture") => {
                self.rupture(e)?;
                Tag::Other
            }
            (Tag::Pdv, "ouverture") => {
                self.outcome.kind = FeedKind::Archive;
                self.ouverture(e)?;
                Tag::Other
            }
            (Tag::Pdv, "fermeture") => {
                self.outcome.kind = FeedKind::Archive;
                Tag::Other
            }
            _ => Tag::Other,
        };
        if !empty {
            self.stack.push(tag);
        }
        Ok(())
    }

    fn end(&mut self, on_station: &mut impl FnMut(FeedStation)) {
        let Some(tag) = self.stack.pop() else {
            return;
        };
        match tag {
            Tag::Root => self.root_done = true,
            Tag::Pdv => self.finish_station(on_station),
            Tag::Adresse | Tag::Ville | Tag::Service => {
                let value = text::clean(&self.text);
                self.text.clear();
                if let Some(st) = &mut self.cur {
                    match tag {
                        Tag::Adresse => st.s.address = value,
                        Tag::Ville => st.s.city = value,
                        _ if !value.is_empty() => st.s.services.push(value),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
}

/// The attributes of an element, without the duplicate check (it allocates, and a duplicate
/// attribute in this feed would only mean the last one wins).
fn attrs<'a>(
    e: &'a BytesStart<'_>,
) -> impl Iterator<Item = Result<quick_xml::events::attributes::Attribute<'a>, Fatal>> {
    let mut it = e.attributes();
    it.with_checks(false);
    it.map(|a| a.map_err(|err| Fatal::Xml(format!("malformed attribute: {err}"))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{RoadType, ShortageKind, TimeSlot};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn now() -> DateTime<Utc> {
        at("2026-06-05T10:10:00Z")
    }

    fn run(xml: &[u8]) -> Result<ParsedFeed, FeedError> {
        let mut stations = Vec::new();
        let o = parse_stream_at(xml, now(), |s| stations.push(s))?;
        Ok(ParsedFeed {
            kind: o.kind,
            has_shortages: o.has_shortages,
            stations,
            rejections: o.rejections,
            price_elements: o.price_elements,
        })
    }

    fn doc(body: &str) -> Vec<u8> {
        let mut v = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\" standalone=\"yes\"?>\n<pdv_liste>\n".to_vec();
        v.extend_from_slice(body.as_bytes());
        v.extend_from_slice(b"\n</pdv_liste>\n");
        v
    }

    const ONE: &str = r#"<pdv id="6110002" latitude="4357200" longitude="701600" cp="06110" pop="R">
    <adresse>  Boulevard   Carnot </adresse>
    <ville>Le Cannet</ville>
    <horaires automate-24-24="1">
      <jour id="1" nom="Lundi" ferme=""><horaire ouverture="06.20" fermeture="01.00"/></jour>
      <jour id="2" nom="Mardi" ferme="1"><horaire ouverture="01.00" fermeture="01.00"/></jour>
      <jour id="3" nom="Mercredi" ferme=""><horaire ouverture="07:00" fermeture="12.00"/><horaire ouverture="14.00" fermeture="24.00"/></jour>
    </horaires>
    <services><service>Laverie</service><service> Station de  gonflage</service><service/></services>
    <prix nom="Gazole" id="1" maj="2026-06-04 06:55:53" valeur="1.981"/>
    <prix nom="SP98" id="6" maj="2026-06-04 06:55:11" valeur="9.999"/>
    <prix nom="E10" maj="2026-06-04 06:55:11" valeur="1.999"/>
    <rupture nom="SP95" id="2" debut="2019-01-09 12:12:42" fin="" type="temporaire"/>
    <rupture nom="SP95" id="2" debut="2018-01-09 12:12:42" fin="" type="definitive"/>
    <rupture nom="E85" id="3" debut="2020-03-21 16:13:39" fin="2026-06-01 00:00:00" type="definitive"/>
    <rupture nom="GPLc" id="4" debut="" fin="" type=""/>
    <rupture/>
  </pdv>"#;

    #[test]
    fn one_station_all_rules() {
        let f = run(&doc(ONE)).unwrap();
        assert_eq!(f.kind, FeedKind::Snapshot);
        assert!(f.has_shortages);
        assert_eq!(f.price_elements, 3);
        let s = &f.stations[0];
        assert_eq!(s.id.get(), 6110002);
        assert!((s.latitude - 43.572).abs() < 1e-9);
        assert!((s.longitude - 7.016).abs() < 1e-9);
        assert_eq!(s.postcode, "06110");
        assert_eq!(s.address, "Boulevard Carnot");
        assert_eq!(s.city, "Le Cannet");
        assert_eq!(s.road_type, RoadType::Road);
        assert!(s.automate_24_24);
        assert_eq!(s.services, ["Laverie", "Station de gonflage"]);
        let h = s.opening_hours.as_ref().unwrap();
        assert_eq!(h.days.len(), 3);
        assert_eq!(h.days[0].slots, [TimeSlot { open: 380, close: 60 }]);
        assert!(h.days[0].slots[0].overnight());
        assert!(h.days[1].closed);
        assert_eq!(h.days[1].slots, [TimeSlot { open: 60, close: 60 }]);
        assert_eq!(h.days[2].slots, [TimeSlot { open: 420, close: 720 }, TimeSlot { open: 840, close: 0 }]);
        // Prices: 9.999 rejected, E10 found by name.
        assert_eq!(s.prices.len(), 2);
        assert_eq!(s.prices[0].fuel, Fuel::Gazole);
        assert_eq!(s.prices[0].price.milli(), 1981);
        assert_eq!(s.prices[0].updated_at, at("2026-06-04T04:55:53Z"));
        assert_eq!(s.prices[1].fuel, Fuel::E10);
        assert_eq!(f.rejections.len(), 1);
        let r = &f.rejections[0];
        assert_eq!(r.station_id.map(StationId::get), Some(6110002));
        assert_eq!(r.fuel, Some(Fuel::SP98));
        assert_eq!(r.value, "9.999");
        assert!(r.reason.contains("plausible"), "{}", r.reason);
        // Shortages: SP95 merged (definitive wins, earlier start), E85 over, GPLc unknown.
        assert_eq!(s.shortages.len(), 2);
        assert_eq!(s.shortages[0].fuel, Fuel::SP95);
        assert_eq!(s.shortages[0].kind, ShortageKind::Permanent);
        assert_eq!(s.shortages[0].since, Some(at("2018-01-09T11:12:42Z")));
        assert_eq!(s.shortages[1].fuel, Fuel::GPLc);
        assert_eq!(s.shortages[1].kind, ShortageKind::Unknown);
        assert_eq!(s.shortages[1].since, None);
    }

    #[test]
    fn bad_stations_are_rejected_and_parsing_goes_on() {
        let body = r#"
  <pdv id="" latitude="4357200" longitude="701600" cp="06110" pop="R"><prix nom="Gazole" id="1" maj="2026-06-04 06:55:53" valeur="1.981"/></pdv>
  <pdv id="1000001" latitude="0" longitude="701600" cp="01000" pop="R"/>
  <pdv id="1000002" latitude="abc" longitude="701600" cp="01000" pop="R"/>
  <pdv id="1000003" latitude="4357200" longitude="99999999" cp="01000" pop="R"/>
  <pdv id="1000004" latitude="4357200" cp="01000" pop="R"/>
  <pdv id="1000005" latitude="4409679.8967498" longitude="-152562.5" cp="01000" pop="A"><adresse/><ville/></pdv>"#;
        let f = run(&doc(body)).unwrap();
        assert_eq!(f.stations.len(), 1);
        let s = &f.stations[0];
        assert!((s.latitude - 44.096798967498).abs() < 1e-9);
        assert!((s.longitude + 1.525625).abs() < 1e-9);
        assert_eq!(s.road_type, RoadType::Motorway);
        assert_eq!((s.address.as_str(), s.city.as_str()), ("", ""));
        assert_eq!(s.opening_hours, None);
        assert_eq!(f.rejections.len(), 5);
        assert_eq!(f.rejections[0].station_id, None);
        assert!(f.rejections[1].reason.contains("zero"));
        assert!(f.rejections[2].reason.contains("not a number"));
        assert!(f.rejections[3].reason.contains("range"));
        assert!(f.rejections[4].reason.contains("missing"));
        assert_eq!(f.price_elements, 1);
    }

    #[test]
    fn archive_kind_and_bad_prices() {
        let body = r#"<pdv id="1000001" latitude="4620114" longitude="519791" cp="01000" pop="R">
    <prix nom="Gazole" id="1" maj="2024-01-02 10:00:00" valeur="1.801"/>
    <prix nom="Gazole" id="1" maj="2024-01-01 10:00:00" valeur="1.799"/>
    <prix nom="Mystery" id="9" maj="2024-01-01 10:00:00" valeur="1.799"/>
    <prix nom="SP95" id="2" maj="hier" valeur="1.799"/>
    <prix nom="SP95" id="2" maj="2024-01-01 10:00:00" valeur="abc"/>
    <prix nom="SP98" id="6" maj="2023-11-22 20:00:00" valeur="7.849"/>
    <prix/>
  </pdv>"#;
        let f = run(&doc(body)).unwrap();
        assert_eq!(f.kind, FeedKind::Archive);
        assert_eq!(f.price_elements, 6);
        assert_eq!(f.stations[0].prices.len(), 2);
        assert_eq!(f.stations[0].prices[1].price.milli(), 1799);
        let reasons: Vec<_> = f.rejections.iter().map(|r| r.value.as_str()).collect();
        assert_eq!(reasons, ["id=9 nom=Mystery", "hier", "abc", "7.849"]);
    }

    #[test]
    fn pre_2015_schema() {
        let body = "<pdv id=\"1000002\" latitude=\"4621842\" longitude=\"522767\" cp=\"01000\" pop=\"R\">
    <adresse>16 Avenue de Marboz</adresse>
    <ville>SAINT-DENIS-L\u{e8}S-BOURG</ville>
    <ouverture debut=\"08:45\" fin=\"19:30\" saufjour=\"Samedi, Dimanche\"/>
    <prix nom=\"Gazole\" id=\"1\" maj=\"2014-09-29 12:27:33\" valeur=\"1255\"/>
    <prix/>
    <rupture id=\"3\" nom=\"E85\" d\u{e9}but=\"2009-11-03 12:19:00\" fin=\"\"/>
    <fermeture/>
    <rupture/>
  </pdv>";
        // As UTF-8 (the 2014 extract) and as ISO-8859-1 (the original files).
        let utf8 = doc(body);
        let mut latin1 = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<pdv_liste>\n".to_vec();
        latin1.extend(body.chars().map(|c| c as u32 as u8));
        latin1.extend_from_slice(b"\n</pdv_liste>");
        for xml in [utf8, latin1] {
            let f = run(&xml).unwrap();
            let s = &f.stations[0];
            assert_eq!(s.city, "SAINT-DENIS-LèS-BOURG");
            assert_eq!(s.prices[0].price.milli(), 1255);
            assert_eq!(f.price_elements, 1);
            let h = s.opening_hours.as_ref().unwrap();
            assert_eq!(h.days.len(), 7);
            assert_eq!(h.days[0].slots, [TimeSlot { open: 525, close: 1170 }]);
            assert!(h.days[5].closed && h.days[6].closed && h.days[5].slots.is_empty());
            assert!(!s.automate_24_24);
            assert_eq!(s.shortages.len(), 1);
            assert_eq!(s.shortages[0].since, Some(at("2009-11-03T11:19:00Z")));
            assert!(f.has_shortages);
            assert_eq!(f.kind, FeedKind::Archive);
        }
    }

    #[test]
    fn document_level_errors() {
        assert!(matches!(
            run(b"<html><body/></html>"),
            Err(FeedError::WrongRoot(n)) if n == "html"
        ));
        let full = doc(ONE);
        for cut in [0, 10, 60, 100, full.len() / 2, full.len() - 3, full.len() - 14] {
            assert!(
                matches!(run(&full[..cut]), Err(FeedError::Truncated)),
                "cut at {cut}: {:?}",
                run(&full[..cut]).map(|f| f.stations.len())
            );
        }
        let mut junk = full.clone();
        junk.extend_from_slice(b"<pdv_liste></pdv_liste>");
        assert!(matches!(run(&junk), Err(FeedError::Xml { .. })));
        let mut junk = full.clone();
        junk.extend_from_slice(b"garbage");
        assert!(matches!(run(&junk), Err(FeedError::Xml { .. })));
        let mut ok = full.clone();
        ok.extend_from_slice(b"\n<!-- trailing comment -->\n");
        assert!(run(&ok).is_ok());
        assert!(matches!(run(b"<pdv_liste><pdv id=\"1\"></prix></pdv_liste>"), Err(FeedError::Xml { .. })));
        assert!(matches!(
            run(b"<?xml version=\"1.0\" encoding=\"UTF-16\"?><pdv_liste/>"),
            Err(FeedError::Encoding(e)) if e == "UTF-16"
        ));
        assert!(run(b"\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"UTF-8\"?><pdv_liste/>").is_ok());
        assert!(matches!(run(b""), Err(FeedError::Truncated)));
    }

    #[test]
    fn text_is_decoded_and_cleaned() {
        let body = b"<pdv id=\"92330002\" latitude=\"4877400\" longitude=\"228000\" cp=\"92330\" pop=\"R\">\
            <adresse>77 Avenue \xC3\x89douard Depreux</adresse><ville>SCEAUX</ville>\
            <services><service>Restauration \xe0 emporter</service><service>C&#339;ur &amp; l&#8217;\x80 <![CDATA[a&b]]></service></services></pdv>";
        let mut xml = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><pdv_liste>".to_vec();
        xml.extend_from_slice(body);
        xml.extend_from_slice(b"</pdv_liste>");
        let f = run(&xml).unwrap();
        let s = &f.stations[0];
        assert_eq!(s.address, "77 Avenue Édouard Depreux");
        assert_eq!(s.services, ["Restauration à emporter", "Cœur & l’€ a&b"]);
    }

    #[test]
    fn latest_maj_counts_every_dated_price() {
        // Rejected for its value (9.999) or its station (no id): still evidence of the file's time.
        let body = r#"<pdv id="1000001" latitude="4620114" longitude="519791" cp="01000" pop="R">
    <prix nom="Gazole" id="1" maj="2024-01-02 10:00:00" valeur="1.801"/>
    <prix nom="SP98" id="6" maj="2024-01-03 09:00:00" valeur="9.999"/>
    <prix nom="SP95" id="2" maj="hier" valeur="1.799"/>
  </pdv>
  <pdv latitude="4620114" longitude="519791"><prix nom="E10" id="5" maj="2024-01-02 23:00:00" valeur="1.7"/></pdv>"#;
        let mut stations = Vec::new();
        let o = parse_stream_at(doc(body).as_slice(), now(), |s| stations.push(s)).unwrap();
        assert_eq!(o.latest_maj, Some(at("2024-01-03T08:00:00Z")));
        let o = parse_stream_at(doc("").as_slice(), now(), |_| {}).unwrap();
        assert_eq!(o.latest_maj, None);
    }
}
