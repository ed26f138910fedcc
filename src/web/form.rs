//! What the account, "me" and admin pages share: typed posted forms, showing a form again
//! with its errors, and the answers they give (never cached, 303 after a POST).

use axum::extract::{FromRequest, Request};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;

use crate::error::AppError;
use crate::services::accounts::{Field, FieldErrors};
use crate::web::i18n::Lang;
use crate::web::i18n_account::problem_text;
use crate::web::page::HtmlError;
use crate::web::session;

/// A posted form decoded into the typed struct `T` (`serde_html_form`, through axum-extra's
/// `Form`: repeated fields such as checkboxes fill a `Vec`). Fields missing from the body take
/// their `#[serde(default)]`; the CSRF field, checked before by the session middleware, is
/// ignored. A body that does not decode gets the 400 page in the viewer's language.
#[derive(Debug, Clone, Default)]
pub struct Form<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Form<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum_extra::extract::Form::<T>::from_request(req, state).await {
            Ok(axum_extra::extract::Form(v)) => Ok(Form(v)),
            Err(e) => Err(HtmlError::from(AppError::bad_request(e.body_text())).into_response()),
        }
    }
}

/// Decoders for `#[serde(deserialize_with = …)]`: each turns a field's text into a domain value
/// at the edge, lenient the way the pages always were (a tampered value is dropped, not a 400).
pub mod de {
    use serde::{Deserialize, Deserializer};

    use crate::domain::{Fuel, Lang, StationId};

    /// Fuel checkboxes (`fuel=Gazole&fuel=E10`, names or ids): unknown values dropped, sorted
    /// by id, each once.
    pub fn fuels<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Fuel>, D::Error> {
        let raw = Vec::<String>::deserialize(d)?;
        let mut v: Vec<Fuel> = raw.iter().filter_map(|s| s.parse().ok()).collect();
        v.sort_by_key(|f| f.id());
        v.dedup();
        Ok(v)
    }

    /// A checkbox posting `1`.
    pub fn checked<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        Ok(String::deserialize(d)? == "1")
    }

    /// A language code (`fr`, `en`); anything else is `None`.
    pub fn lang<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Lang>, D::Error> {
        Ok(Lang::parse(&String::deserialize(d)?))
    }

    /// A station id; anything else is `None`.
    pub fn station<'de, D: Deserializer<'de>>(d: D) -> Result<Option<StationId>, D::Error> {
        Ok(StationId::parse(&String::deserialize(d)?))
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

    /// The form again with these values typed (never pass password fields here).
    pub fn keep(values: &[(&'static str, &str)]) -> FormView {
        FormView { values: values.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(), errors: Vec::new() }
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
pub fn no_store(resp: Response) -> Response {
    crate::web::cache_control::CachePolicy::NoStore.set(resp)
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
