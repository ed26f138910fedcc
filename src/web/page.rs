//! The page machinery every HTML route shares: the layout of `base.html` ([`Layout`]), the
//! freshness line, template rendering, lenient query strings, and how an [`AppError`] is shown
//! as a page ([`HtmlError`], [`error_page`]).
//!
//! `crate::error` says *what* failed; this module decides how it looks (docs.rs keeps the same
//! split between `AxumNope` and its error page).

use std::sync::Arc;

use std::hash::{Hash, Hasher};

use askama::Template;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};

use crate::db::search;
use crate::db::stations as q;
use crate::domain::{Fuel, rfc3339};
use crate::error::AppError;
use crate::index::places::{self, Place};
use crate::web::assets;
use crate::web::cache::Freshness;
use crate::web::cache_control::CachePolicy;
use crate::web::extract::QueryParams;
use crate::web::i18n::{Lang, Strings};
use crate::web::state::AppState;
use crate::web::versioned::{Body, DataVersion, Key};

pub(crate) use crate::domain::DAY;

/// Where the demo and an empty map start: Paris, Hôtel de Ville.
pub const DEFAULT_PLACE: (f64, f64) = (48.8566, 2.3522);
/// Data older than this gets the warning banner.
pub const STALE_AFTER_SECS: i64 = 3600;

/// An [`AppError`] rendered as a page of the site, in the visitor's language: the public pages
/// return this, so a missing station is a real 404 page and a failure a real 500 page. Logged
/// like [`crate::web::error::ApiError`].
#[derive(Debug)]
pub struct HtmlError(pub AppError, pub Lang);

/// What page handlers return.
pub type HtmlResult<T> = Result<T, HtmlError>;

impl IntoResponse for HtmlError {
    fn into_response(self) -> Response {
        self.0.log();
        error_page(&self.0, self.1)
    }
}

tokio::task_local! {
    /// The language of the request being served, set by [`crate::web::session::layer`] around
    /// every page handler: an error raised with `?` is shown in it.
    static REQUEST_LANG: Lang;
}

/// Runs `f` (a page request) with `lang` as the language of its errors.
pub async fn with_lang<F: std::future::Future>(lang: Lang, f: F) -> F::Output {
    REQUEST_LANG.scope(lang, f).await
}

/// The language of the request being served (French outside one).
pub fn request_lang() -> Lang {
    REQUEST_LANG.try_with(|l| *l).unwrap_or(Lang::Fr)
}

/// `?` in a page handler: any error becomes the error page in the visitor's language.
impl<E: Into<AppError>> From<E> for HtmlError {
    fn from(e: E) -> Self {
        HtmlError(e.into(), request_lang())
    }
}

// ---------------------------------------------------------------------------------------------
// What every page shares

/// The freshness line of every page: the time of the newest snapshot loaded (the feed's own
/// date, not when an import last ran: an import of a six-month-old file is six months old).
#[derive(Debug, Clone, Hash)]
pub struct FreshView {
    pub ago: String,
    pub at: String,
    pub iso: String,
    /// Older than [`STALE_AFTER_SECS`]: every page shows the banner ([`FreshView::banner`]).
    pub stale: bool,
    pub lang: Lang,
}

impl FreshView {
    /// "The official feed has not changed since …", shown when [`FreshView::stale`].
    pub fn banner(&self) -> String {
        (self.lang.strings().stale_banner)(&self.at)
    }
}

/// The freshness line of the snapshot taken at `snapshot` (Unix seconds), seen at `now`.
pub(crate) fn fresh_view(lang: Lang, now: i64, snapshot: i64) -> FreshView {
    FreshView {
        ago: lang.ago(now, snapshot),
        at: lang.datetime(snapshot),
        iso: rfc3339(snapshot),
        stale: now - snapshot > STALE_AFTER_SECS,
        lang,
    }
}

/// Data of `base.html`. Everything in it but the viewer must enter [`Layout::fingerprint`].
#[derive(Clone)]
pub struct Layout {
    pub lang: Lang,
    pub t: &'static Strings,
    pub title: String,
    /// `home`, `map`, `demo`, `about` or empty: the current item of the menu.
    pub nav: &'static str,
    /// Path and query of this page, for the language switch to come back to.
    pub here: String,
    pub fresh: Option<FreshView>,
    /// The visitor: the account menu, and the CSRF token of the page's forms.
    pub viewer: crate::web::session::Viewer,
    pub a: &'static crate::web::i18n_account::AccountStrings,
}

impl Layout {
    pub fn asset(&self, path: &str) -> &'static str {
        assets::url(path)
    }

    /// The route search's sentences (its page, the menu).
    pub fn r(&self) -> &'static crate::text::route::RouteStrings {
        crate::text::route::strings(self.lang)
    }

    /// The price history's sentences (station chart, trends page).
    pub fn h(&self) -> &'static crate::text::HistoryStrings {
        self.lang.texts().history
    }

    /// `/lang?to=en&back=…` (HTML-escaped by the template).
    pub fn switch_url(&self) -> String {
        let back: String = url::form_urlencoded::byte_serialize(self.here.as_bytes()).collect();
        format!("/lang?to={}&back={back}", self.lang.other().code())
    }

    pub fn current(&self, item: &str) -> &'static str {
        if self.nav == item { "page" } else { "false" }
    }

    /// This layout for every visitor without a session: no account menu and no CSRF token (a
    /// form of a shared page could not carry the visitor's own; none has one).
    pub fn shared(&self) -> Layout {
        Layout { viewer: crate::web::session::Viewer::default(), ..self.clone() }
    }

    /// What a page shared by every visitor without a session depends on besides its data (the
    /// language, the title, the URL, the freshness line), or `None` when the page is this
    /// visitor's own: someone signed in (the account menu, the forms' CSRF token).
    pub fn fingerprint(&self) -> Option<u64> {
        if self.viewer.user.is_some() {
            return None;
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (self.lang, &self.title, self.nav, &self.here, &self.fresh).hash(&mut h);
        Some(h.finish())
    }
}

/// The page `make` renders with the layout it is given, served from the cache of whole answers
/// ([`Body`], with its compressed forms) when the visitor has no session: its content is then a
/// function of the data version, `key` (the page's parameters) and the layout's fingerprint.
/// A shared page is rendered with [`Layout::shared`]: it holds no visitor's CSRF token, by
/// construction. Signed-in visitors get `make`'s page rendered for them with `l`.
pub(crate) async fn cached_page<T, F, Fut>(
    state: &AppState,
    version: DataVersion,
    key: Key,
    l: &Layout,
    headers: &HeaderMap,
    make: F,
) -> Result<Response, AppError>
where
    T: Template,
    F: FnOnce(Layout) -> Fut,
    Fut: std::future::Future<Output = Result<T, AppError>>,
{
    let Some(layout) = l.fingerprint() else { return render(&make(l.clone()).await?) };
    let shared = l.shared();
    let key = Key::Page { data: Box::new(key), layout };
    let body = state
        .cache
        .data
        .get_or_try(version, key, || async {
            let html =
                make(shared).await?.render().map_err(|e| AppError::Internal(anyhow::anyhow!("template: {e}")))?;
            Ok(Body::new(Body::HTML, html.into()))
        })
        .await?;
    Ok(body.respond(headers))
}

/// The data's freshness, read again when the price index moves to newer data, so that what a
/// page computes from both agrees (the last day of a chart, the cache's keys).
pub(crate) async fn freshness(state: &AppState) -> Result<Freshness, AppError> {
    let db = state.db.clone();
    state
        .cache
        .freshness
        .get_or_try_at(state.index.current().data_version(), || async move {
            let (last_success_at, latest_snapshot_at) =
                tokio::try_join!(crate::db::etl_runs::last_success_at(&db), q::latest_snapshot_at(&db))?;
            Ok::<_, AppError>(Freshness { last_success_at, latest_snapshot_at })
        })
        .await
}

pub(crate) fn layout(lang: Lang, title: String, nav: &'static str, here: String, f: &Freshness) -> Layout {
    let fresh = f.latest_snapshot_at.map(|t| fresh_view(lang, crate::db::now(), t));
    Layout {
        lang,
        t: lang.strings(),
        title,
        nav,
        here,
        fresh,
        viewer: crate::web::session::current_viewer(),
        a: crate::web::i18n_account::strings(lang),
    }
}

/// The one clock of "recent enough": the newest snapshot loaded, or now before any.
///
/// Which prices count as current (the lists' and the map's `max_age`, the API's
/// `max_age_days`, `/me`'s stale rows, the route search) is measured back from the newest
/// snapshot, never from the wall clock: when the official feed stops changing, the site keeps
/// showing the last prices it published, with the banner saying since when ([`FreshView`]),
/// instead of emptying the map as the days pass. The age *shown* beside a price ("3 h ago") is
/// its real age, from now.
pub(crate) fn reference_time(f: &Freshness) -> i64 {
    f.latest_snapshot_at.unwrap_or_else(crate::db::now)
}

/// [`reference_time`] of the data's current [`freshness`], for answers that need nothing else
/// of it (the JSON APIs).
pub(crate) async fn reference(state: &AppState) -> Result<i64, AppError> {
    Ok(reference_time(&freshness(state).await?))
}

/// Renders a template as an HTML response.
pub(crate) fn render<T: Template>(tpl: &T) -> Result<Response, AppError> {
    let body = tpl.render().map_err(|e| AppError::Internal(anyhow::anyhow!("template: {e}")))?;
    Ok(Html(body).into_response())
}

/// The page's own URL, for the links that come back to it (the language switch). A query string
/// past [`MAX_BACK_QUERY`] bytes is no page to come back to: such a URL is the path alone, so a
/// page never repeats kilobytes of what it was sent.
pub(crate) fn path_and_query(path: &str, query: &Option<String>) -> String {
    match query.as_deref() {
        Some(q) if !q.is_empty() && q.len() <= MAX_BACK_QUERY => format!("{path}?{q}"),
        _ => path.to_owned(),
    }
}

/// The longest query string [`path_and_query`] keeps.
pub(crate) const MAX_BACK_QUERY: usize = 2048;

/// Lenient query parameters: a bad value is as if absent.
pub(crate) struct Lenient(QueryParams);

impl Lenient {
    pub(crate) fn new(raw: &Option<String>) -> Lenient {
        // Duplicates make `parse` fail; then only the first of each name counts.
        let params = QueryParams::parse(raw.as_deref()).unwrap_or_else(|_| {
            let mut seen = std::collections::BTreeSet::new();
            let dedup: String = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(
                    url::form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes())
                        .filter(|(k, _)| seen.insert(k.to_string())),
                )
                .finish();
            QueryParams::parse(Some(&dedup)).unwrap_or_default()
        });
        Lenient(params)
    }
    pub(crate) fn str(&mut self, name: &str) -> Option<String> {
        self.0.take(name)
    }
    pub(crate) fn f64_in(&mut self, name: &str, r: std::ops::RangeInclusive<f64>) -> Option<f64> {
        self.0.f64_in(name, r).ok().flatten()
    }
    pub(crate) fn u32_in(&mut self, name: &str, r: std::ops::RangeInclusive<u32>) -> Option<u32> {
        self.0.u32_in(name, r).ok().flatten()
    }
    pub(crate) fn fuel(&mut self, name: &str) -> Option<Fuel> {
        self.0.fuel(name).ok().flatten()
    }
    pub(crate) fn flag(&mut self, name: &str) -> bool {
        self.0.take(name).is_some_and(|v| v != "0")
    }
}

pub(crate) async fn place_index(state: &AppState) -> Result<Arc<Vec<Place>>, AppError> {
    let db = state.db.clone();
    state
        .cache
        .places
        .get_or_try(|| async move { Ok::<_, AppError>(Arc::new(places::build_index(&search::place_rows(&db).await?))) })
        .await
}

/// A fuel of the picker.
pub struct FuelOption {
    pub name: &'static str,
    pub selected: bool,
}

pub(crate) fn fuel_options(selected: Fuel) -> Vec<FuelOption> {
    Fuel::ALL.iter().map(|f| FuelOption { name: f.name(), selected: *f == selected }).collect()
}

// ---------------------------------------------------------------------------------------------
// Errors

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub l: Layout,
    pub status: u16,
    pub heading: &'static str,
    pub text: String,
}

/// The HTML page of an error, in the site's style (no database access: it must render even when
/// the database is what failed).
pub fn error_page(err: &AppError, lang: Lang) -> Response {
    let t = lang.strings();
    let status = err.status();
    let (heading, text) = match err {
        AppError::NotFound(_) => (t.not_found_title, t.not_found_text.to_owned()),
        AppError::BadRequest(_) | AppError::Unprocessable(_) => (t.bad_request_title, err.public_message()),
        AppError::Unavailable(_) | AppError::BadGateway(_) => (t.error_title, err.public_message()),
        AppError::Forbidden(_) => (lang_account(lang).forbidden_title, lang_account(lang).forbidden_text.to_owned()),
        AppError::TooManyRequests(secs) => {
            (lang_account(lang).too_many_title, (lang_account(lang).too_many_text)(*secs))
        }
        AppError::Database(_) | AppError::Internal(_) => (t.error_title, t.error_text.to_owned()),
    };
    let page = ErrorPage {
        l: Layout {
            lang,
            t,
            title: format!("{heading} — Carburoam"),
            nav: "",
            here: "/".into(),
            fresh: None,
            viewer: crate::web::session::current_viewer(),
            a: lang_account(lang),
        },
        status: status.as_u16(),
        heading,
        text,
    };
    let body = page.render().unwrap_or_else(|_| format!("<!doctype html><title>{status}</title><h1>{heading}</h1>"));
    let mut resp = (status, CachePolicy::NoStore, Html(body)).into_response();
    if let AppError::TooManyRequests(secs) = err {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*secs));
    }
    resp
}

fn lang_account(lang: Lang) -> &'static crate::web::i18n_account::AccountStrings {
    crate::web::i18n_account::strings(lang)
}

/// Unknown paths outside `/api`: the HTML 404.
pub async fn not_found(lang: Lang, uri: axum::http::Uri) -> HtmlError {
    HtmlError(AppError::not_found(format!("page {}", uri.path())), lang)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::session::Viewer;

    /// A page that prints its visitor's CSRF token, as a form of it would.
    #[derive(Template)]
    #[template(source = "<form><input name=\"csrf\" value=\"{{ l.viewer.csrf }}\"></form>", ext = "html")]
    struct WithToken {
        l: Layout,
    }

    /// A visitor without a session, holding `csrf` (every browser gets one).
    fn visitor(csrf: char) -> Layout {
        let mut l = layout(Lang::Fr, "t".into(), "", "/t".into(), &Freshness::default());
        l.viewer = Viewer { user: None, csrf: csrf.to_string().repeat(64) };
        l
    }

    #[tokio::test]
    async fn a_shared_page_never_holds_a_visitors_token() {
        crate::tls::install_provider();
        let db = crate::db::Db::connect_without_migrating("sqlite::memory:").await.expect("database");
        let state = AppState::new(db).expect("default settings");
        let mut bodies = Vec::new();
        for (i, l) in [visitor('a'), visitor('b')].iter().enumerate() {
            let key = Key::Place { text: "page".into() };
            let page = |l: Layout| async move { Ok(WithToken { l }) };
            let resp = cached_page(&state, DataVersion::default(), key, l, &HeaderMap::new(), page).await;
            let resp = resp.expect("served, not refused");
            assert_eq!(resp.status(), 200);
            let body = axum::body::to_bytes(resp.into_body(), 1 << 20).await.expect("body");
            let body = String::from_utf8(body.to_vec()).expect("UTF-8");
            assert!(!body.contains(&"a".repeat(64)) && !body.contains(&"b".repeat(64)), "visitor {i}: {body}");
            bodies.push(body);
        }
        assert_eq!(bodies[0], bodies[1], "one page for both");
        assert_eq!(state.cache.data.stats().hits, 1, "the second visitor's came from the cache");
    }
}
