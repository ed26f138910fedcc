//! `GET /me`: one table and savings card per followed fuel (shared with `/demo`).

use super::*;

pub struct DashRow {
    pub station_id: StationId,
    pub name: String,
    pub badge: Option<crate::web::brand::Badge>,
    pub address: String,
    pub price: Option<String>,
    pub ago: String,
    pub updated_iso: String,
    pub stale: bool,
    pub shortage: bool,
    pub cheapest: bool,
    /// "0,020 €" and its arrow/class, against the price a week earlier.
    pub change: Option<String>,
    pub arrow: &'static str,
    pub change_class: &'static str,
}

pub struct SavingView {
    pub amount: String,
    pub detail: String,
    pub department: Option<String>,
}

pub struct DashFuel {
    pub fuel: &'static str,
    pub rows: Vec<DashRow>,
    /// A row shows a name from OpenStreetMap: the attribution is due.
    pub osm: bool,
    pub saving: Option<SavingView>,
    pub saving_hint: String,
}

#[derive(Template)]
#[template(path = "me/dashboard.html")]
pub struct DashboardPage {
    pub l: Layout,
    pub display_name: String,
    pub no_stations: bool,
    pub no_fuels: bool,
    pub sections: Vec<DashFuel>,
    /// Per fuel, the cheapest weekday at the user's stations.
    pub weekday: Vec<String>,
    /// The saved routes with their best stop now, and "the most are saved".
    pub routes: Vec<super::SavedRouteView>,
    pub routes_full: Option<String>,
}

/// The stations a dashboard watches and what is known of their prices: a user's own (`/me`) or
/// the demo's, computed the same way.
pub struct Watched<'a> {
    pub favs: &'a [favourites::Favourite],
    pub prices: &'a [favourites::FavPrice],
    /// Prices a week before the newest snapshot, for the arrows.
    pub before: &'a [favourites::FavPrice],
    pub shortages: &'a [favourites::FavShortage],
}

/// One table and savings card per fuel, each also compared with the average of the département
/// of its cheapest station.
pub fn fuel_sections(
    lang: Lang,
    fuels: &[Fuel],
    reference: i64,
    w: &Watched<'_>,
    litres: i32,
    index: &crate::index::PriceIndex,
) -> Vec<DashFuel> {
    let a = strings(lang);
    let mut out = Vec::with_capacity(fuels.len());
    for fuel in fuels {
        let (mut d, cheapest) = dashboard_fuel(lang, *fuel, reference, w, litres, index);
        if let Some(c) = cheapest
            && let Some(dept) = w.favs.iter().find(|f| f.station_id == c.station).map(|f| f.department.as_str())
        {
            let averages = index.averages(Some(dept), reference - crate::index::AVERAGE_WINDOW_SECS);
            let avg = averages.iter().find(|x| x.fuel == fuel.id()).map(|x| x.average);
            if let (Some(avg), Some(view)) = (avg, d.saving.as_mut()) {
                let v = savings::per_year(avg, c.cheapest, litres);
                let shown_avg = lang.price(avg.round() as i32);
                view.department = Some(if v > 0.0 {
                    (a.saving_vs_department)(dept, &shown_avg, &lang.euros(v))
                } else {
                    (a.above_department)(dept, &shown_avg)
                });
            }
        }
        out.push(d);
    }
    out
}

#[tracing::instrument(skip_all, fields(user_id = user.user_id.get()))]
pub async fn dashboard(State(state): State<AppState>, lang: Lang, user: SignedIn) -> HtmlResult<Response> {
    {
        let db = &state.db;
        let uid = user.user_id;
        let f = freshness(&state).await?;
        let reference = f.latest_snapshot_at.unwrap_or_else(crate::db::now);
        let (account, fuel_ids, favs, prices, before, shortages) = tokio::try_join!(
            users::by_id(db, uid),
            users::fuels(db, uid),
            favourites::list(db, uid),
            favourites::prices(db, uid),
            favourites::prices_at(db, uid, reference - WEEK),
            favourites::shortages(db, uid),
        )?;
        let Some(account) = account else {
            return Err(AppError::not_found("account").into());
        };
        let fuels: Vec<Fuel> = fuel_ids.iter().filter_map(|id| Fuel::from_id(i64::from(*id))).collect();
        let index = state.index.get().await?;
        let watched = Watched { favs: &favs, prices: &prices, before: &before, shortages: &shortages };
        let dash = fuel_sections(lang, &fuels, reference, &watched, account.litres_per_year, &index);
        let ids: Vec<StationId> = favs.iter().map(|f| f.station_id).collect();
        let weekday = crate::web::routes::trends::me_weekday_lines(&state, lang, &ids, &fuels).await;
        let (routes, routes_full) = super::saved_routes(&state, lang, uid, &index, reference).await?;
        let a = strings(lang);
        Ok(no_store(render(&DashboardPage {
            l: layout(lang, format!("{} — Carburoam", a.dashboard_title), "me", "/me".into(), &f),
            display_name: account.display_name,
            no_stations: favs.is_empty(),
            no_fuels: fuels.is_empty(),
            sections: if favs.is_empty() { Vec::new() } else { dash },
            weekday,
            routes,
            routes_full,
        })?))
    }
}

/// The cheapest usable price of a fuel and where.
#[derive(Debug, Clone, Copy)]
struct Cheapest {
    station: StationId,
    cheapest: i32,
}

/// One fuel's table and savings. Rows: usable prices cheapest first, then stale or in-shortage
/// prices, then stations without that fuel are left out.
fn dashboard_fuel(
    lang: Lang,
    fuel: Fuel,
    reference: i64,
    w: &Watched<'_>,
    litres: i32,
    index: &crate::index::PriceIndex,
) -> (DashFuel, Option<Cheapest>) {
    let Watched { favs, prices, before, shortages } = *w;
    let a = strings(lang);
    let fid = fuel.id();
    let mut rows: Vec<(bool, i32, DashRow)> = Vec::new();
    let mut usable: Vec<(StationId, i32)> = Vec::new();
    for f in favs {
        let Some(p) = prices.iter().find(|p| p.station_id == f.station_id && p.fuel == fid) else {
            continue;
        };
        let shortage = shortages.iter().any(|s| s.station_id == f.station_id && s.fuel == fid);
        let stale = reference - p.updated_at > STALE_PRICE_SECS || f.missing_since.is_some();
        let ok = !stale && !shortage;
        if ok {
            usable.push((f.station_id, p.price));
        }
        let old = before.iter().find(|b| b.station_id == f.station_id && b.fuel == fid).map(|b| b.price);
        let (change, arrow, change_class) = match old.map(|o| p.price - o) {
            Some(d) if d > 0 => (Some(lang.price(d)), "▲", "up"),
            Some(d) if d < 0 => (Some(lang.price(-d)), "▼", "down"),
            Some(_) => (Some(lang.price(0)), "=", "same"),
            None => (None, "", ""),
        };
        rows.push((
            ok,
            p.price,
            DashRow {
                station_id: f.station_id,
                name: shown_name(f, index),
                badge: index.station(f.station_id).and_then(|s| s.brand.as_deref()).map(crate::web::brand::Badge::new),
                address: format!("{}, {}", f.address, places::title_case(&f.city)),
                price: Some(lang.price(p.price)),
                ago: lang.ago(crate::db::now(), p.updated_at),
                updated_iso: rfc3339(p.updated_at),
                stale,
                shortage,
                cheapest: false,
                change,
                arrow,
                change_class,
            },
        ));
    }
    rows.sort_by_key(|(ok, price, r)| (!*ok, *price, r.station_id));
    let best = usable.iter().min_by_key(|(id, p)| (*p, *id)).copied();
    if let Some((id, _)) = best
        && let Some(r) = rows.iter_mut().find(|(ok, _, r)| *ok && r.station_id == id)
    {
        r.2.cheapest = true;
    }
    let values: Vec<i32> = usable.iter().map(|(_, p)| *p).collect();
    let saving = savings::saving(&values, litres).map(|s| SavingView {
        amount: lang.euros(s.per_year.max(0.0)),
        detail: (a.saving_detail)(
            s.stations as u64,
            &lang.price(s.average.round() as i32),
            &lang.price(s.cheapest),
            u64::try_from(s.litres).unwrap_or_default(),
            &lang.euros(s.per_year.max(0.0)),
        ),
        department: None,
    });
    let saving_hint = match values.len() {
        0 => a.saving_none.to_owned(),
        _ => a.saving_add_second.to_owned(),
    };
    (
        DashFuel {
            fuel: fuel.name(),
            osm: rows.iter().any(|(_, _, r)| r.badge.is_some()),
            rows: rows.into_iter().map(|(_, _, r)| r).collect(),
            saving,
            saving_hint,
        },
        best.map(|(station, cheapest)| Cheapest { station, cheapest }),
    )
}
