//! `/me/stations`: the user's stations, a search to add more, and the station actions.

use super::*;
use crate::web::extract::PagePath;

pub struct MineView {
    pub station_id: StationId,
    pub lat: f64,
    pub lon: f64,
    pub shown_name: String,
    pub own_name: String,
    pub address: String,
    pub missing: bool,
}

pub struct PickCandidate {
    pub id: StationId,
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

#[tracing::instrument(skip_all, fields(user_id = user.user_id.get()))]
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
        // A text past the search bounds is not matched (the form shows it again, unresolved).
        if let Ok(text) = crate::domain::SearchText::parse(&q) {
            let index = place_index(&state).await?;
            if let Some(p) = places::resolve(&index, text.as_str(), 1).first() {
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
                city: places::title_case(&r.city),
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
                address: format!("{}, {} {}", f.address, f.postcode, places::title_case(&f.city)),
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
fn back_to(back: &str, msg: &str) -> String {
    let back = safe_next(Some(back).filter(|b| !b.is_empty()).or(Some("/me/stations")));
    let sep = if back.contains('?') { '&' } else { '?' };
    format!("{back}{sep}msg={msg}")
}

/// Adds a station (from `/me/stations`, or a station page's "Ajouter à mes stations"). A visitor
/// who is not logged in is sent to the login page, then back to the station.
/// `POST /me/stations/add`: a station id (anything else is "unknown station") and where to go back.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AddStationForm {
    #[serde(deserialize_with = "de::station")]
    pub station_id: Option<StationId>,
    pub back: String,
}

pub async fn add_station(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<AddStationForm>,
) -> HtmlResult<Response> {
    let id = form.station_id;
    let Some(user) = viewer.user else {
        let next = id.map(|i| format!("/stations/{i}")).unwrap_or_else(|| "/me/stations".into());
        let next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
        return Ok(see_other(&format!("/login?next={next}")));
    };
    let Some(id) = id else {
        return Ok(see_other(&back_to(&form.back, "unknown")));
    };
    let msg = match favourites::add(&state.db, user.user_id, id, crate::db::now()).await? {
        favourites::Added::Added => "added",
        favourites::Added::AlreadyThere => "already",
        favourites::Added::NoSuchStation => "unknown",
        favourites::Added::Full => "full",
    };
    Ok(see_other(&back_to(&form.back, msg)))
}

fn station_path(raw: &str) -> Result<StationId, AppError> {
    StationId::parse(raw).ok_or_else(|| AppError::not_found(format!("station {raw}")))
}

/// The fields of a station action: the new name (`rename`) and where to go back.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StationActionForm {
    pub name: String,
    pub back: String,
}

impl StationActionForm {
    /// The name typed, without control characters, at most 60 characters; `None` clears it.
    fn own_name(&self) -> Option<String> {
        let name: String = self.name.trim().chars().filter(|c| !c.is_control()).take(60).collect();
        (!name.is_empty()).then_some(name)
    }
}

/// The `{action}` of `POST /me/stations/{id}/{action}`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StationAction {
    Rename,
    Remove,
    Up,
    Down,
}

/// `POST /me/stations/{id}/{action}`: `rename` (field `name`, empty to clear), `remove`, `up`,
/// `down`, on one of the user's own stations only (anything else is a 404).
pub async fn station_action(
    State(state): State<AppState>,
    user: SignedIn,
    PagePath((raw, action)): PagePath<(String, StationAction)>,
    Form(form): Form<StationActionForm>,
) -> HtmlResult<Response> {
    {
        let id = station_path(&raw)?;
        let db = &state.db;
        let uid = user.user_id;
        let (done, msg) = match action {
            StationAction::Rename => (favourites::rename(db, uid, id, form.own_name().as_deref()).await?, "renamed"),
            StationAction::Remove => (favourites::remove(db, uid, id).await?, "removed"),
            StationAction::Up => (favourites::move_one(db, uid, id, true).await?, "moved"),
            StationAction::Down => (favourites::move_one(db, uid, id, false).await?, "moved"),
        };
        if !done {
            return Err(AppError::not_found(format!("station {id} in your list")).into());
        }
        Ok(see_other(&back_to(&form.back, msg)))
    }
}
