//! `/me/profile`: display name, fuels, litres and language; the email and password changes;
//! the export and the deletion of the account.

use super::*;

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
    /// The vehicle's fuel (the route form's default).
    pub vehicle_fuels: Vec<FuelOption>,
    pub r: &'static crate::text::route::RouteStrings,
}

/// The profile page, with `f` holding what was typed and any errors (or the stored values).
pub(super) async fn profile_view(
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
        let (account, fuel_ids, pending, vehicle) = tokio::try_join!(
            users::by_id(&state.db, user.user_id),
            users::fuels(&state.db, user.user_id),
            email_changes::pending_for(&state.db, user.user_id, now),
            crate::db::routes::vehicle(&state.db, user.user_id),
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
            (
                "vehicle_fuel",
                vehicle
                    .and_then(|v| Fuel::from_id(i64::from(v.fuel)))
                    .or_else(|| selected.first().copied())
                    .unwrap_or(Fuel::Gazole)
                    .name()
                    .to_owned(),
            ),
            ("tank_litres", vehicle.map(|v| v.tank_litres.to_string()).unwrap_or_else(|| "40".into())),
            ("consumption", vehicle.map(|v| v.consumption.to_string()).unwrap_or_else(|| "6.5".into())),
        ];
        for (k, v) in defaults {
            if f.v(k).is_empty() {
                f.values.push((k, v));
            }
        }
        let a = strings(lang);
        let vehicle_fuels = Fuel::ALL
            .iter()
            .map(|x| FuelOption { name: x.name(), selected: x.name() == f.v("vehicle_fuel") })
            .collect();
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
            vehicle_fuels,
            r: crate::text::route::strings(lang),
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

/// `POST /me/profile`: the texts as typed (shown again when wrong), the language and fuels
/// already decoded.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ProfileForm {
    pub display_name: String,
    pub litres: String,
    #[serde(deserialize_with = "de::lang")]
    pub lang: Option<Lang>,
    #[serde(deserialize_with = "de::fuels")]
    pub fuel: Vec<Fuel>,
}

/// A profile form that parsed.
struct Profile {
    name: DisplayName,
    litres: i32,
    lang: Option<Lang>,
    fuels: Vec<Fuel>,
}

impl ProfileForm {
    /// The profile in domain types, or the form again with a message next to each wrong field.
    fn parse(self, lang: Lang) -> Result<Profile, FormView> {
        let name = DisplayName::parse(&self.display_name);
        let litres = self.litres.trim().parse::<i32>().ok().filter(|l| (1..=100_000).contains(l));
        let (Ok(name), Some(litres)) = (&name, litres) else {
            let shown_lang = self.lang.map(Lang::code).unwrap_or_default();
            let mut f =
                FormView::keep(&[("display_name", &self.display_name), ("litres", &self.litres), ("lang", shown_lang)]);
            if let Err(e) = name {
                let problem = crate::services::accounts::Problem::Input(e);
                f.errors.push(("display_name", problem_text(lang, Field::DisplayName, &problem)));
            }
            if litres.is_none() {
                f.errors.push(("litres", strings(lang).litres_invalid.to_owned()));
            }
            return Err(f);
        };
        Ok(Profile { name: name.clone(), litres, lang: self.lang, fuels: self.fuel })
    }
}

/// Display name, fuels, litres a year, language.
pub async fn save_profile(
    State(state): State<AppState>,
    lang: Lang,
    user: SignedIn,
    Form(form): Form<ProfileForm>,
) -> HtmlResult<Response> {
    let p = match form.parse(lang) {
        Ok(p) => p,
        Err(f) => {
            return profile_view(&state, lang, &user, Some(f), (None, true), StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let new_lang = p.lang.unwrap_or(lang);
    let fuels: Vec<i16> = p.fuels.iter().map(|f| f.id()).collect();
    users::update_profile(&state.db, user.user_id, p.name.as_str(), new_lang.code(), p.litres).await?;
    users::set_fuels(&state.db, user.user_id, &fuels).await?;
    let mut resp = see_other("/me/profile?msg=saved");
    resp.headers_mut().append(header::SET_COOKIE, lang_cookie(new_lang, state.accounts.settings.secure_cookies));
    Ok(resp)
}

/// The answer to a profile form that checks the current password (email, password, deletion):
/// `done` when the account service went through; else the profile page again, with `kept` typed
/// back and each problem next to its field (a wrong or blocked current password next to
/// `current_key`, the password field of that form); any other error is the error page.
async fn password_checked(
    state: &AppState,
    lang: Lang,
    user: &SignedIn,
    result: Result<(), AccountError>,
    done: Response,
    mut f: FormView,
    current_key: &'static str,
) -> HtmlResult<Response> {
    let status = match result {
        Ok(()) => return Ok(done),
        Err(AccountError::Invalid(errors)) => {
            for (field, p) in &errors {
                let key = if *field == Field::Current { current_key } else { crate::web::form::field_name(*field) };
                f.errors.push((key, problem_text(lang, *field, p)));
            }
            StatusCode::UNPROCESSABLE_ENTITY
        }
        // Too many wrong passwords: the login's message and wait, next to the field.
        Err(AccountError::Blocked(secs)) => {
            f.errors.push((current_key, (strings(lang).login_blocked)(secs.unsigned_abs())));
            StatusCode::TOO_MANY_REQUESTS
        }
        Err(other) => return Err(other.into()),
    };
    profile_view(state, lang, user, Some(f), (None, true), status).await
}

/// `POST /me/email`: the current password and the new address.
// No `Debug`: it holds a password.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct EmailChangeForm {
    pub current: String,
    pub email: String,
}

/// Asks for an email change (field `current`: the current password). An address in use by
/// another account gets the same answer as any other.
pub async fn change_email(
    State(state): State<AppState>,
    lang: Lang,
    user: SignedIn,
    ClientIp(ip): ClientIp,
    Form(form): Form<EmailChangeForm>,
) -> HtmlResult<Response> {
    let r = state.accounts.request_email_change(user.user_id, ip, &form.current, &form.email, crate::db::now()).await;
    let kept = FormView::keep(&[("email", &form.email)]);
    password_checked(&state, lang, &user, r, see_other("/me/profile?msg=email_sent"), kept, "email_current").await
}

/// "Resend the link" while the address waits for confirmation.
pub async fn resend_confirmation(State(state): State<AppState>, user: SignedIn) -> HtmlResult<Response> {
    state.accounts.resend_confirmation(user.user_id, crate::db::now()).await?;
    Ok(see_other("/me/profile?msg=link_sent"))
}

/// `POST /me/password`: the current password, the new one twice.
// No `Debug`: it holds passwords.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct PasswordChangeForm {
    pub current: String,
    pub password: String,
    pub confirm: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    lang: Lang,
    user: SignedIn,
    ClientIp(ip): ClientIp,
    Form(form): Form<PasswordChangeForm>,
) -> HtmlResult<Response> {
    let (id, now) = (user.user_id, crate::db::now());
    let r =
        state.accounts.change_password(id, ip, &form.current, &form.password, &form.confirm, &user.token, now).await;
    let done = see_other("/me/profile?msg=password_changed");
    password_checked(&state, lang, &user, r, done, FormView::default(), "current").await
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

/// `POST /me/delete`: the password.
// No `Debug`: it holds a password.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct DeleteForm {
    pub password: String,
}

/// Erases the account (password required) and logs out.
pub async fn delete_account(
    State(state): State<AppState>,
    lang: Lang,
    user: SignedIn,
    ClientIp(ip): ClientIp,
    Form(form): Form<DeleteForm>,
) -> HtmlResult<Response> {
    let r = state.accounts.delete_account(user.user_id, ip, &form.password, crate::db::now()).await;
    let done = clear_session(see_other("/login?done=deleted"), &state.accounts.settings);
    password_checked(&state, lang, &user, r, done, FormView::default(), "delete").await
}
