//! A station and what it sells: `<pdv>` attributes, `<prix>`, `<rupture>`.

use std::borrow::Cow;

use quick_xml::events::BytesStart;

use super::maj::maj_to_utc;
use super::{Fatal, Parser, Station, attrs};
use crate::domain::{Fuel, Price, RoadType, ShortageKind, StationId, paris_local_to_utc};
use crate::feed::model::{FeedKind, FeedPrice, FeedShortage, FeedStation};
use crate::feed::text;

impl Parser {
    pub(super) fn begin_station(&mut self, e: &BytesStart<'_>) -> Result<(), Fatal> {
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
                raw_hash: None,
            },
            price_fuels: 0,
            start: self.event.0,
            rejections: self.outcome.rejections.len(),
            price_elements: self.outcome.price_elements,
            shortage_elements: self.outcome.shortage_elements,
            ends_later: false,
        });
        Ok(())
    }

    pub(super) fn finish_station(&mut self, on_station: &mut impl FnMut(FeedStation)) {
        if let Some(mut st) = self.cur.take() {
            st.s.raw_hash = self.raw_hash_of(&st);
            self.outcome.stations += 1;
            on_station(st.s);
        }
    }

    /// The hash of the station's `<pdv>` element as the raw filter passed it on, when dropping
    /// those bytes unparsed later is the same as parsing them: the element is exactly the
    /// filter's region, every `<prix>` and `<rupture>` it counted became a price or a shortage,
    /// nothing was rejected, the file is still a snapshot, and no shortage ends later than now.
    /// Once the file is an archive, the filter is told to stop judging.
    fn raw_hash_of(&self, st: &Station) -> Option<i64> {
        let mut shared = self.shared.borrow_mut();
        if self.outcome.kind != FeedKind::Snapshot {
            shared.archive = true;
            return None;
        }
        let pdv = shared.take(st.start, self.event.1)?;
        let plain = pdv.id == st.s.id.get()
            && !st.ends_later
            && self.outcome.rejections.len() == st.rejections
            && self.outcome.price_elements - st.price_elements == pdv.prices
            && st.s.prices.len() == pdv.prices
            && self.outcome.shortage_elements - st.shortage_elements == pdv.shortages
            && st.s.shortages.len() == pdv.shortages;
        plain.then_some(pdv.hash)
    }

    pub(super) fn prix(&mut self, e: &BytesStart<'_>) -> Result<(), Fatal> {
        let (mut nom, mut id, mut maj, mut valeur) = (None, None, None, None);
        let mut any = false;
        if let Some(fast) = prix_attributes(e.attributes_raw()) {
            any = fast.any;
            [nom, id, maj, valeur] = fast.values.map(|v| v.map(Cow::Borrowed));
        } else {
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
        }
        if !any {
            return Ok(()); // pre-2015 `<prix/>`: no price, not an element worth counting
        }
        self.outcome.price_elements += 1;
        let updated_at = maj.as_deref().map(maj_to_utc);
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

    pub(super) fn rupture(&mut self, e: &BytesStart<'_>) -> Result<(), Fatal> {
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
        let end = fin.as_deref().filter(|f| !f.trim().is_empty()).and_then(|f| paris_local_to_utc(f).ok());
        if end.is_some_and(|f| f <= now) {
            return Ok(());
        }
        st.ends_later |= end.is_some();
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

/// The fuel of a `<prix>` or `<rupture>`: the numeric id is authoritative, the name a fallback.
pub(super) fn fuel_of(id: Option<&str>, nom: Option<&str>) -> Option<Fuel> {
    id.and_then(|i| i.trim().parse::<i64>().ok()).and_then(Fuel::from_id).or_else(|| nom.and_then(|n| n.parse().ok()))
}

/// The attributes of a `<prix>` read straight from the tag's text: `nom`, `id`, `maj`,
/// `valeur`, and whether it had any attribute.
struct PrixAttributes<'a> {
    values: [Option<&'a str>; 4],
    any: bool,
}

/// Reads the `name="value"` pairs of a `<prix>` tag (3.5 million of them in a yearly archive,
/// where quick-xml's general attribute iterator was a seventh of the parse). Values are taken
/// raw, as the iterator gives them. Anything of another shape (no quotes, no `=`, a `<` in a
/// value, a name with odd characters) returns `None`, and the caller reads the tag with
/// quick-xml, which reports what is wrong with it.
fn prix_attributes(raw: &str) -> Option<PrixAttributes<'_>> {
    let b = raw.as_bytes();
    let mut out = PrixAttributes { values: [None; 4], any: false };
    let mut i = 0;
    let skip_space = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    loop {
        i = skip_space(i);
        if i == b.len() {
            return Some(out);
        }
        let start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-' || b[i] == b'_') {
            i += 1;
        }
        let name = &b[start..i];
        i = skip_space(i);
        if name.is_empty() || b.get(i) != Some(&b'=') {
            return None;
        }
        i = skip_space(i + 1);
        let quote = *b.get(i).filter(|&&q| q == b'"' || q == b'\'')?;
        let from = i + 1;
        i = from;
        while i < b.len() && b[i] != quote {
            if b[i] == b'<' {
                return None;
            }
            i += 1;
        }
        if i == b.len() {
            return None;
        }
        // Both ends are ASCII quotes: character boundaries.
        let value = &raw[from..i];
        i += 1;
        if i < b.len() && !b[i].is_ascii_whitespace() {
            return None; // `a="1"b="2"`: quick-xml's to judge
        }
        out.any = true;
        let slot = match name {
            b"nom" => 0,
            b"id" => 1,
            b"maj" => 2,
            b"valeur" => 3,
            _ => continue,
        };
        out.values[slot] = Some(value);
    }
}

#[cfg(test)]
mod prix_tests {
    use quick_xml::events::Event;
    use quick_xml::reader::Reader;

    use super::prix_attributes;

    /// What quick-xml's iterator reads from the same tag (without the duplicate check).
    fn general(tag: &str) -> Option<([Option<String>; 4], bool)> {
        let mut r = Reader::from_str(tag);
        let Ok(Event::Empty(e)) = r.read_event() else { panic!("{tag}") };
        let mut it = e.attributes();
        it.with_checks(false);
        let mut out: [Option<String>; 4] = Default::default();
        let mut any = false;
        for a in it {
            let a = a.ok()?;
            any = true;
            let slot = match a.key.into_inner() {
                "nom" => 0,
                "id" => 1,
                "maj" => 2,
                "valeur" => 3,
                _ => continue,
            };
            out[slot] = Some(a.value.into_owned());
        }
        Some((out, any))
    }

    #[test]
    fn reads_what_quick_xml_reads() {
        for tag in [
            r#"<prix nom="Gazole" id="1" maj="2022-01-03T10:24:18" valeur="1.572"/>"#,
            r#"<prix/>"#,
            r#"<prix />"#,
            "<prix\tnom='SP98'  id = \"6\"\nmaj=\"2014-01-02 08:00:00\" valeur=\"1589\" />",
            r#"<prix nom="E10" id="5" valeur="" maj="2022-01-03 10:24:18" autre="x"/>"#,
            r#"<prix valeur="1.5" valeur="1.6"/>"#,
            r#"<prix nom="Gazole&amp;" id="1"/>"#,
        ] {
            let tag_raw = &tag[5..tag.len() - 2];
            let fast = prix_attributes(tag_raw).unwrap_or_else(|| panic!("fast path refused {tag}"));
            let fast = (fast.values.map(|v| v.map(str::to_owned)), fast.any);
            assert_eq!(Some(fast), general(tag), "{tag}");
        }
        // Shapes left to quick-xml (which reports or reads them itself).
        for raw in [" nom=Gazole", " nom", " =\"1\"", " nom=\"Gazole", " a=\"1\"b=\"2\"", " a=\"<\"", " n&m=\"1\""] {
            assert!(prix_attributes(raw).is_none(), "{raw:?}");
        }
    }
}
