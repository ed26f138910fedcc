//! A station and what it sells: `<pdv>` attributes, `<prix>`, `<rupture>`.

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
            },
            price_fuels: 0,
        });
        Ok(())
    }

    pub(super) fn finish_station(&mut self, on_station: &mut impl FnMut(FeedStation)) {
        if let Some(st) = self.cur.take() {
            self.outcome.stations += 1;
            on_station(st.s);
        }
    }

    pub(super) fn prix(&mut self, e: &BytesStart<'_>) -> Result<(), Fatal> {
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
