//! `/trajet` (`/route`): the cheapest stop on the way. A plain GET form (from, to, up to 3 via
//! points, fuel, litres, consumption, corridor, avoid motorway, departure, sort); the answer is
//! rendered on the server (distance, duration, the best stop and its savings, the list), and
//! `js/route.js` draws the route and the stations on a map when scripts run.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::Uri;
use axum::response::Response;
use chrono::{NaiveDateTime, TimeZone, Utc};
use chrono_tz::Europe::Paris;

use crate::domain::{Fuel, Lang};
use crate::error::AppError;
use crate::route::{self, EngineError, LatLon, PathError, RankQuery, SearchError, Sort, Stop, TripInput};
use crate::text::route::RouteStrings;
use crate::web::page::{FuelOption, HtmlError, HtmlResult, Layout, Lenient, freshness, fuel_options, layout, render};
use crate::web::routes::api_route::{
    DEFAULT_CONSUMPTION, DEFAULT_CORRIDOR_KM, DEFAULT_LITRES, MAX_CONSUMPTION, MAX_CORRIDOR_KM, MAX_LITRES,
    MIN_CORRIDOR_KM,
};
use crate::web::state::AppState;

/// One station of the list, formatted.
pub struct StopView {
    pub id: i64,
    pub name: String,
    pub city: String,
    pub price: String,
    pub age: String,
    pub km: String,
    pub off: String,
    pub detour: String,
    pub estimated: bool,
    pub fill: String,
    pub detour_cost: String,
    pub net: String,
    pub motorway: bool,
    pub open: Option<bool>,
    pub shortage: bool,
    pub best: bool,
}

/// A via point's field.
pub struct ViaView {
    pub n: usize,
    pub label: String,
    pub value: String,
}

/// A place suggestion after an unknown one.
pub struct Suggestion {
    pub href: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "route.html")]
pub struct RoutePage {
    pub l: Layout,
    pub r: &'static RouteStrings,
    pub path: &'static str,
    pub from: String,
    pub to: String,
    pub vias: Vec<ViaView>,
    /// Whether the options are shown unfolded (a via point or a filter is set).
    pub options_open: bool,
    pub fuels: Vec<FuelOption>,
    pub litres: String,
    pub consumption: String,
    pub corridor: String,
    pub avoid_motorway: bool,
    pub depart: String,
    pub sort: &'static str,
    pub error: Option<String>,
    pub suggestions: Vec<Suggestion>,
    pub offer_gpx: bool,
    pub summary: Option<String>,
    pub best: Option<String>,
    pub savings: Vec<String>,
    pub found: Option<String>,
    pub stops: Vec<StopView>,
    /// For `js/route.js`: the route's points and the stations. Safe inside a script element.
    pub json: String,
    pub tile_url: String,
    pub tile_attribution: String,
}

fn num(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

fn duration(lang: Lang, min: f64) -> String {
    let m = min.round() as u64;
    match (m / 60, m % 60) {
        (0, m) => format!("{m} min"),
        (h, m) => match lang {
            Lang::Fr => format!("{h} h {m:02}"),
            Lang::En => format!("{h} h {m:02} min"),
        },
    }
}

/// The departure typed in the form (`2026-06-07T08:30`, Paris time), in UTC.
fn parse_depart(raw: &str) -> Option<chrono::DateTime<Utc>> {
    let local = NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M").ok()?;
    Paris.from_local_datetime(&local).earliest().map(|t| t.with_timezone(&Utc))
}

/// `/trajet` and `/route`.
#[tracing::instrument(skip(state, uri))]
pub async fn route_page(
    State(state): State<AppState>,
    lang: Lang,
    uri: Uri,
    RawQuery(raw): RawQuery,
) -> HtmlResult<Response> {
    let r = async {
        let path = if uri.path() == "/route" { "/route" } else { "/trajet" };
        let t = crate::text::route::strings(lang);
        let mut q = Lenient::new(&raw);
        let from = q.str("from").unwrap_or_default();
        let to = q.str("to").unwrap_or_default();
        let vias =
            [q.str("via1").unwrap_or_default(), q.str("via2").unwrap_or_default(), q.str("via3").unwrap_or_default()];
        let fuel = q.fuel("fuel").unwrap_or(Fuel::Gazole);
        let litres = q.f64_in("litres", 1.0..=MAX_LITRES).unwrap_or(DEFAULT_LITRES);
        let consumption = q.f64_in("consumption", 1.0..=MAX_CONSUMPTION).unwrap_or(DEFAULT_CONSUMPTION);
        let corridor = q.f64_in("corridor_km", MIN_CORRIDOR_KM..=MAX_CORRIDOR_KM).unwrap_or(DEFAULT_CORRIDOR_KM);
        let avoid_motorway = q.flag("avoid_motorway");
        let depart_raw = q.str("depart").unwrap_or_default();
        let sort = match q.str("sort").as_deref() {
            Some("price") => Sort::Price,
            Some("along") => Sort::Along,
            _ => Sort::Net,
        };
        let now = Utc::now();
        let depart = parse_depart(&depart_raw).unwrap_or(now);
        let f = freshness(&state).await?;

        let mut page = RoutePage {
            l: layout(
                lang,
                format!("{} — Carburoam", t.title),
                "route",
                crate::web::page::path_and_query(path, &raw),
                &f,
            ),
            r: t,
            path,
            from: from.clone(),
            to: to.clone(),
            vias: vias
                .iter()
                .enumerate()
                .map(|(i, v)| ViaView { n: i + 1, label: (t.via_label)(i as u64 + 1), value: v.clone() })
                .collect(),
            options_open: avoid_motorway || vias.iter().any(|v| !v.trim().is_empty()),
            fuels: fuel_options(fuel),
            litres: num(litres),
            consumption: num(consumption),
            corridor: num(corridor),
            avoid_motorway,
            depart: if depart_raw.is_empty() {
                depart.with_timezone(&Paris).format("%Y-%m-%dT%H:%M").to_string()
            } else {
                depart_raw
            },
            sort: match sort {
                Sort::Net => "net",
                Sort::Price => "price",
                Sort::Along => "along",
            },
            error: None,
            suggestions: Vec::new(),
            offer_gpx: false,
            summary: None,
            best: None,
            savings: Vec::new(),
            found: None,
            stops: Vec::new(),
            json: "null".into(),
            tile_url: state.site.tile_url.clone(),
            tile_attribution: state.site.tile_attribution.clone(),
        };
        if from.trim().is_empty() || to.trim().is_empty() {
            return render(&page);
        }

        // The places, each from a position or the site's own index.
        let places = crate::web::page::place_index(&state).await?;
        let mut stops: Vec<LatLon> = Vec::new();
        for typed in std::iter::once(&from).chain(vias.iter().filter(|v| !v.trim().is_empty())).chain([&to]) {
            if let Ok(p) = typed.parse::<LatLon>() {
                stops.push(p);
                continue;
            }
            match crate::db::search::resolve(&places, typed, 1).first() {
                Some(p) => stops.push(LatLon { lat: p.latitude, lon: p.longitude }),
                None => {
                    page.error = Some((t.unknown_place)(typed));
                    // Places starting like what was typed, offered as links.
                    let start: String = typed.trim().chars().take(4).collect();
                    page.suggestions = crate::db::search::resolve(&places, &start, 5)
                        .into_iter()
                        .map(|p| {
                            let pick = |v: &String| if v == typed { p.query.clone() } else { v.clone() };
                            let pairs = [("from", pick(&from)), ("to", pick(&to)), ("fuel", fuel.name().to_owned())];
                            let query: String =
                                url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
                            Suggestion { href: format!("{path}?{query}"), label: p.label.clone() }
                        })
                        .collect();
                    return render(&page);
                }
            }
        }

        let query = RankQuery {
            fuel,
            litres,
            consumption,
            corridor_km: corridor,
            avoid_motorway,
            sort,
            depart,
            updated_since: now.timestamp() - i64::from(super::api::DEFAULT_MAX_AGE_DAYS) * 86_400,
        };
        let index = state.index.get().await.map_err(AppError::from)?;
        let (trip, list) = match route::search(&state.router, index, TripInput::Stops(stops), query).await {
            Ok(x) => x,
            Err(e) => {
                page.error = Some(
                    match e {
                        SearchError::Path(PathError::SameEnds) => t.same_ends,
                        SearchError::Path(PathError::OutsideFrance) => t.outside_france,
                        SearchError::Engine(EngineError::NoRoute) => t.no_route,
                        SearchError::Path(_) => t.no_route,
                        SearchError::Engine(EngineError::Off) => t.engine_off,
                        SearchError::Engine(_) | SearchError::Interrupted => t.engine_failed,
                    }
                    .to_owned(),
                );
                page.offer_gpx = true;
                return render(&page);
            }
        };
        let distance = lang.km(trip.distance_km);
        page.summary = Some(match trip.duration_min {
            Some(m) => (t.summary)(&distance, &duration(lang, m)),
            None => (t.summary_no_time)(&distance),
        });
        let name = |s: &Stop| s.name.clone().or_else(|| s.brand.clone()).unwrap_or_else(|| s.address.clone());
        let best = route::rank::best(&list);
        if let Some(b) = best {
            page.best =
                Some((t.best)(&format!("{} ({})", name(b), b.city), &lang.price(b.price), &lang.euros(b.net_cost)));
            let (on_route, average) = route::rank::savings(&list, &query);
            if let Some(v) = on_route.filter(|v| *v >= 0.005) {
                page.savings.push((t.saves_on_route)(&lang.euros(v)));
            }
            if let Some(v) = average.filter(|v| *v >= 0.005) {
                page.savings.push((t.saves_average)(&lang.euros(v)));
            }
        }
        page.found = Some((t.stations_found)(list.len() as u64));
        let best_id = best.map(|b| b.id);
        let reference = crate::web::page::reference_time(&f);
        page.stops = list
            .iter()
            .map(|s| StopView {
                id: s.id,
                name: name(s),
                city: s.city.clone(),
                price: lang.price(s.price),
                age: lang.ago(reference, s.updated_at),
                km: lang.km(s.km_from_start),
                off: lang.km(s.off_route_km),
                detour: format!("{} · {}", lang.km(s.detour_km), duration(lang, s.detour_min)),
                estimated: s.detour_estimated,
                fill: lang.euros(s.fill_cost),
                detour_cost: lang.euros(s.detour_cost),
                net: lang.euros(s.net_cost),
                motorway: s.motorway,
                open: s.open_on_arrival,
                shortage: s.shortage.is_some(),
                best: Some(s.id) == best_id,
            })
            .collect();
        let json = serde_json::json!({
            "points": trip.path.points().iter().map(|p| [p.lat, p.lon]).collect::<Vec<_>>(),
            "stations": list.iter().map(|s| serde_json::json!({
                "id": s.id, "lat": s.latitude, "lon": s.longitude, "name": name(s),
                "price": lang.price(s.price), "best": Some(s.id) == best_id,
            })).collect::<Vec<_>>(),
        });
        page.json = json.to_string().replace("</", "<\\/");
        render(&page)
    }
    .await;
    r.map_err(|e| HtmlError(e, lang))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values() {
        assert_eq!(num(40.0), "40");
        assert_eq!(num(6.5), "6.5");
        assert_eq!(duration(Lang::Fr, 125.0), "2 h 05");
        assert_eq!(duration(Lang::En, 12.4), "12 min");
        let d = parse_depart("2026-06-07T12:00").expect("time");
        assert_eq!(d.to_rfc3339(), "2026-06-07T10:00:00+00:00");
        assert!(parse_depart("demain").is_none());
    }
}
