//! Account pages without a session: register, log in, log out, and the "forgot" flows.
//!
//! Every form is a plain HTML form (works without JavaScript), protected by the CSRF middleware
//! ([`crate::web::session`]). A failed form is shown again with the values typed (never the
//! passwords) and each problem next to its field. Answers carry `Cache-Control: no-store`.

use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::domain::Fuel;
use crate::services::accounts::{AccountError, Registration};
use crate::web::form::{Form, FormView, clear_session, de, no_store, query_param, see_other};
use crate::web::i18n::{Lang, lang_cookie};
use crate::web::page::{FuelOption, HtmlResult, Layout, freshness, layout, render};
use crate::web::session::{self, ClientIp, Viewer, safe_next};
use crate::web::state::AppState;

async fn page_layout(state: &AppState, lang: Lang, title: &str, nav: &'static str, here: &str) -> Layout {
    // Freshness is decoration here: a failing query must not block logging in.
    let f = freshness(state).await.unwrap_or_default();
    layout(lang, format!("{title} — Carburoam"), nav, here.to_owned(), &f)
}

fn fuel_options(selected: &[Fuel]) -> Vec<FuelOption> {
    Fuel::ALL.iter().map(|f| FuelOption { name: f.name(), selected: selected.contains(f) }).collect()
}

// ---------------------------------------------------------------------------------------------
// Register

#[derive(Template)]
#[template(path = "account/register.html")]
pub struct RegisterPage {
    pub l: Layout,
    pub f: FormView,
    pub message: Option<String>,
    pub message_is_error: bool,
    pub fuels: Vec<FuelOption>,
}

pub async fn register_page(State(state): State<AppState>, lang: Lang, viewer: Viewer) -> HtmlResult<Response> {
    if viewer.user.is_some() {
        return Ok(see_other("/me"));
    }
    let l = page_layout(&state, lang, texts(lang).register_title, "login", "/register").await;
    Ok(no_store(render(&RegisterPage {
        l,
        f: FormView::default(),
        message: None,
        message_is_error: false,
        fuels: fuel_options(&[Fuel::E10, Fuel::Gazole]),
    })?))
}

/// The account pages' sentences in `lang`.
fn texts(lang: Lang) -> &'static crate::web::i18n_account::AccountStrings {
    crate::web::i18n_account::strings(lang)
}

/// `POST /register`. The texts are parsed by [`crate::services::accounts`], which names every
/// field in error at once.
// No `Debug`: it holds a password.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct RegisterForm {
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub password: String,
    pub confirm: String,
    #[serde(deserialize_with = "de::fuels")]
    pub fuel: Vec<Fuel>,
}

#[tracing::instrument(skip_all)]
pub async fn register(
    State(state): State<AppState>,
    lang: Lang,
    ClientIp(ip): ClientIp,
    Form(form): Form<RegisterForm>,
) -> HtmlResult<Response> {
    let reg = Registration {
        username: &form.username,
        display_name: &form.display_name,
        email: &form.email,
        password: &form.password,
        confirm: &form.confirm,
        lang,
        fuels: form.fuel.clone(),
    };
    let now = crate::db::now();
    match state.accounts.register(ip, &reg, now).await {
        Ok(user_id) => {
            // Sent in the background, never delaying the answer; the username only, no email.
            state.notifier.notify(format!("New Carburoam user: {}", reg.username.trim()));
            let s = state.accounts.start_session(user_id, false, now).await?;
            Ok(login_response(&state, &s, lang, "/me/stations?msg=welcome"))
        }
        Err(AccountError::Invalid(errors)) => {
            let l = page_layout(&state, lang, texts(lang).register_title, "login", "/register").await;
            let f = FormView::keep(&[
                ("username", &form.username),
                ("display_name", &form.display_name),
                ("email", &form.email),
            ])
            .with_errors(lang, &errors);
            let view = RegisterPage { l, f, message: None, message_is_error: true, fuels: fuel_options(&reg.fuels) };
            Ok(no_store((StatusCode::UNPROCESSABLE_ENTITY, render(&view)?).into_response()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Sets the session cookie (and the language cookie to the account's language), renews the CSRF
/// token, and redirects.
fn login_response(state: &AppState, s: &crate::services::accounts::NewSession, lang: Lang, to: &str) -> Response {
    let settings = &state.accounts.settings;
    // The session was opened this instant: its cookie lives as long as its row.
    let max_age = s.persistent.then_some(crate::services::accounts::SESSION_REMEMBER_SECS);
    let mut resp = see_other(to);
    let h = resp.headers_mut();
    h.append(
        header::SET_COOKIE,
        session::set_cookie(settings, session::session_cookie_name(settings), &s.token, max_age),
    );
    h.append(header::SET_COOKIE, lang_cookie(lang, settings.secure_cookies));
    h.append(header::SET_COOKIE, session::new_csrf_cookie(settings));
    resp
}

// ---------------------------------------------------------------------------------------------
// Log in / out

#[derive(Template)]
#[template(path = "account/login.html")]
pub struct LoginPage {
    pub l: Layout,
    pub f: FormView,
    pub message: Option<String>,
    pub message_is_error: bool,
    pub next: String,
}

pub async fn login_page(
    State(state): State<AppState>,
    lang: Lang,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> HtmlResult<Response> {
    let next = safe_next(query_param(&raw, "next").as_deref());
    if viewer.user.is_some() {
        return Ok(see_other(&next));
    }
    let a = texts(lang);
    let message = match query_param(&raw, "done").as_deref() {
        Some("reset") => Some(a.reset_done.to_owned()),
        Some("logout") => Some(a.logged_out.to_owned()),
        Some("deleted") => Some(a.account_deleted.to_owned()),
        _ => None,
    };
    let l = page_layout(&state, lang, a.login_title, "login", "/login").await;
    Ok(no_store(render(&LoginPage { l, f: FormView::default(), message, message_is_error: false, next })?))
}

/// `POST /login`: a username or an email, the password, "remember me", and where to go next.
// No `Debug`: it holds a password.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct LoginForm {
    pub login: String,
    pub password: String,
    #[serde(deserialize_with = "de::checked")]
    pub remember: bool,
    pub next: String,
}

#[tracing::instrument(skip_all)]
pub async fn login(
    State(state): State<AppState>,
    lang: Lang,
    ClientIp(ip): ClientIp,
    Form(form): Form<LoginForm>,
) -> HtmlResult<Response> {
    let now = crate::db::now();
    let next = safe_next(Some(&form.next));
    let remember = form.remember;
    let a = texts(lang);
    let message = match state.accounts.login(ip, &form.login, &form.password, now).await {
        Ok(user_id) => {
            let user_lang = crate::db::users::by_id(&state.db, user_id)
                .await
                .ok()
                .flatten()
                .and_then(|u| Lang::parse(&u.lang))
                .unwrap_or(lang);
            let s = state.accounts.start_session(user_id, remember, now).await?;
            return Ok(login_response(&state, &s, user_lang, &next));
        }
        Err(AccountError::BadLogin) => a.bad_login.to_owned(),
        Err(AccountError::Blocked(secs)) => (a.login_blocked)(secs.unsigned_abs()),
        Err(AccountError::Disabled) => a.account_disabled.to_owned(),
        Err(e) => return Err(e.into()),
    };
    let l = page_layout(&state, lang, a.login_title, "login", "/login").await;
    let f = FormView::keep(&[("login", &form.login), ("remember", if remember { "1" } else { "" })]);
    let view = LoginPage { l, f, message: Some(message), message_is_error: true, next };
    Ok(no_store((StatusCode::UNAUTHORIZED, render(&view)?).into_response()))
}

pub async fn logout(State(state): State<AppState>, viewer: Viewer) -> Response {
    if let Some(u) = &viewer.user
        && let Err(e) = state.accounts.end_session(&u.token).await
    {
        tracing::warn!(error = %e, "could not delete a session at logout");
    }
    let settings = &state.accounts.settings;
    let mut resp = see_other("/login?done=logout");
    resp.headers_mut()
        .append(header::SET_COOKIE, session::set_cookie(settings, session::session_cookie_name(settings), "", Some(0)));
    resp
}

// ---------------------------------------------------------------------------------------------
// Forgot password / username

#[derive(Template)]
#[template(path = "account/forgot.html")]
pub struct ForgotPage {
    pub l: Layout,
    pub f: FormView,
    pub message: Option<String>,
    pub message_is_error: bool,
    pub for_password: bool,
    pub sent: bool,
}

async fn forgot_view(
    state: &AppState,
    lang: Lang,
    for_password: bool,
    sent: bool,
    f: FormView,
) -> HtmlResult<Response> {
    let a = texts(lang);
    let (title, here) = if for_password {
        (a.forgot_password_title, "/forgot-password")
    } else {
        (a.forgot_username_title, "/forgot-username")
    };
    let l = page_layout(state, lang, title, "login", here).await;
    Ok(no_store(render(&ForgotPage { l, f, message: None, message_is_error: false, for_password, sent })?))
}

pub async fn forgot_password_page(State(state): State<AppState>, lang: Lang) -> HtmlResult<Response> {
    forgot_view(&state, lang, true, false, FormView::default()).await
}

pub async fn forgot_username_page(State(state): State<AppState>, lang: Lang) -> HtmlResult<Response> {
    forgot_view(&state, lang, false, false, FormView::default()).await
}

/// The "forgot" forms: an email (or, for the password, a username). Blank is `None`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ForgotForm {
    pub email: String,
}

impl ForgotForm {
    fn typed(&self) -> Option<&str> {
        Some(self.email.as_str()).filter(|e| !e.trim().is_empty())
    }
}

/// The same page whether or not an account exists: the lookup and the mail happen after the
/// answer, in the background.
pub async fn forgot_password(
    State(state): State<AppState>,
    lang: Lang,
    ClientIp(ip): ClientIp,
    Form(form): Form<ForgotForm>,
) -> HtmlResult<Response> {
    let Some(email) = form.typed() else {
        return forgot_view(&state, lang, true, false, FormView::default()).await;
    };
    state.accounts.forgot_password(ip, email, crate::db::now())?;
    forgot_view(&state, lang, true, true, FormView::default()).await
}

pub async fn forgot_username(
    State(state): State<AppState>,
    lang: Lang,
    ClientIp(ip): ClientIp,
    Form(form): Form<ForgotForm>,
) -> HtmlResult<Response> {
    let Some(email) = form.typed() else {
        return forgot_view(&state, lang, false, false, FormView::default()).await;
    };
    state.accounts.forgot_username(ip, email)?;
    forgot_view(&state, lang, false, true, FormView::default()).await
}

// ---------------------------------------------------------------------------------------------
// Reset password

#[derive(Template)]
#[template(path = "account/reset.html")]
pub struct ResetPage {
    pub l: Layout,
    pub f: FormView,
    pub message: Option<String>,
    pub message_is_error: bool,
}

/// The link of the mail lands here with `login` and `code` filled in.
pub async fn reset_page(State(state): State<AppState>, lang: Lang, RawQuery(raw): RawQuery) -> HtmlResult<Response> {
    let f = FormView {
        values: vec![
            ("login", query_param(&raw, "login").unwrap_or_default()),
            ("code", query_param(&raw, "code").unwrap_or_default()),
        ],
        errors: Vec::new(),
    };
    let l = page_layout(&state, lang, texts(lang).reset_title, "login", "/reset-password").await;
    Ok(no_store(render(&ResetPage { l, f, message: None, message_is_error: false })?))
}

/// `POST /reset-password`: the login and code of the mail, the new password twice.
// No `Debug`: it holds a password.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct ResetForm {
    pub login: String,
    pub code: String,
    pub password: String,
    pub confirm: String,
}

#[tracing::instrument(skip_all)]
pub async fn reset(
    State(state): State<AppState>,
    lang: Lang,
    ClientIp(ip): ClientIp,
    Form(form): Form<ResetForm>,
) -> HtmlResult<Response> {
    let now = crate::db::now();
    let r = state.accounts.reset_password(ip, &form.login, &form.code, &form.password, &form.confirm, now).await;
    match r {
        Ok(_) => {
            // Every session of the account ended, this browser's too.
            Ok(clear_session(see_other("/login?done=reset"), &state.accounts.settings))
        }
        Err(AccountError::Invalid(errors)) => {
            let l = page_layout(&state, lang, texts(lang).reset_title, "login", "/reset-password").await;
            let f = FormView::keep(&[("login", &form.login), ("code", &form.code)]).with_errors(lang, &errors);
            let view = ResetPage { l, f, message: None, message_is_error: true };
            Ok(no_store((StatusCode::UNPROCESSABLE_ENTITY, render(&view)?).into_response()))
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// A short message page

#[derive(Template)]
#[template(path = "account/notice.html")]
pub struct NoticePage {
    pub l: Layout,
    pub heading: String,
    pub text: String,
    pub link: String,
    pub link_text: String,
}

pub async fn notice(
    state: &AppState,
    lang: Lang,
    heading: &str,
    text: &str,
    link: &str,
    link_text: &str,
) -> HtmlResult<Response> {
    let l = page_layout(state, lang, heading, "", "/").await;
    Ok(no_store(render(&NoticePage {
        l,
        heading: heading.to_owned(),
        text: text.to_owned(),
        link: link.to_owned(),
        link_text: link_text.to_owned(),
    })?))
}

/// Registration, login, logout and the forgotten password and login name.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/register", get(register_page).post(register))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/forgot-password", get(forgot_password_page).post(forgot_password))
        .route("/forgot-username", get(forgot_username_page).post(forgot_username))
        .route("/reset-password", get(reset_page).post(reset))
}
