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

use std::io::BufRead;

use chrono::{DateTime, Utc};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::error::FeedError;
use super::model::{FeedKind, FeedPrice, FeedShortage, FeedStation, ParsedFeed};
use super::text::{self, DeclaredEncoding, Transcoder};
use crate::domain::{
    DayHours, Fuel, OpeningHours, Price, Rejection, RoadType, ShortageKind, StationId, TimeSlot, paris_local_to_utc,
};

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
    let source = BufSource { reader: Reader::from_reader(Transcoder::new(reader)), buf: Vec::with_capacity(4096) };
    run(source, now, on_station)
}

/// Where events come from (a trait so that another reader, e.g. one borrowing from a decoded
/// document, can be plugged in without touching the parser).
trait Source {
    fn next_event(&mut self) -> quick_xml::Result<Event<'_>>;
    fn reader_config(&mut self) -> &mut quick_xml::reader::Config;
    fn error_position(&self) -> u64;
    fn buffer_position(&self) -> u64;
}

/// A buffered stream: each event is copied into `buf`, reused.
struct BufSource<R> {
    reader: Reader<Transcoder<R>>,
    buf: Vec<u8>,
}

impl<R: BufRead> Source for BufSource<R> {
    fn next_event(&mut self) -> quick_xml::Result<Event<'_>> {
        self.buf.clear();
        self.reader.read_event_into(&mut self.buf)
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
        outcome: ParseOutcome {
            kind: FeedKind::Snapshot,
            has_shortages: false,
            stations: 0,
            price_elements: 0,
            shortage_elements: 0,
            rejections: Vec::new(),
            latest_maj: None,
        },
    };
    loop {
        let event = match src.next_event() {
            Ok(e) => e,
            Err(e) => {
                let position = src.error_position();
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
            Err(f) => return Err(f.at(src.buffer_position())),
        }
    }
    if !p.root_done {
        return Err(FeedError::Truncated);
    }
    Ok(p.outcome)
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
}

/// A station being built, plus what the kind detection needs.
struct Station {
    s: FeedStation,
    /// Fuels (bit = id) that already had a `<prix>`: a second one makes the file an archive.
    price_fuels: u8,
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

    fn begin_station(&mut self, e: &BytesStart<'_>) -> Result<(), Fatal> {
        let (mut id, mut lat, mut lon, mut cp, mut pop) = (None, None, None, None, None);
        for a in attrs(e) {
            let a = a?;
            match a.key.into_inner() {
                "id" => id = Some(a.value),
                "latitude" => lat = Some(a.value),
                "longitude" => lon = Some(a.value),
                "cp" => cp = Some(a.value),
                "pop" => pop = Some(a.value),
                _ => {}
            }
        }
        self.cur = None;
        let Some(raw_id) = id else {
            self.reject(None, None, "", "station without id".into());
            return Ok(());
        };
        let Some(sid) = StationId::parse(&raw_id) else {
            self.reject(None, None, &raw_id, "invalid station id".into());
            return Ok(());
        };
        let lat = coordinate(lat.as_deref(), 90.0);
        let lon = coordinate(lon.as_deref(), 180.0);
        let (latitude, longitude) = match (lat, lon) {
            (Ok(a), Ok(o)) => (a, o),
            (Err((raw, why)), _) => {
                self.reject(Some(sid), None, &raw, format!("latitude {why}"));
                return Ok(());
            }
            (_, Err((raw, why))) => {
                self.reject(Some(sid), None, &raw, format!("longitude {why}"));
                return Ok(());
            }
        };
        self.cur = Some(Station {
            s: FeedStation {
                id: sid,
                latitude,
                longitude,
                postcode: cp.map(|c| text::clean(&c)).unwrap_or_default(),
                city: String::new(),
                address: String::new(),
                road_type: pop.map_or(RoadType::Unknown, |p| RoadType::from_feed(&p)),
                automate_24_24: false,
                opening_hours: None,
                // Sized for a typical station: no regrowth on the hot path.
                services: Vec::with_capacity(8),
                prices: Vec::with_capacity(6),
                shortages: Vec::new(),
            },
            price_fuels: 0,
        });
        Ok(())
    }

    fn finish_station(&mut self, on_station: &mut impl FnMut(FeedStation)) {
        if let Some(st) = self.cur.take() {
            self.outcome.stations += 1;
            on_station(st.s);
        }
    }

    fn horaires(&mut self, e: &BytesStart<'_>) -> Result<(), Fatal> {
        let mut automate = false;
        for a in attrs(e) {
            let a = a?;
            if a.key.into_inner() == "automate-24-24" {
                automate = a.value.trim() == "1";
            }
        }
        if let Some(st) = &mut self.cur {
            st.s.automate_24_24 = automate;
            st.s.opening_hours.get_or_insert_with(OpeningHours::default);
        }
        Ok(())
    }

    fn jour(&mut self, e: &BytesStart<'_>) -> Result<(), Fatal> {
        let (mut id, mut nom, mut ferme) = (None, None, None);
        for a in attrs(e) {
            let a = a?;
            match a.key.into_inner() {
                "id" => id = Some(a.value),
                "nom" => nom = Some(a.value),
                "ferme" => ferme = Some(a.value),
                _ => {}
            }
        }
        let Some(st) = &mut self.cur else {
            return Ok(());
        };
        let day = id
            .as_deref()
            .and_then(|i| i.trim().parse::<u8>().ok())
            .filter(|d| (1..=7).contains(d))
            .or_else(|| nom.as_deref().and_then(day_from_name));
        let sid = st.s.id;
        match day {
            Some(day) => {
                st.s.opening_hours.get_or_insert_with(OpeningHours::default).days.push(DayHours {
                    day,
                    closed: ferme.is_some_and(|f| f.trim() == "1"),
                    slots: Vec::new(),
                });
            }
            None => {
                let raw = format!("id={} nom={}", id.as_deref().unwrap_or(""), nom.as_deref().unwrap_or(""));
                self.reject(Some(sid), None, &raw, "unknown day in <horaires>".into());
            }
        }
        Ok(())
    }

    fn horaire(&mut self, e: &BytesStart<'_>) -> Result<(), Fatal> {
        let (mut open, mut close) = (None, None);
        for a in attrs(e) {
            let a = a?;
            match a.key.into_inner() {
                "ouverture" => open = Some(a.value),
                "fermeture" => close = Some(a.value),
                _ => {}
            }
        }
        let Some(st) = &mut self.cur else {
            return Ok(());
        };
        let sid = st.s.id;
        let slot = match (open.as_deref().and_then(clock), close.as_deref().and_then(clock)) {
            (Some(open), Some(close)) => TimeSlot { open, close },
            _ => {
                let raw = format!("{}-{}", open.as_deref().unwrap_or(""), close.as_deref().unwrap_or(""));
                self.reject(Some(sid), None, &raw, "invalid opening time".into());
                return Ok(());
            }
        };
        if let Some(day) = st.s.opening_hours.as_mut().and_then(|h| h.days.last_mut()) {
            day.slots.push(slot);
        }
        Ok(())
    }

    fn ouverture(&mut self, e: &BytesStart<'_>) -> Result<(), Fatal> {
        let (mut debut, mut fin, mut sauf) = (None, None, None);
        for a in attrs(e) {
            let a = a?;
            match a.key.into_inner() {
                "debut" | "début" => debut = Some(a.value),
                "fin" => fin = Some(a.value),
                "saufjour" => sauf = Some(a.value),
                _ => {}
            }
        }
        let Some(st) = &mut self.cur else {
            return Ok(());
        };
        if debut.is_none() && fin.is_none() && sauf.is_none() {
            return Ok(());
        }
        let closed: Vec<u8> =
            sauf.as_deref().unwrap_or("").split([',', ';', ' ', '/']).filter_map(day_from_name).collect();
        let slot = match (debut.as_deref().and_then(clock), fin.as_deref().and_then(clock)) {
            (Some(open), Some(close)) => Some(TimeSlot { open, close }),
            _ => None,
        };
        let sid = st.s.id;
        let hours = st.s.opening_hours.get_or_insert_with(OpeningHours::default);
        if hours.days.is_empty() {
            hours.days = (1..=7).map(|day| DayHours { day, closed: false, slots: Vec::new() }).collect();
        }
        for d in &mut hours.days {
            if closed.contains(&d.day) {
                d.closed = true;
                d.slots.clear();
            } else if let Some(slot) = slot {
                d.slots.push(slot);
            }
        }
        if slot.is_none() {
            let raw = format!("{}-{}", debut.as_deref().unwrap_or(""), fin.as_deref().unwrap_or(""));
            self.reject(Some(sid), None, &raw, "invalid opening time".into());
        }
        Ok(())
    }

    fn prix(&mut self, e: &BytesStart<'_>) -> Result<(), Fatal> {
        let (mut nom, mut id, mut maj, mut valeur) = (None, None, None, None);
        let mut any = false;
        for a in attrs(e) {
            let a = a?;
            any = true;
            match a.key.into_inner() {
                "nom" => nom = Some(a.value),
                "id" => id = Some(a.value),
                "maj" => maj = Some(a.value),
                "valeur" => valeur = Some(a.value),
                _ => {}
            }
        }
        if !any {
            return Ok(()); // pre-2015 `<prix/>`: no price, not an element worth counting
        }
        self.outcome.price_elements += 1;
        let updated_at = maj.as_deref().map(paris_local_to_utc);
        if let Some(Ok(t)) = updated_at {
            self.outcome.latest_maj = self.outcome.latest_maj.max(Some(t));
        }
        let Some(st) = &mut self.cur else {
            return Ok(());
        };
        let sid = st.s.id;
        let Some(fuel) = fuel_of(id.as_deref(), nom.as_deref()) else {
            let raw = format!("id={} nom={}", id.as_deref().unwrap_or(""), nom.as_deref().unwrap_or(""));
            self.reject(Some(sid), None, &raw, "unknown fuel".into());
            return Ok(());
        };
        let bit = 1u8 << fuel.id();
        if st.price_fuels & bit != 0 {
            self.outcome.kind = FeedKind::Archive;
        }
        st.price_fuels |= bit;
        let Some(valeur) = valeur else {
            self.reject(Some(sid), Some(fuel), "", "price without valeur".into());
            return Ok(());
        };
        let price = match Price::parse_feed(&valeur).and_then(|p| p.validate_for(fuel)) {
            Ok(p) => p,
            Err(why) => {
                self.reject(Some(sid), Some(fuel), &valeur, why.to_string());
                return Ok(());
            }
        };
        let updated_at = match updated_at {
            Some(Ok(t)) => t,
            Some(Err(why)) => {
                self.reject(Some(sid), Some(fuel), &maj.unwrap_or_default(), why.to_string());
                return Ok(());
            }
            None => {
                self.reject(Some(sid), Some(fuel), &valeur, "price without maj".into());
                return Ok(());
            }
        };
        st.s.prices.push(FeedPrice { fuel, price, updated_at });
        Ok(())
    }

    fn rupture(&mut self, e: &BytesStart<'_>) -> Result<(), Fatal> {
        let (mut nom, mut id, mut debut, mut fin, mut kind) = (None, None, None, None, None);
        let mut any = false;
        for a in attrs(e) {
            let a = a?;
            any = true;
            match a.key.into_inner() {
                "nom" => nom = Some(a.value),
                "id" => id = Some(a.value),
                "debut" => debut = Some(a.value),
                // The pre-2015 files spell it with an accent.
                "début" => {
                    self.outcome.kind = FeedKind::Archive;
                    debut = Some(a.value);
                }
                "fin" => fin = Some(a.value),
                "type" => kind = Some(a.value),
                _ => {}
            }
        }
        if !any {
            return Ok(()); // `<rupture/>`: nothing out of stock
        }
        self.outcome.has_shortages = true;
        self.outcome.shortage_elements += 1;
        let now = self.now;
        let Some(st) = &mut self.cur else {
            return Ok(());
        };
        let sid = st.s.id;
        let Some(fuel) = fuel_of(id.as_deref(), nom.as_deref()) else {
            let raw = format!("id={} nom={}", id.as_deref().unwrap_or(""), nom.as_deref().unwrap_or(""));
            self.reject(Some(sid), None, &raw, "unknown fuel in <rupture>".into());
            return Ok(());
        };
        let ended = fin
            .as_deref()
            .filter(|f| !f.trim().is_empty())
            .and_then(|f| paris_local_to_utc(f).ok())
            .is_some_and(|f| f <= now);
        if ended {
            return Ok(());
        }
        let kind = kind.map_or(ShortageKind::Unknown, |k| ShortageKind::from_feed(&k));
        let since = debut.as_deref().filter(|d| !d.trim().is_empty()).and_then(|d| paris_local_to_utc(d).ok());
        match st.s.shortages.iter_mut().find(|s| s.fuel == fuel) {
            Some(prev) => {
                if kind.rank() > prev.kind.rank() {
                    prev.kind = kind;
                }
                prev.since = match (prev.since, since) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            None => st.s.shortages.push(FeedShortage { fuel, kind, since }),
        }
        Ok(())
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

/// Degrees from the feed's degrees × 100000 (`4409679.8967498`, `-152562`).
fn coordinate(raw: Option<&str>, max: f64) -> Result<f64, (String, &'static str)> {
    let raw = raw.ok_or((String::new(), "missing"))?;
    let v: f64 = raw.trim().parse().map_err(|_| (raw.to_owned(), "is not a number"))?;
    if !v.is_finite() {
        return Err((raw.to_owned(), "is not a number"));
    }
    // A literal zero means "unknown": no station sits within a metre of the equator, and one
    // exactly on the Greenwich meridian to 1e-5 degree is not worth the wrong pin it would be.
    if v == 0.0 {
        return Err((raw.to_owned(), "is zero"));
    }
    let deg = v / 100_000.0;
    if deg.abs() > max {
        return Err((raw.to_owned(), "is out of range"));
    }
    Ok(deg)
}

/// Minutes since midnight from `06.30`, `06:30`, `6h30`. `24.00` is midnight (0), which the
/// slot rules read as "closes at the end of the day".
fn clock(raw: &str) -> Option<u16> {
    let (h, m) = raw.trim().split_once(['.', ':', 'h', 'H'])?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let h: u16 = h.parse().ok()?;
    let m: u16 = m.parse().ok()?;
    match (h, m) {
        (24, 0) => Some(0),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

fn day_from_name(raw: &str) -> Option<u8> {
    const DAYS: [&str; 7] = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"];
    let n = raw.trim().to_lowercase();
    DAYS.iter().position(|d| *d == n).and_then(|i| u8::try_from(i + 1).ok())
}

/// The fuel of a `<prix>` or `<rupture>`: the numeric id is authoritative, the name a fallback.
fn fuel_of(id: Option<&str>, nom: Option<&str>) -> Option<Fuel> {
    id.and_then(|i| i.trim().parse::<i64>().ok()).and_then(Fuel::from_id).or_else(|| nom.and_then(|n| n.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn clock_formats() {
        assert_eq!(clock("06.30"), Some(390));
        assert_eq!(clock("06:30"), Some(390));
        assert_eq!(clock("6h30"), Some(390));
        assert_eq!(clock("23.59"), Some(1439));
        assert_eq!(clock("24.00"), Some(0));
        for bad in ["", "25.00", "12.60", "1230", "12.3", "ab.cd", "-1.00"] {
            assert_eq!(clock(bad), None, "{bad}");
        }
        assert_eq!(day_from_name(" Dimanche"), Some(7));
        assert_eq!(fuel_of(Some("x"), Some("gplc")), Some(Fuel::GPLc));
    }
}
