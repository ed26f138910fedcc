//! What the account, "me" and admin pages share: reading posted forms, showing a form again
//! with its errors, and the answers they give (never cached, 303 after a POST).

use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};

use crate::services::accounts::{Field, FieldErrors};
use crate::domain::Fuel;
use crate::web::i18n::Lang;
use crate::web::i18n_account::problem_text;
use crate::web::session;

/// The fields of a posted form, in order (names may repeat: checkboxes).
#[derive(Debug, Default, Clone)]
pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("")
    }

    pub fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn fuels(&self) -> Vec<Fuel> {
        let mut v: Vec<Fuel> = self.all("fuel").filter_map(|s| s.parse().ok()).collect();
        v.sort_by_key(|f| f.id());
        v.dedup();
        v
    }
}

impl<S: Send + Sync> FromRequest<S> for FormData {
    type Rejection = Response;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        // The CSRF middleware already checked the type and capped the size.
        let bytes = axum::body::to_bytes(req.into_body(), session::MAX_FORM_BYTES)
            .await
            .map_err(|_| (axum::http::StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response())?;
        Ok(FormData(url::form_urlencoded::parse(&bytes).into_owned().collect()))
    }
}

/// Typed values and per-field messages of a form being shown again.
#[derive(Debug, Default)]
pub struct FormView {
    pub values: Vec<(&'static str, String)>,
    pub errors: Vec<(&'static str, String)>,
}

impl FormView {
    pub fn v(&self, name: &str) -> &str {
        self.values.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str()).unwrap_or("")
    }

    pub fn e(&self, name: &str) -> Option<&str> {
        self.errors.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }

    /// Keeps the listed fields of a posted form (never pass password fields here).
    pub fn keep(form: &FormData, names: &[&'static str]) -> FormView {
        FormView { values: names.iter().map(|n| (*n, form.get(n).to_owned())).collect(), errors: Vec::new() }
    }

    pub fn with_errors(mut self, lang: Lang, errors: &FieldErrors) -> FormView {
        for (field, problem) in errors {
            self.errors.push((field_name(*field), problem_text(lang, *field, problem)));
        }
        self
    }
}

pub fn field_name(f: Field) -> &'static str {
    match f {
        Field::Username => "username",
        Field::DisplayName => "display_name",
        Field::Email => "email",
        Field::Password => "password",
        Field::Confirm => "confirm",
        Field::Current => "current",
        Field::Code => "code",
    }
}

/// Account pages are never cached: they hold a CSRF token and personal data.
pub fn no_store(mut resp: Response) -> Response {
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// 303 See Other to `to` (after a POST, the browser GETs the target); `/` when `to` is not a
/// path of this site ([`session::safe_redirect`]).
pub fn see_other(to: &str) -> Response {
    no_store(Redirect::to(&session::safe_redirect(to, "/")).into_response())
}

/// One parameter of a raw query string, decoded.
pub fn query_param(raw: &Option<String>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Adds the `Set-Cookie` that deletes the session cookie (logout, reset, deletion).
pub fn clear_session(mut resp: Response, settings: &crate::services::accounts::AccountSettings) -> Response {
    resp.headers_mut()
        .append(header::SET_COOKIE, session::set_cookie(settings, session::session_cookie_name(settings), "", Some(0)));
    resp
}
