//! Opening hours: `<horaires>`/`<jour>`/`<horaire>` and the pre-2015 `<ouverture>`.

use quick_xml::events::BytesStart;

use super::{Fatal, Parser, attrs};
use crate::domain::{DayHours, OpeningHours, TimeSlot};

impl Parser {
    pub(super) fn horaires(&mut self, e: &BytesStart<'_>) -> Result<(), Fatal> {
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

    pub(super) fn jour(&mut self, e: &BytesStart<'_>) -> Result<(), Fatal> {
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

    pub(super) fn horaire(&mut self, e: &BytesStart<'_>) -> Result<(), Fatal> {
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

    pub(super) fn ouverture(&mut self, e: &BytesStart<'_>) -> Result<(), Fatal> {
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
}

/// Minutes since midnight from `06.30`, `06:30`, `6h30`. `24.00` is midnight (0), which the
/// slot rules read as "closes at the end of the day".
pub(super) fn clock(raw: &str) -> Option<u16> {
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

pub(super) fn day_from_name(raw: &str) -> Option<u8> {
    const DAYS: [&str; 7] = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"];
    let n = raw.trim().to_lowercase();
    DAYS.iter().position(|d| *d == n).and_then(|i| u8::try_from(i + 1).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Fuel;
    use crate::feed::parse::pdv::fuel_of;

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
