//! The admin console (`/admin`): usage, the feed job and its runs, user support, backups.
//!
//! Only for signed-in users with the admin role; everyone else, signed in or not, gets the
//! site's 404 page, so the console's existence is not advertised. The role is read from the
//! database at every request (through the session lookup), so a revoked admin loses access at
//! once. Typed actions only (buttons posting forms, CSRF-checked); no shell, no SQL.

use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use serde::Deserialize;

use crate::db::{admin as q, audit, etl_runs, leases, stations, usage, users};
use crate::domain::{DAY, RunId, UserId};
use crate::error::AppError;
use crate::etl::{IMPORT_LEASE, SCHEDULE_LEASE};
use crate::services::admin::{Action, Actor, AdminError};
use crate::text::AdminStrings;
use crate::web::extract::PagePath;
use crate::web::form::{no_store, query_param, see_other};
use crate::web::i18n::Lang;
use crate::web::page::{HtmlError, HtmlResult, Layout, freshness, layout, render};
use crate::web::session::{SignedIn, Viewer};
use crate::web::state::AppState;

/// A signed-in admin. Anyone else: the 404 page.
pub struct AdminUser(pub SignedIn);

impl<S: Send + Sync> FromRequestParts<S> for AdminUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let lang = Lang::from_request_parts(parts, state).await.unwrap_or(Lang::Fr);
        match parts.extensions.get::<Viewer>().and_then(|v| v.user.clone()) {
            Some(u) if u.is_admin => Ok(AdminUser(u)),
            _ => Err(HtmlError(AppError::not_found(format!("page {}", parts.uri.path())), lang).into_response()),
        }
    }
}

impl AdminUser {
    fn actor(&self) -> Actor {
        Actor { id: Some(self.0.user_id), name: self.0.username.clone() }
    }
}

impl Layout {
    /// The admin console's table, for the templates of `templates/admin/`.
    pub fn admin(&self) -> &'static AdminStrings {
        self.lang.texts().admin
    }
}

async fn admin_layout(state: &AppState, lang: Lang, title: &str, here: &str) -> Result<Layout, AppError> {
    let f = freshness(state).await?;
    Ok(layout(lang, format!("{title} — Admin — Carburoam"), "admin", here.to_owned(), &f))
}

/// A bar of a small chart drawn with CSS (no script): a label, a value and its share of the max.
pub struct Bar {
    pub label: String,
    pub value: i64,
    pub second: i64,
    pub percent: u32,
    pub second_percent: u32,
}

fn bars(points: &[(String, i64, i64)]) -> Vec<Bar> {
    let max = points.iter().map(|p| p.1.max(p.2)).max().unwrap_or(0).max(1);
    points
        .iter()
        .map(|(label, a, b)| Bar {
            label: label.clone(),
            value: *a,
            second: *b,
            percent: ((a * 100) / max) as u32,
            second_percent: ((b * 100) / max) as u32,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// GET /admin

#[derive(Template)]
#[template(path = "admin/overview.html")]
pub struct OverviewPage {
    pub l: Layout,
    pub u: q::Usage,
    pub weeks: Vec<Bar>,
    pub days: Vec<Bar>,
    pub views_90: i64,
    pub api_90: i64,
    pub top: Vec<(String, bool, i64)>,
    /// Price alerts: deliveries and failures per channel kind.
    pub alerts: Vec<crate::db::alert_outbox::KindStats>,
}

#[tracing::instrument(skip_all)]
pub async fn overview(State(state): State<AppState>, lang: Lang, _admin: AdminUser) -> HtmlResult<Response> {
    {
        let now = crate::db::now();
        let today = now - now.rem_euclid(DAY);
        let since_day = today - 89 * DAY;
        let db = &state.db;
        let (u, weeks, days, top, alerts) = tokio::try_join!(
            q::usage(db, now),
            q::new_users_per_week(db, today - 26 * 7 * DAY),
            usage::per_day(db, since_day),
            usage::top_routes(db, since_day, 12),
            crate::db::alert_outbox::stats(db),
        )?;
        let weeks: Vec<(String, i64, i64)> = weeks.iter().map(|(w, n)| (lang.date(*w), *n, 0)).collect();
        let day_points: Vec<(String, i64, i64)> = days.iter().map(|(d, p, a)| (lang.date(*d), *p, *a)).collect();
        let l = admin_layout(&state, lang, lang.texts().admin.administration, "/admin").await?;
        Ok(no_store(render(&OverviewPage {
            l,
            u,
            weeks: bars(&weeks),
            views_90: days.iter().map(|d| d.1).sum(),
            api_90: days.iter().map(|d| d.2).sum(),
            days: bars(&day_points),
            top,
            alerts,
        })?))
    }
}

// ---------------------------------------------------------------------------------------------
// GET /admin/etl, POST /admin/etl/run, GET /admin/etl/runs/{id}

pub struct RunView {
    pub id: RunId,
    pub started: String,
    pub duration: String,
    pub source: String,
    pub trigger: String,
    pub status: String,
    pub changed: String,
    pub rejected: i32,
}

#[derive(Template)]
#[template(path = "admin/etl.html")]
pub struct EtlPage {
    pub l: Layout,
    pub message: Option<&'static str>,
    pub running: bool,
    pub can_run: bool,
    pub next_run: Option<String>,
    pub counts: stations::Counts,
    pub runs: Vec<RunView>,
    pub names: NamesView,
}

/// The names import's figures on the data page.
pub struct NamesView {
    /// "87.5% (7/8)".
    pub coverage: String,
    /// When, from where, and the counts of the last import.
    pub last: Option<(String, String, i64, i64, i64)>,
    pub running: bool,
    pub can_refresh: bool,
}

async fn names_view(state: &AppState, lang: Lang) -> Result<NamesView, AppError> {
    use crate::db::station_names;
    let db = &state.db;
    let (coverage, last, lease) = tokio::try_join!(
        station_names::coverage(db),
        station_names::last_import(db),
        leases::current(db, crate::names::schedule::NAMES_IMPORT_LEASE),
    )?;
    Ok(NamesView {
        coverage: coverage.to_string(),
        last: last.map(|l| (lang.datetime(l.finished_at), l.source, l.rows_read, l.stations_named, l.refs_unknown)),
        running: lease.is_some_and(|l| l.is_live(crate::db::now())),
        can_refresh: state.names_overpass.is_some(),
    })
}

/// The console's "refresh names now": asks Overpass in the background, refused while another
/// names import runs (the names import lease). An accepted press is written to the audit log.
pub async fn refresh_names(State(state): State<AppState>, admin: AdminUser) -> HtmlResult<Response> {
    let Some(overpass) = state.names_overpass.clone() else {
        return Err(AppError::bad_request("the names refresh is not configured on this server").into());
    };
    let now = crate::db::now();
    if leases::current(&state.db, crate::names::schedule::NAMES_IMPORT_LEASE).await?.is_some_and(|l| l.is_live(now)) {
        return Ok(see_other("/admin/etl?msg=names_busy"));
    }
    let source = overpass.endpoint.clone();
    crate::services::admin::record(&state.accounts, &admin.actor(), Action::RefreshNames, None, Some(&source), now)
        .await?;
    let db = state.db.clone();
    let index = state.index.clone();
    let holder = format!("console-{}", crate::etl::holder_id());
    tokio::spawn(async move {
        match crate::names::schedule::refresh_now(&db, &overpass, &holder, crate::domain::Trigger::Admin).await {
            Ok(report) => {
                tracing::info!(%report, "names refresh started from the console finished");
                let _ = index.refresh().await;
            }
            Err(e) => tracing::warn!(error = %e, "names refresh started from the console failed"),
        }
    });
    Ok(see_other("/admin/etl?msg=names_started"))
}

fn duration(lang: Lang, r: &etl_runs::RunRow) -> String {
    match r.finished_at {
        Some(f) => {
            let s = (f - r.started_at).max(0);
            if s < 60 { format!("{s} s") } else { format!("{} min {} s", s / 60, s % 60) }
        }
        None => lang.texts().admin.still_running.into(),
    }
}

fn source_name(s: &str) -> String {
    s.rsplit('/').next().unwrap_or(s).chars().take(60).collect()
}

pub async fn etl(
    State(state): State<AppState>,
    lang: Lang,
    _admin: AdminUser,
    RawQuery(raw): RawQuery,
) -> HtmlResult<Response> {
    {
        let db = &state.db;
        let now = crate::db::now();
        let (runs, counts, import, schedule) = tokio::try_join!(
            etl_runs::recent(db, 50),
            stations::counts(db),
            leases::current(db, IMPORT_LEASE),
            leases::current(db, SCHEDULE_LEASE),
        )?;
        let running = import.is_some_and(|l| l.is_live(now));
        // The scheduler holds its lease for 90% of the interval: the next tick is at its expiry.
        let next_run = schedule.filter(|l| l.is_live(now)).map(|l| lang.datetime(l.expires_at));
        let t = lang.texts().admin;
        let message = match query_param(&raw, "msg").as_deref() {
            Some("started") => Some(t.msg_run_started),
            Some("busy") => Some(t.msg_run_busy),
            Some("names_started") => Some(t.msg_names_started),
            Some("names_busy") => Some(t.msg_names_busy),
            _ => None,
        };
        let runs = runs
            .iter()
            .map(|r| RunView {
                id: r.id,
                started: lang.datetime(r.started_at),
                duration: duration(lang, r),
                source: source_name(&r.source),
                trigger: r.trigger.clone(),
                status: r.status.to_string(),
                changed: format!(
                    "{} / {} / {}",
                    r.stations_new + r.stations_updated,
                    r.prices_changed,
                    r.history_added
                ),
                rejected: r.rejected,
            })
            .collect();
        let l = admin_layout(&state, lang, t.data_and_imports, "/admin/etl").await?;
        let names = names_view(&state, lang).await?;
        Ok(no_store(render(&EtlPage {
            l,
            message,
            running,
            can_run: state.etl.is_some(),
            next_run,
            counts,
            runs,
            names,
        })?))
    }
}

/// Starts one run in the background, unless one is going (another click, the scheduler, or
/// another instance: the import lease says so).
pub async fn run_now(State(state): State<AppState>, admin: AdminUser) -> HtmlResult<Response> {
    let Some(job) = state.etl.clone() else {
        return Err(AppError::bad_request("the feed job is not configured on this server").into());
    };
    let now = crate::db::now();
    if leases::current(&state.db, IMPORT_LEASE).await?.is_some_and(|l| l.is_live(now)) {
        return Ok(see_other("/admin/etl?msg=busy"));
    }
    crate::services::admin::record(&state.accounts, &admin.actor(), Action::RunEtl, None, None, now).await?;
    tokio::spawn(async move {
        // The job wakes the alerts worker after its import (`etl::AfterImport`).
        match job.0.run_once(crate::domain::Trigger::Admin).await {
            Ok(outcome) => tracing::info!(?outcome, "run started from the console finished"),
            Err(e) => tracing::warn!(error = %e, "run started from the console failed"),
        }
    });
    Ok(see_other("/admin/etl?msg=started"))
}

#[derive(Template)]
#[template(path = "admin/run.html")]
pub struct RunPage {
    pub l: Layout,
    pub run: etl_runs::RunRow,
    pub started: String,
    pub finished: Option<String>,
    pub duration: String,
    pub snapshot: Option<String>,
    pub log: Vec<String>,
    pub rejections: Vec<etl_runs::RejectionRow>,
}

pub async fn run(
    State(state): State<AppState>,
    lang: Lang,
    _admin: AdminUser,
    Path(id): Path<String>,
) -> HtmlResult<Response> {
    {
        let id: RunId = id.parse().map_err(|_| AppError::not_found(format!("run {id}")))?;
        let db = &state.db;
        let (run, rejections, log) =
            tokio::try_join!(etl_runs::get(db, id), etl_runs::rejections(db, id), etl_runs::log(db, id))?;
        let run = run.ok_or_else(|| AppError::not_found(format!("run {id}")))?;
        let title = format!("{} #{id}", lang.texts().admin.run);
        let l = admin_layout(&state, lang, &title, &format!("/admin/etl/runs/{id}")).await?;
        Ok(no_store(render(&RunPage {
            l,
            started: lang.datetime(run.started_at),
            finished: run.finished_at.map(|t| lang.datetime(t)),
            duration: duration(lang, &run),
            snapshot: run.snapshot_at.map(|t| lang.datetime(t)),
            log: log.map(|l| l.lines().map(str::to_owned).collect()).unwrap_or_default(),
            rejections,
            run,
        })?))
    }
}

// ---------------------------------------------------------------------------------------------
// Users

#[derive(Template)]
#[template(path = "admin/users.html")]
pub struct UsersPage {
    pub l: Layout,
    pub q: String,
    pub users: Vec<q::UserListRow>,
    pub audit: Vec<AuditView>,
}

pub struct AuditView {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub target_id: Option<UserId>,
}

fn audit_views(lang: Lang, rows: Vec<audit::AuditRow>) -> Vec<AuditView> {
    rows.into_iter()
        .map(|a| AuditView {
            at: lang.datetime(a.at),
            actor: a.actor,
            action: a.action,
            target: a.target.unwrap_or_default(),
            target_id: a.target_id,
        })
        .collect()
}

pub async fn users(
    State(state): State<AppState>,
    lang: Lang,
    _admin: AdminUser,
    RawQuery(raw): RawQuery,
) -> HtmlResult<Response> {
    {
        let q = query_param(&raw, "q").unwrap_or_default();
        let (users, audit) = tokio::try_join!(q::search_users(&state.db, &q, 100), audit::recent(&state.db, None, 30))?;
        let l = admin_layout(&state, lang, lang.texts().admin.users, "/admin/users").await?;
        Ok(no_store(render(&UsersPage { l, q, users, audit: audit_views(lang, audit) })?))
    }
}

#[derive(Template)]
#[template(path = "admin/user.html")]
pub struct UserPage {
    pub l: Layout,
    pub message: Option<String>,
    pub message_is_error: bool,
    pub user: users::UserRow,
    pub created: String,
    pub last_login: Option<String>,
    pub stations: usize,
    pub sessions: usize,
    pub audit: Vec<AuditView>,
    pub is_self: bool,
}

pub async fn user(
    State(state): State<AppState>,
    lang: Lang,
    admin: AdminUser,
    PagePath(id): PagePath<UserId>,
    RawQuery(raw): RawQuery,
) -> HtmlResult<Response> {
    {
        let db = &state.db;
        let user = users::by_id(db, id).await?.ok_or_else(|| AppError::not_found(format!("user {id}")))?;
        let (stations, sessions, audit) = tokio::try_join!(
            crate::db::favourites::list(db, id),
            crate::db::sessions::for_user(db, id),
            audit::recent(db, Some(id), 50),
        )?;
        let now = crate::db::now();
        let (message, message_is_error) = match query_param(&raw, "msg").as_deref() {
            Some(m) => action_message(lang, m),
            None => (None, false),
        };
        let l = admin_layout(&state, lang, &user.username, &format!("/admin/users/{id}")).await?;
        Ok(no_store(render(&UserPage {
            l,
            message,
            message_is_error,
            created: lang.datetime(user.created_at),
            last_login: user.last_login_at.map(|t| lang.datetime(t)),
            stations: stations.len(),
            sessions: sessions.iter().filter(|s| s.expires_at > now).count(),
            audit: audit_views(lang, audit),
            is_self: admin.0.user_id == id,
            user,
        })?))
    }
}

fn action_message(lang: Lang, code: &str) -> (Option<String>, bool) {
    let t = lang.texts().admin;
    let (text, err) = match code {
        "send-reset" => (t.msg_reset_sent, false),
        "disable" => (t.msg_disabled, false),
        "enable" => (t.msg_enabled, false),
        "grant-admin" => (t.msg_admin_granted, false),
        "revoke-admin" => (t.msg_admin_revoked, false),
        "last-admin" => (t.msg_last_admin, true),
        "reset-not-sent" => (t.msg_reset_not_sent, true),
        _ => return (None, false),
    };
    (Some(text.to_owned()), err)
}

/// The `{action}` of `POST /admin/users/{id}/{action}`: the console's actions on one account.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UserAction {
    SendReset,
    Disable,
    Enable,
    Delete,
    GrantAdmin,
    RevokeAdmin,
}

impl From<UserAction> for Action {
    fn from(action: UserAction) -> Action {
        match action {
            UserAction::SendReset => Action::SendReset,
            UserAction::Disable => Action::Disable,
            UserAction::Enable => Action::Enable,
            UserAction::Delete => Action::Delete,
            UserAction::GrantAdmin => Action::Grant,
            UserAction::RevokeAdmin => Action::Revoke,
        }
    }
}

/// `POST /admin/users/{id}/{action}`: one typed action on one account.
pub async fn user_action(
    State(state): State<AppState>,
    admin: AdminUser,
    PagePath((id, action)): PagePath<(UserId, UserAction)>,
) -> HtmlResult<Response> {
    let action = Action::from(action);
    Ok(match crate::services::admin::act_on_user(&state.accounts, &admin.actor(), action, id, crate::db::now()).await {
        Ok(_) if action == Action::Delete => see_other("/admin/users"),
        Ok(_) => see_other(&format!("/admin/users/{id}?msg={}", action.as_str())),
        Err(AdminError::LastAdmin) => see_other(&format!("/admin/users/{id}?msg=last-admin")),
        Err(AdminError::ResetNotSent) => see_other(&format!("/admin/users/{id}?msg=reset-not-sent")),
        Err(AdminError::NoSuchUser) => return Err(AppError::not_found(format!("user {id}")).into()),
        Err(e) => return Err(AppError::Internal(anyhow::anyhow!("{e}")).into()),
    })
}

// ---------------------------------------------------------------------------------------------
// Backups

#[derive(Template)]
#[template(path = "admin/backups.html")]
pub struct BackupsPage {
    pub l: Layout,
    pub sqlite: bool,
    pub dir: Option<String>,
    pub files: Vec<(String, String, String)>,
    /// Why the last click did nothing (a download already running).
    pub message: Option<&'static str>,
}

pub async fn backups(State(state): State<AppState>, lang: Lang, _admin: AdminUser) -> HtmlResult<Response> {
    backups_page(&state, lang, None).await
}

async fn backups_page(state: &AppState, lang: Lang, message: Option<&'static str>) -> HtmlResult<Response> {
    {
        let files = match &state.backup_dir {
            Some(dir) => crate::backup::list_backups(dir)
                .await
                .into_iter()
                .map(|b| (b.name, lang.bytes(b.size), lang.datetime(b.created)))
                .collect(),
            None => Vec::new(),
        };
        let l = admin_layout(state, lang, lang.texts().admin.backups, "/admin/backups").await?;
        Ok(no_store(render(&BackupsPage {
            l,
            sqlite: matches!(state.db, crate::db::Db::Sqlite(_)),
            dir: state.backup_dir.as_ref().map(|d| d.display().to_string()),
            files,
            message,
        })?))
    }
}

/// How long to wait, as `Retry-After`, for a backup download that is already running.
const BACKUP_BUSY_RETRY_SECS: u32 = 30;

/// A consistent copy of the SQLite database made now (`VACUUM INTO`), downloaded, then deleted
/// from the server's temporary folder. One at a time: a second click while one is being made
/// gets the backups page again, saying so, with `429 Too Many Requests`.
pub async fn download_backup(State(state): State<AppState>, lang: Lang, admin: AdminUser) -> HtmlResult<Response> {
    if !matches!(state.db, crate::db::Db::Sqlite(_)) {
        return Err(AppError::bad_request("on PostgreSQL, back up with pg_dump").into());
    }
    let Some(_running) = state.backup_download.try_start() else {
        let mut resp = backups_page(&state, lang, Some(lang.texts().admin.backup_busy)).await?;
        *resp.status_mut() = axum::http::StatusCode::TOO_MANY_REQUESTS;
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(BACKUP_BUSY_RETRY_SECS));
        return Ok(resp);
    };
    {
        let dir = tempfile::tempdir().map_err(|e| AppError::Internal(e.into()))?;
        let name = format!("carburoam-{}.db", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"));
        let path = dir.path().join(&name);
        crate::backup::write_backup(&state.db, &path).await.map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?;
        let bytes = tokio::fs::read(&path).await.map_err(|e| AppError::Internal(e.into()))?;
        crate::services::admin::record(
            &state.accounts,
            &admin.actor(),
            Action::Backup,
            None,
            Some(&name),
            crate::db::now(),
        )
        .await?;
        let mut resp = no_store(bytes.into_response());
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/vnd.sqlite3"));
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
        Ok(resp)
    }
}

/// The console.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(overview))
        .route("/admin/etl", get(etl))
        .route("/admin/etl/run", post(run_now))
        .route("/admin/names/refresh", post(refresh_names))
        .route("/admin/etl/runs/{id}", get(run))
        .route("/admin/users", get(users))
        .route("/admin/users/{id}", get(user))
        .route("/admin/users/{id}/{action}", post(user_action))
        .route("/admin/backups", get(backups))
        // A POST (it writes a file and an audit row): a cross-site link cannot trigger it. A GET
        // gets the 404 page, as every console URL does for whoever may not use it.
        .route("/admin/backups/download", get(crate::web::page::not_found).post(download_backup))
}
