//! What a message says, in its user's language, whatever the channel: a subject, paragraphs
//! (one per trigger), the station page to open, and the rules it concerns (for the
//! unsubscribe link). Computed at delivery time, so names and the digest's figures are current.

use std::collections::BTreeMap;

use crate::db::alert_outbox::{self as q, Job};
use crate::db::{Db, favourites, users};
use crate::domain::{Fuel, Lang, MessageKind, RuleId, RuleKind, StationId, UserId, savings};
use crate::index::places;

use super::outbox::{DigestPayload, Payload};

pub struct Rendered {
    pub subject: String,
    pub paragraphs: Vec<String>,
    /// The station page of the first trigger (ntfy's click URL, the email's button).
    pub click: Option<String>,
    pub rules: Vec<RuleId>,
}

/// How the user names a station: their own name, else its OpenStreetMap name, with the town.
async fn station_name(db: &Db, user_id: UserId, station: StationId) -> Result<String, sqlx::Error> {
    Ok(match q::station_label(db, user_id, station).await? {
        Some((city, own, osm)) => {
            let city = places::title_case(&city);
            match own.filter(|n| !n.trim().is_empty()).or(osm.filter(|n| !n.trim().is_empty())) {
                Some(name) => format!("{name} ({city})"),
                None => city,
            }
        }
        None => format!("#{station}"),
    })
}

fn fuel_name(id: i16) -> &'static str {
    Fuel::from_id(i64::from(id)).map_or("?", Fuel::name)
}

pub async fn render(db: &Db, public_url: &str, job: &Job, now: i64) -> Result<Rendered, sqlx::Error> {
    let lang = Lang::parse(&job.lang).unwrap_or(Lang::Fr);
    let t = lang.texts().alerts;
    match job.message_kind {
        MessageKind::Digest => digest(db, public_url, job, lang, now).await,
        MessageKind::Alert => {
            let p = Payload::parse(&job.payload);
            let mut paragraphs = Vec::with_capacity(p.items.len());
            for it in &p.items {
                let station = station_name(db, job.user_id, it.station).await?;
                let fuel = fuel_name(it.fuel);
                paragraphs.push(match it.kind {
                    RuleKind::Threshold if it.route.is_some() => (t.item_threshold_route)(
                        fuel,
                        &lang.price(it.new),
                        &station,
                        &lang.price(it.threshold.unwrap_or(it.new)),
                        it.route.as_deref().unwrap_or_default(),
                    ),
                    RuleKind::Threshold => (t.item_threshold)(
                        fuel,
                        &lang.price(it.new),
                        &station,
                        &lang.price(it.threshold.unwrap_or(it.new)),
                    ),
                    RuleKind::Drop => (t.item_drop)(fuel, &lang.price(it.old), &lang.price(it.new), &station),
                    _ => (t.item_cheapest)(fuel, &station, &lang.price(it.new)),
                });
            }
            let mut rules: Vec<RuleId> = p.items.iter().map(|i| i.rule).collect();
            rules.sort_unstable();
            rules.dedup();
            Ok(Rendered {
                subject: (t.subject)(p.items.len() as u64),
                paragraphs,
                click: p.items.first().map(|i| format!("{public_url}/stations/{}", i.station)),
                rules,
            })
        }
        MessageKind::Test => Ok(Rendered {
            subject: t.test_subject.to_owned(),
            paragraphs: vec![t.test_text.to_owned()],
            click: Some(format!("{public_url}/me/alerts")),
            rules: Vec::new(),
        }),
    }
}

/// The weekly digest: per followed fuel, the user's stations with the week's change, the
/// cheapest, what filling there saves, and the cheapest weekday when the history allows it.
async fn digest(db: &Db, public_url: &str, job: &Job, lang: Lang, now: i64) -> Result<Rendered, sqlx::Error> {
    let t = lang.texts().alerts;
    let uid = job.user_id;
    let week_ago = now - 7 * 86_400;
    let (fuel_ids, favs, prices, before) = tokio::try_join!(
        users::fuels(db, uid),
        favourites::list(db, uid),
        favourites::prices(db, uid),
        favourites::prices_at(db, uid, week_ago),
    )?;
    let mut paragraphs = vec![t.digest_intro.to_owned()];
    let mut names = BTreeMap::new();
    for f in &favs {
        names.insert(f.station_id, station_name(db, uid, f.station_id).await?);
    }
    for fid in fuel_ids {
        let fuel = fuel_name(fid);
        let mut rows: Vec<(i32, _)> = prices
            .iter()
            .filter(|p| p.fuel == fid && names.contains_key(&p.station_id))
            .map(|p| (p.price, p.station_id))
            .collect();
        if rows.is_empty() {
            continue;
        }
        rows.sort_unstable();
        for (price, station) in &rows {
            let old = before.iter().find(|b| b.station_id == *station && b.fuel == fid).map(|b| b.price);
            let change = match old.map(|o| price - o) {
                Some(d) if d > 0 => format!("+{}", lang.price(d)),
                Some(d) if d < 0 => format!("−{}", lang.price(-d)),
                Some(_) => "=".to_owned(),
                None => "?".to_owned(),
            };
            paragraphs.push((t.digest_line)(&names[station], &lang.price(*price), &change));
        }
        let (best, station) = rows[0];
        paragraphs.push((t.digest_cheapest)(fuel, &names[&station], &lang.price(best)));
        let values: Vec<i32> = rows.iter().map(|r| r.0).collect();
        if let Some(s) = savings::saving(&values, job.litres_per_year).filter(|s| s.per_year > 0.0) {
            paragraphs.push((t.digest_saving)(&lang.euros(s.per_year)));
        }
        let ids: Vec<StationId> = rows.iter().map(|r| r.1).collect();
        if let Some(day) = cheapest_weekday(db, &ids, fid, now).await? {
            paragraphs.push((t.digest_weekday)(fuel, lang.day_name(day)));
        }
    }
    if paragraphs.len() == 1 {
        paragraphs.push(t.digest_nothing.to_owned());
    }
    let p = DigestPayload::parse(&job.payload);
    Ok(Rendered {
        subject: t.digest_subject.to_owned(),
        paragraphs,
        click: Some(format!("{public_url}/me")),
        rules: p.items.iter().map(|i| i.rule).collect(),
    })
}

/// The Paris weekday (1 = Monday) whose noon price, averaged over the user's stations and the
/// last 8 weeks, is the lowest — when at least 4 weeks of history and a real difference (half a
/// cent) say so.
async fn cheapest_weekday(db: &Db, stations: &[StationId], fuel: i16, now: i64) -> Result<Option<u8>, sqlx::Error> {
    use chrono::{Datelike, TimeZone};
    let weeks = 8;
    let from = now - weeks * 7 * 86_400;
    let mut sums = [(0i64, 0i64); 7];
    for station in stations {
        let points = crate::db::series::points_in_force_since(db, station.get(), fuel, from, now).await?;
        let Some(first) = points.first() else { continue };
        if first.0 > now - 4 * 7 * 86_400 {
            continue;
        }
        // Noon in Paris of each day of the window: the price then in force.
        let mut day = from - from.rem_euclid(86_400) + 11 * 3600;
        let mut i = 0;
        while day <= now {
            while i + 1 < points.len() && points[i + 1].0 <= day {
                i += 1;
            }
            if points[i].0 <= day {
                let wd = chrono::Utc
                    .timestamp_opt(day, 0)
                    .single()
                    .map(|d| d.with_timezone(&chrono_tz::Europe::Paris).weekday().number_from_monday() as usize - 1);
                if let Some(wd) = wd {
                    sums[wd].0 += i64::from(points[i].1);
                    sums[wd].1 += 1;
                }
            }
            day += 86_400;
        }
    }
    let means: Vec<(f64, u8)> =
        sums.iter().enumerate().filter(|(_, s)| s.1 > 0).map(|(d, s)| (s.0 as f64 / s.1 as f64, d as u8 + 1)).collect();
    if means.len() < 7 {
        return Ok(None);
    }
    let min = means.iter().copied().fold((f64::MAX, 0), |a, b| if b.0 < a.0 { b } else { a });
    let max = means.iter().map(|m| m.0).fold(f64::MIN, f64::max);
    Ok((max - min.0 >= 5.0).then_some(min.1))
}
