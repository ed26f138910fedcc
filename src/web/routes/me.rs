//! The signed-in user's pages: the dashboard (`/me`), their stations (`/me/stations`), their
//! profile (`/me/profile`), export and deletion. Every handler takes a [`SignedIn`] (anyone else
//! is sent to the login page) and every query is scoped by that user's id.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::accounts::{AccountError, Field};
use crate::db::{email_changes, favourites, search, stats, users};
use crate::domain::{DisplayName, Fuel, StationId, rfc3339, savings};
use crate::error::AppError;
use crate::web::form::{FormData, FormView, clear_session, no_store, query_param, see_other};
use crate::web::i18n::{Lang, lang_cookie};
use crate::web::i18n_account::strings;
use crate::web::page::{DEFAULT_PLACE, FuelOption, HtmlResult, Layout, freshness, layout, place_index, render};
use crate::web::routes::account::notice;
use crate::web::session::{ClientIp, SignedIn, Viewer, safe_next};
use crate::web::state::AppState;

/// A price older than this (from the newest snapshot) is stale: greyed, and left out of savings.
pub const STALE_PRICE_SECS: i64 = 3 * 86_400;
const WEEK: i64 = 7 * 86_400;

/// The name a user sees for a station: their own, else its OpenStreetMap name (from the price
/// index), else the town, title-cased.
fn shown_name(f: &favourites::Favourite, index: &crate::index::PriceIndex) -> String {
    f.name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .or_else(|| index.station(f.station_id).and_then(|s| s.name.as_deref()).map(str::to_owned))
        .unwrap_or_else(|| search::title_case(&f.city))
}

// ---------------------------------------------------------------------------------------------
// GET /me

pub struct DashRow {
    pub station_id: i64,
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
    /// Per fuel, the cheapest weekday at the user's stations (issue 12).
    pub weekday: Vec<String>,
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
            let averages = index.averages(Some(dept), reference - stats::AVERAGE_WINDOW_SECS);
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

#[tracing::instrument(skip_all, fields(user_id = user.user_id))]
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
        let ids: Vec<i64> = favs.iter().map(|f| f.station_id).collect();
        let weekday = crate::web::routes::trends::me_weekday_lines(&state, lang, &ids, &fuels).await;
        let a = strings(lang);
        Ok(no_store(render(&DashboardPage {
            l: layout(lang, format!("{} — Carburoam", a.dashboard_title), "me", "/me".into(), &f),
            display_name: account.display_name,
            no_stations: favs.is_empty(),
            no_fuels: fuels.is_empty(),
            sections: if favs.is_empty() { Vec::new() } else { dash },
            weekday,
        })?))
    }
}

/// The cheapest usable price of a fuel and where.
#[derive(Debug, Clone, Copy)]
struct Cheapest {
    station: i64,
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
    let mut usable: Vec<(i64, i32)> = Vec::new();
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
                address: format!("{}, {}", f.address, search::title_case(&f.city)),
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

// ---------------------------------------------------------------------------------------------
// /me/stations

pub struct MineView {
    pub station_id: i64,
    pub lat: f64,
    pub lon: f64,
    pub shown_name: String,
    pub own_name: String,
    pub address: String,
    pub missing: bool,
}

pub struct PickCandidate {
    pub id: i64,
    pub city: String,
    pub address: String,
    pub distance: String,
    pub lat: f64,
    pub lon: f64,
    pub mine: bool,
}

#[derive(Template)]
#[template(path = "me/stations.html")]
pub struct MyStationsPage {
    pub l: Layout,
    pub message: Option<String>,
    pub message_is_error: bool,
    pub mine: Vec<MineView>,
    pub q: String,
    pub place: Option<String>,
    pub lat: f64,
    pub lon: f64,
    pub candidates: Vec<PickCandidate>,
    pub back: String,
    pub tile_url: String,
    pub tile_attribution: String,
}

fn message_for(lang: Lang, code: Option<&str>) -> (Option<String>, bool) {
    let a = strings(lang);
    let m = match code {
        Some("added") => (a.msg_added, false),
        Some("already") => (a.msg_already, false),
        Some("full") => (a.msg_full, true),
        Some("unknown") => (a.msg_unknown_station, true),
        Some("renamed") => (a.msg_renamed, false),
        Some("removed") => (a.msg_removed, false),
        Some("saved") => (a.msg_saved, false),
        Some("email_sent") => (a.msg_email_sent, false),
        Some("link_sent") => (a.msg_link_sent, false),
        Some("password_changed") => (a.msg_password_changed, false),
        Some("welcome") => (a.msg_welcome, false),
        _ => return (None, false),
    };
    (Some(m.0.to_owned()), m.1)
}

#[tracing::instrument(skip_all, fields(user_id = user.user_id))]
pub async fn my_stations(
    State(state): State<AppState>,
    lang: Lang,
    user: SignedIn,
    RawQuery(raw): RawQuery,
) -> HtmlResult<Response> {
    {
        let db = &state.db;
        let f = freshness(&state).await?;
        let favs = favourites::list(db, user.user_id).await?;
        let q = query_param(&raw, "q").unwrap_or_default();
        let num = |n: &str| query_param(&raw, n).and_then(|v| v.parse::<f64>().ok()).filter(|v| v.is_finite());
        let mut place = None;
        // Centre: the place searched, else the position given, else the user's stations, else Paris.
        let (mut lat, mut lon) = match (num("lat"), num("lon")) {
            (Some(la), Some(lo)) if (-90.0..=90.0).contains(&la) && (-180.0..=180.0).contains(&lo) => (la, lo),
            // The first of the user's stations: an average of stations in two towns may fall
            // where there is no station at all.
            _ if !favs.is_empty() => (favs[0].latitude, favs[0].longitude),
            _ => DEFAULT_PLACE,
        };
        if !q.trim().is_empty() {
            let index = place_index(&state).await?;
            if let Some(p) = search::resolve(&index, &q, 1).first() {
                lat = p.latitude;
                lon = p.longitude;
                place = Some(p.label.clone());
            }
        }
        let index = state.index.get().await?;
        let candidates = index
            .nearest(lat, lon, 12, 50.0)
            .into_iter()
            .map(|(r, d)| PickCandidate {
                mine: favs.iter().any(|f| f.station_id == r.id),
                id: r.id,
                city: search::title_case(&r.city),
                address: r.address.to_string(),
                distance: lang.km(d),
                lat: r.latitude,
                lon: r.longitude,
            })
            .collect();
        let mine = favs
            .iter()
            .map(|f| MineView {
                station_id: f.station_id,
                lat: f.latitude,
                lon: f.longitude,
                shown_name: shown_name(f, &index),
                own_name: f.name.clone().unwrap_or_default(),
                address: format!("{}, {} {}", f.address, f.postcode, search::title_case(&f.city)),
                missing: f.missing_since.is_some(),
            })
            .collect();
        let here = match raw.as_deref() {
            Some(q) if !q.is_empty() => format!("/me/stations?{q}"),
            _ => "/me/stations".to_owned(),
        };
        let (message, message_is_error) = message_for(lang, query_param(&raw, "msg").as_deref());
        // Where the station forms come back to: this search, without its message.
        let back = {
            let mut back = url::form_urlencoded::Serializer::new(String::new());
            if !q.trim().is_empty() {
                back.append_pair("q", &q);
            }
            back.append_pair("lat", &format!("{lat:.5}")).append_pair("lon", &format!("{lon:.5}"));
            format!("/me/stations?{}", back.finish())
        };
        let a = strings(lang);
        Ok(no_store(render(&MyStationsPage {
            l: layout(lang, format!("{} — Carburoam", a.my_stations_title), "me", here.clone(), &f),
            message,
            message_is_error,
            mine,
            q,
            place,
            lat,
            lon,
            candidates,
            back,
            tile_url: state.site.tile_url.clone(),
            tile_attribution: state.site.tile_attribution.clone(),
        })?))
    }
}

/// Where to go back after a station action: the `back` field when it is a local path.
fn back_to(form: &FormData, msg: &str) -> String {
    let back = safe_next(Some(form.get("back")).filter(|b| !b.is_empty()).or(Some("/me/stations")));
    let sep = if back.contains('?') { '&' } else { '?' };
    format!("{back}{sep}msg={msg}")
}

/// Adds a station (from `/me/stations`, or a station page's "Ajouter à mes stations"). A visitor
/// who is not logged in is sent to the login page, then back to the station.
pub async fn add_station(State(state): State<AppState>, viewer: Viewer, form: FormData) -> HtmlResult<Response> {
    let id = StationId::parse(form.get("station_id"));
    let Some(user) = viewer.user else {
        let next = id.map(|i| format!("/stations/{i}")).unwrap_or_else(|| "/me/stations".into());
        let next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
        return Ok(see_other(&format!("/login?next={next}")));
    };
    let Some(id) = id else {
        return Ok(see_other(&back_to(&form, "unknown")));
    };
    let msg = match favourites::add(&state.db, user.user_id, id.get(), crate::db::now()).await? {
        favourites::Added::Added => "added",
        favourites::Added::AlreadyThere => "already",
        favourites::Added::NoSuchStation => "unknown",
        favourites::Added::Full => "full",
    };
    Ok(see_other(&back_to(&form, msg)))
}

fn station_path(raw: &str) -> Result<i64, AppError> {
    StationId::parse(raw).map(StationId::get).ok_or_else(|| AppError::not_found(format!("station {raw}")))
}

/// `POST /me/stations/{id}/{action}`: `rename` (field `name`, empty to clear), `remove`, `up`,
/// `down`, on one of the user's own stations only (anything else is a 404).
pub async fn station_action(
    State(state): State<AppState>,
    user: SignedIn,
    Path((raw, action)): Path<(String, String)>,
    form: FormData,
) -> HtmlResult<Response> {
    {
        let id = station_path(&raw)?;
        let db = &state.db;
        let uid = user.user_id;
        let (done, msg) = match action.as_str() {
            "rename" => {
                let name: String = form.get("name").trim().chars().filter(|c| !c.is_control()).take(60).collect();
                let name = (!name.is_empty()).then_some(name);
                (favourites::rename(db, uid, id, name.as_deref()).await?, "renamed")
            }
            "remove" => (favourites::remove(db, uid, id).await?, "removed"),
            "up" => (favourites::move_one(db, uid, id, true).await?, "moved"),
            "down" => (favourites::move_one(db, uid, id, false).await?, "moved"),
            other => return Err(AppError::not_found(format!("action {other}")).into()),
        };
        if !done {
            return Err(AppError::not_found(format!("station {id} in your list")).into());
        }
        Ok(see_other(&back_to(&form, msg)))
    }
}

// ---------------------------------------------------------------------------------------------
// /me/profile

#[derive(Template)]
#[template(path = "me/profile.html")]
pub struct ProfilePage {
    pub l: Layout,
    pub f: FormView,
    pub message: Option<String>,
    pub message_is_error: bool,
    pub username: String,
    pub email: String,
    /// `false`: the address waits for its confirmation link (the page offers to send it again).
    pub email_confirmed: bool,
    pub pending_email: Option<String>,
    pub fuels: Vec<FuelOption>,
}

/// The profile page, with `f` holding what was typed and any errors (or the stored values).
async fn profile_view(
    state: &AppState,
    lang: Lang,
    user: &SignedIn,
    f: Option<FormView>,
    message: (Option<String>, bool),
    status: StatusCode,
) -> HtmlResult<Response> {
    {
        let fresh = freshness(state).await?;
        let now = crate::db::now();
        let (account, fuel_ids, pending) = tokio::try_join!(
            users::by_id(&state.db, user.user_id),
            users::fuels(&state.db, user.user_id),
            email_changes::pending_for(&state.db, user.user_id, now),
        )?;
        let Some(account) = account else {
            return Err(AppError::not_found("account").into());
        };
        let selected: Vec<Fuel> = fuel_ids.iter().filter_map(|id| Fuel::from_id(i64::from(*id))).collect();
        let mut f = f.unwrap_or_default();
        let defaults = [
            ("display_name", account.display_name.clone()),
            ("litres", account.litres_per_year.to_string()),
            ("lang", account.lang.clone()),
        ];
        for (k, v) in defaults {
            if f.v(k).is_empty() {
                f.values.push((k, v));
            }
        }
        let a = strings(lang);
        let resp = render(&ProfilePage {
            l: layout(lang, format!("{} — Carburoam", a.profile_title), "me", "/me/profile".into(), &fresh),
            f,
            message: message.0,
            message_is_error: message.1,
            username: account.username,
            // The unconfirmed address's own link is not a change to show twice.
            pending_email: pending.filter(|p| account.email_confirmed || !p.eq_ignore_ascii_case(&account.email)),
            email: account.email,
            email_confirmed: account.email_confirmed,
            fuels: Fuel::ALL.iter().map(|x| FuelOption { name: x.name(), selected: selected.contains(x) }).collect(),
        })?;
        Ok(no_store((status, resp).into_response()))
    }
}

pub async fn profile_page(
    State(state): State<AppState>,
    lang: Lang,
    user: SignedIn,
    RawQuery(raw): RawQuery,
) -> HtmlResult<Response> {
    let message = message_for(lang, query_param(&raw, "msg").as_deref());
    profile_view(&state, lang, &user, None, message, StatusCode::OK).await
}

/// Display name, fuels, litres a year, language.
pub async fn save_profile(
    State(state): State<AppState>,
    lang: Lang,
    user: SignedIn,
    form: FormData,
) -> HtmlResult<Response> {
    let a = strings(lang);
    let name = DisplayName::parse(form.get("display_name"));
    let litres = form.get("litres").trim().parse::<i32>().ok().filter(|l| (1..=100_000).contains(l));
    let new_lang = Lang::parse(form.get("lang")).unwrap_or(lang);
    let mut f = FormView::keep(&form, &["display_name", "litres", "lang"]);
    if let Err(e) = &name {
        f.errors.push((
            "display_name",
            crate::web::i18n_account::problem_text(
                lang,
                Field::DisplayName,
                &crate::accounts::Problem::Input(e.clone()),
            ),
        ));
    }
    if litres.is_none() {
        f.errors.push(("litres", a.litres_invalid.to_owned()));
    }
    let (Ok(name), Some(litres)) = (name, litres) else {
        return profile_view(&state, lang, &user, Some(f), (None, true), StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let fuels: Vec<i16> = form.fuels().iter().map(|f| f.id()).collect();
    users::update_profile(&state.db, user.user_id, name.as_str(), new_lang.code(), litres).await?;
    users::set_fuels(&state.db, user.user_id, &fuels).await?;
    let mut resp = see_other("/me/profile?msg=saved");
    resp.headers_mut().append(header::SET_COOKIE, lang_cookie(new_lang, state.accounts.settings.secure_cookies));
    Ok(resp)
}

/// A form problem shown on the profile page: the form again with its errors (a wrong current
/// password next to `current_key`, the field of that form), or `Err` for an error page.
fn form_errors(
    lang: Lang,
    form: &FormData,
    keep: &[&'static str],
    current_key: &'static str,
    e: AccountError,
) -> Result<(FormView, StatusCode), AccountError> {
    let mut f = FormView::keep(form, keep);
    match e {
        AccountError::Invalid(errors) => {
            for (field, p) in &errors {
                let key = if *field == Field::Current { current_key } else { crate::web::form::field_name(*field) };
                f.errors.push((key, crate::web::i18n_account::problem_text(lang, *field, p)));
            }
            Ok((f, StatusCode::UNPROCESSABLE_ENTITY))
        }
        // Too many wrong passwords: the login's message and wait, next to the field.
        AccountError::Blocked(secs) => {
            f.errors.push((current_key, (strings(lang).login_blocked)(secs.unsigned_abs())));
            Ok((f, StatusCode::TOO_MANY_REQUESTS))
        }
        other => Err(other),
    }
}

/// The profile page again after a failed form (see [`form_errors`]), or the error page.
async fn form_failed(
    state: &AppState,
    lang: Lang,
    user: &SignedIn,
    form: &FormData,
    keep: &[&'static str],
    current_key: &'static str,
    e: AccountError,
) -> HtmlResult<Response> {
    let (f, status) = form_errors(lang, form, keep, current_key, e)?;
    profile_view(state, lang, user, Some(f), (None, true), status).await
}

/// Asks for an email change (field `current`: the current password). An address in use by
/// another account gets the same answer as any other.
pub async fn change_email(
    State(state): State<AppState>,
    lang: Lang,
    user: SignedIn,
    ClientIp(ip): ClientIp,
    form: FormData,
) -> HtmlResult<Response> {
    let now = crate::db::now();
    match state.accounts.request_email_change(user.user_id, ip, form.get("current"), form.get("email"), now).await {
        Ok(()) => Ok(see_other("/me/profile?msg=email_sent")),
        Err(e) => form_failed(&state, lang, &user, &form, &["email"], "email_current", e).await,
    }
}

/// "Resend the link" while the address waits for confirmation.
pub async fn resend_confirmation(State(state): State<AppState>, user: SignedIn) -> HtmlResult<Response> {
    state.accounts.resend_confirmation(user.user_id, crate::db::now()).await?;
    Ok(see_other("/me/profile?msg=link_sent"))
}

pub async fn change_password(
    State(state): State<AppState>,
    lang: Lang,
    user: SignedIn,
    ClientIp(ip): ClientIp,
    form: FormData,
) -> HtmlResult<Response> {
    let r = state
        .accounts
        .change_password(
            user.user_id,
            ip,
            form.get("current"),
            form.get("password"),
            form.get("confirm"),
            &user.token,
            crate::db::now(),
        )
        .await;
    match r {
        Ok(()) => Ok(see_other("/me/profile?msg=password_changed")),
        Err(e) => form_failed(&state, lang, &user, &form, &[], "current", e).await,
    }
}

/// Follows the link mailed to a new address. Works from any browser: the token is the proof.
pub async fn confirm_email(State(state): State<AppState>, lang: Lang, RawQuery(raw): RawQuery) -> HtmlResult<Response> {
    let a = strings(lang);
    let token = query_param(&raw, "token").unwrap_or_default();
    match state.accounts.confirm_email_change(token.trim(), crate::db::now()).await {
        Ok(Some(done)) => {
            let text = match done {
                crate::accounts::Confirmed::Address => a.address_confirmed_text,
                crate::accounts::Confirmed::Changed => a.email_confirmed_text,
            };
            notice(&state, lang, a.email_confirmed_title, text, "/me/profile", a.profile_title).await
        }
        Ok(None) => link_invalid(&state, lang).await,
        Err(AccountError::Invalid(_)) => {
            let mut r =
                notice(&state, lang, a.email_taken_title, a.email_taken_text, "/me/profile", a.profile_title).await?;
            *r.status_mut() = StatusCode::CONFLICT;
            Ok(r)
        }
        Err(e) => Err(e.into()),
    }
}

/// The cancel link mailed to the old address: a page with a button (a mail scanner following
/// the link must not cancel anything), no login needed: the token is the proof.
pub async fn cancel_email_page(
    State(state): State<AppState>,
    lang: Lang,
    RawQuery(raw): RawQuery,
) -> HtmlResult<Response> {
    let a = strings(lang);
    let token = query_param(&raw, "token").unwrap_or_default();
    match state.accounts.pending_cancel(token.trim(), crate::db::now()).await {
        Ok(Some(new_email)) => {
            let f = freshness(&state).await.unwrap_or_default();
            Ok(no_store(render(&CancelEmailPage {
                l: layout(lang, format!("{} — Carburoam", a.email_cancel_title), "", "/".into(), &f),
                text: (a.email_cancel_text)(&new_email),
                token: token.trim().to_owned(),
            })?))
        }
        Ok(None) => link_invalid(&state, lang).await,
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "account/cancel_email.html")]
pub struct CancelEmailPage {
    pub l: Layout,
    pub text: String,
    pub token: String,
}

pub async fn cancel_email(State(state): State<AppState>, lang: Lang, form: FormData) -> HtmlResult<Response> {
    let a = strings(lang);
    match state.accounts.cancel_email_change(form.get("token").trim(), crate::db::now()).await {
        Ok(true) => {
            let r = notice(
                &state,
                lang,
                a.email_cancel_title,
                a.email_cancelled_text,
                "/forgot-password",
                a.forgot_password_title,
            )
            .await?;
            Ok(clear_session(r, &state.accounts.settings))
        }
        Ok(false) => link_invalid(&state, lang).await,
        Err(e) => Err(e.into()),
    }
}

async fn link_invalid(state: &AppState, lang: Lang) -> HtmlResult<Response> {
    let a = strings(lang);
    let mut r = notice(state, lang, a.link_invalid_title, a.link_invalid_text, "/me/profile", a.profile_title).await?;
    *r.status_mut() = StatusCode::NOT_FOUND;
    Ok(r)
}

/// All of the user's data as a JSON download.
pub async fn export(State(state): State<AppState>, user: SignedIn) -> HtmlResult<Response> {
    let doc = state.accounts.export(user.user_id, crate::db::now()).await?.ok_or(AppError::not_found("account"))?;
    let body = serde_json::to_vec_pretty(&doc).map_err(|e| AppError::Internal(e.into()))?;
    let mut resp = no_store(body.into_response());
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let disposition = format!("attachment; filename=\"carburoam-{}.json\"", user.username);
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// Erases the account (password required) and logs out.
pub async fn delete_account(
    State(state): State<AppState>,
    lang: Lang,
    user: SignedIn,
    ClientIp(ip): ClientIp,
    form: FormData,
) -> HtmlResult<Response> {
    match state.accounts.delete_account(user.user_id, ip, form.get("password"), crate::db::now()).await {
        Ok(()) => Ok(clear_session(see_other("/login?done=deleted"), &state.accounts.settings)),
        Err(e) => form_failed(&state, lang, &user, &form, &[], "delete", e).await,
    }
}
