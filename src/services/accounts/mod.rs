//! The account rules, between the web forms and the database: registering, logging in with a
//! growing delay after repeated failures, sessions, recovering a password or a username by
//! email, changing password and email, exporting and deleting everything.
//!
//! Nothing here knows about HTTP. Times are passed in as Unix seconds (`now`) so tests can
//! travel in time; mail goes through [`Mailer`] in a background task, so that a request costs
//! the same whether or not an account exists and a slow mail server never holds a page.

use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;

use crate::auth::rate_limit::{Action, RateKey, RateLimiter, client_key};
use crate::auth::{password, secret};
use crate::db::{Db, email_changes, favourites, login_failures, reset_codes, sessions, users};
use crate::domain::Lang;
use crate::domain::{
    AccountInputError, DisplayName, EmailAddress, Fuel, NewPassword, Password, SavedRouteId, StationId, UserId,
    Username, rfc3339,
};
use crate::email::{Email, EmailKind, Mailer, Recipient, SecurityEvent};

mod email_change;
pub mod export_alerts;
mod login;
mod reset;

/// A browser-session login ends after this long without activity.
pub const SESSION_IDLE_SECS: i64 = 12 * 3600;
/// "Remember me": 30 days from login.
pub const SESSION_REMEMBER_SECS: i64 = 30 * 86_400;
/// Activity is written back at most this often (a write per page view would be wasted).
pub const SESSION_TOUCH_SECS: i64 = 300;
pub const RESET_CODE_SECS: i64 = 15 * 60;
/// Wrong tries one client gets on a code (another client keeps its own tries).
pub const RESET_MAX_ATTEMPTS: i32 = 5;
/// Wrong tries a code takes from all clients together before it dies.
pub const RESET_MAX_ATTEMPTS_TOTAL: i32 = 50;
/// Reset mails per account and requesting client per hour, across all instances (counted in the
/// database)…
pub const RESET_CODES_PER_HOUR: i64 = 3;
/// …and per account from all clients together (the admin console and the command line included).
pub const RESET_CODES_PER_HOUR_ACCOUNT: i64 = 10;
pub const EMAIL_CHANGE_SECS: i64 = 24 * 3600;
/// Failed password checks a login name takes from one client without delay; from the next one
/// on, each failure doubles that client's wait, from 30 s up to an hour.
pub const FREE_FAILED_LOGINS: i32 = 10;
/// A client's run of failures on a name is forgotten after this long without a failure.
pub const FAILED_LOGINS_FORGOTTEN_SECS: i64 = 86_400;
/// Failures of a name from all clients together in an hour, beyond which everyone waits for the
/// end of that hour: far above what its owner types, it stops a guessing spread over addresses.
pub const FAILED_LOGINS_CEILING: i32 = 100;

/// Settings of the account pages and mails.
#[derive(Debug, Clone)]
pub struct AccountSettings {
    /// Where people reach this server (`https://carburoam.example.org`), for links in mails and
    /// for the CSRF origin check. No trailing slash.
    pub public_url: String,
    /// Send cookies with `Secure` (the public URL is https).
    pub secure_cookies: bool,
    /// Read the client address from `X-Forwarded-For` (only behind a reverse proxy that sets it).
    pub behind_proxy: bool,
}

impl AccountSettings {
    pub fn new(public_url: &str, behind_proxy: bool) -> AccountSettings {
        let public_url = public_url.trim().trim_end_matches('/').to_owned();
        AccountSettings { secure_cookies: public_url.starts_with("https://"), public_url, behind_proxy }
    }
}

/// What the account rules need: the database, the mailer, the settings and the rate limits.
#[derive(Debug, Clone)]
pub struct Accounts {
    pub db: Db,
    pub mailer: Mailer,
    pub settings: Arc<AccountSettings>,
    pub limiter: Arc<RateLimiter>,
    /// Mails being sent in the background, awaited at shutdown ([`Accounts::finish_sending`]).
    pub outgoing: tokio_util::task::TaskTracker,
}

/// A form field an error belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Username,
    DisplayName,
    Email,
    Password,
    Confirm,
    Current,
    Code,
}

/// What is wrong with a field.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    Input(AccountInputError),
    Taken,
    Mismatch,
    WrongPassword,
    /// Wrong, unknown, expired or used code: one answer for all, whether the account exists or not.
    BadCode,
}

pub type FieldErrors = Vec<(Field, Problem)>;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("invalid form")]
    Invalid(FieldErrors),
    #[error("wrong login or password")]
    BadLogin,
    #[error("too many failed logins: wait {0} s")]
    Blocked(i64),
    #[error("account disabled")]
    Disabled,
    #[error("too many requests: wait {0} s")]
    RateLimited(u64),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<users::InsertUserError> for AccountError {
    fn from(e: users::InsertUserError) -> Self {
        match e {
            users::InsertUserError::UsernameTaken => AccountError::Invalid(vec![(Field::Username, Problem::Taken)]),
            users::InsertUserError::EmailTaken => AccountError::Invalid(vec![(Field::Email, Problem::Taken)]),
            users::InsertUserError::Db(e) => AccountError::Db(e),
        }
    }
}

/// The counter a login name is kept under: the name as typed, normalised, hashed. Unknown names
/// are counted exactly like existing ones, and a username and its email are two names.
pub fn login_subject(typed: &str) -> String {
    secret::digest(&format!("login:{}", typed.trim().to_lowercase()))
}

/// The wait after `failures` failed logins in a row (0 while under the free allowance).
pub fn login_delay(failures: i32) -> i64 {
    if failures < FREE_FAILED_LOGINS {
        return 0;
    }
    let doublings = (failures - FREE_FAILED_LOGINS).min(7) as u32;
    (30_i64 << doublings).min(3600)
}

pub struct Registration<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    pub confirm: &'a str,
    pub lang: Lang,
    pub fuels: Vec<Fuel>,
}

/// What a followed confirmation link did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmed {
    /// The account's own address, waiting since registration, is confirmed.
    Address,
    /// The account moved to the new address.
    Changed,
}

/// Where mail for an account goes, and the name it greets.
struct Mailbox {
    to: Recipient,
    greeting: String,
}

/// The key of a stored address (as [`EmailAddress::key`]).
fn address_key(email: &str) -> String {
    EmailAddress::parse(email).map(|e| e.key()).unwrap_or_else(|_| email.trim().to_lowercase())
}

/// A new session: the secret for the cookie (never stored) and when it ends.
pub struct NewSession {
    pub token: String,
    pub expires_at: i64,
    pub persistent: bool,
}

/// A new password for an existing account, typed twice, judged against what the account says
/// about its owner.
fn chosen_password(new: &str, confirm: &str, user: &users::UserRow) -> Result<NewPassword, AccountError> {
    let mut errors = FieldErrors::new();
    let pw = input(
        &mut errors,
        Field::Password,
        NewPassword::parse(new, &[&user.username, &user.display_name, &user.email]),
    );
    if pw.is_some() && new != confirm {
        errors.push((Field::Confirm, Problem::Mismatch));
    }
    match (pw, errors.is_empty()) {
        (Some(pw), true) => Ok(pw),
        _ => Err(AccountError::Invalid(errors)),
    }
}

fn input<T>(errors: &mut FieldErrors, field: Field, r: Result<T, AccountInputError>) -> Option<T> {
    r.map_err(|e| errors.push((field, Problem::Input(e)))).ok()
}

impl Accounts {
    /// The account service over `db`, sending mail with `mailer`, with fresh rate limits.
    pub fn new(db: Db, settings: AccountSettings, mailer: Mailer) -> Accounts {
        Accounts {
            db,
            mailer,
            settings: Arc::new(settings),
            limiter: Arc::new(RateLimiter::default()),
            outgoing: tokio_util::task::TaskTracker::new(),
        }
    }

    fn rate(&self, action: Action, key: RateKey) -> Result<(), AccountError> {
        self.limiter.check(action, key).map_err(|wait| AccountError::RateLimited(wait.as_secs().max(1)))
    }

    /// Sends a mail without waiting for it; failures are logged (without the body).
    fn send_later(&self, to: Recipient, email: Email) {
        let mailer = self.mailer.clone();
        self.outgoing.spawn(async move {
            if let Err(e) = mailer.send(&to, &email).await {
                tracing::warn!(error = %e, subject = %email.subject(), "could not send an email");
            }
        });
    }

    /// Waits for the mails already handed over to be sent (or to fail): at shutdown, and in the
    /// command line before the process exits.
    pub async fn finish_sending(&self) {
        self.outgoing.close();
        self.outgoing.wait().await;
    }

    fn link(&self, path_and_query: &str) -> String {
        format!("{}{}", self.settings.public_url, path_and_query)
    }

    /// Creates an account. Every field is checked and every problem reported at once. Its address
    /// starts unconfirmed and gets a confirmation link; an address another account confirmed
    /// gives the same account and the same answer, but no link: the owner of the address is told
    /// instead, and the new account can never confirm it. A taken username is still said.
    #[tracing::instrument(skip_all, fields(username = %r.username))]
    pub async fn register(&self, ip: IpAddr, r: &Registration<'_>, now: i64) -> Result<UserId, AccountError> {
        self.rate(Action::Register, RateKey::Ip(ip))?;
        let id = self.insert_account(r, false, now).await?;
        let user = users::by_id(&self.db, id).await?.ok_or(AccountError::BadLogin)?;
        self.send_confirmation(&user, true, now).await?;
        Ok(id)
    }

    /// [`Accounts::register`] without the rate limit, the address confirmed (the operator typed
    /// it): for the operator's command line.
    pub async fn create(&self, r: &Registration<'_>, now: i64) -> Result<UserId, AccountError> {
        self.insert_account(r, true, now).await
    }

    async fn insert_account(&self, r: &Registration<'_>, confirmed: bool, now: i64) -> Result<UserId, AccountError> {
        let mut errors = FieldErrors::new();
        let username = input(&mut errors, Field::Username, Username::parse(r.username));
        let display = input(&mut errors, Field::DisplayName, DisplayName::parse(r.display_name));
        let email = input(&mut errors, Field::Email, EmailAddress::parse(r.email));
        let pw = input(
            &mut errors,
            Field::Password,
            NewPassword::parse(r.password, &[r.username.trim(), r.display_name.trim(), r.email.trim()]),
        );
        if pw.is_some() && r.password != r.confirm {
            errors.push((Field::Confirm, Problem::Mismatch));
        }
        let (Some(username), Some(display), Some(email), Some(pw), true) =
            (username, display, email, pw, errors.is_empty())
        else {
            return Err(AccountError::Invalid(errors));
        };
        let hash = password::hash(&pw).await?;
        let fuels: Vec<i16> = r.fuels.iter().map(|f| f.id()).collect();
        let id = users::insert(
            &self.db,
            &users::NewUser {
                username: username.as_str(),
                username_key: &username.key(),
                display_name: display.as_str(),
                email: email.as_str(),
                email_key: &email.key(),
                email_confirmed: confirmed,
                password_hash: &hash,
                lang: r.lang.code(),
                fuels: &fuels,
                now,
            },
        )
        .await?;
        tracing::info!(user_id = id.get(), "account created");
        Ok(id)
    }

    /// Where mail for `user` may go: a confirmed address, or an unconfirmed one that no other
    /// account confirmed (never to the owner of an address someone else typed). `None`: nowhere.
    async fn mailbox(&self, user: &users::UserRow) -> Result<Option<Mailbox>, AccountError> {
        if user.email_confirmed {
            let to = Recipient { address: user.email.clone(), name: Some(user.display_name.clone()) };
            return Ok(Some(Mailbox { to, greeting: user.display_name.clone() }));
        }
        if users::confirmed_by_other(&self.db, &address_key(&user.email), user.id).await? {
            return Ok(None);
        }
        // Not confirmed yet: no text the user chose, only the username.
        let to = Recipient { address: user.email.clone(), name: None };
        Ok(Some(Mailbox { to, greeting: user.username.clone() }))
    }

    /// Tells the address of `user` (see [`Accounts::mailbox`]) what happened.
    async fn notify(&self, user: &users::UserRow, what: SecurityEvent) -> Result<(), AccountError> {
        let Some(mailbox) = self.mailbox(user).await? else {
            return Ok(());
        };
        let email = Email {
            lang: Lang::parse(&user.lang).unwrap_or(Lang::Fr),
            kind: EmailKind::SecurityNotice { display_name: mailbox.greeting, what },
        };
        self.send_later(mailbox.to, email);
        Ok(())
    }

    /// Erases the account and everything tied to it (password required).
    pub async fn delete_account(&self, user_id: UserId, ip: IpAddr, pw: &str, now: i64) -> Result<(), AccountError> {
        let user = self.check_password(user_id, ip, pw, Field::Current, now).await?;
        let pending = email_changes::pending_for(&self.db, user_id, now).await?;
        users::delete(&self.db, user_id).await?;
        tracing::info!(user_id = user_id.get(), "account deleted");
        self.forget_account(&user, pending).await?;
        Ok(())
    }

    /// What follows the deletion of `user`'s row: its failure counts go; in the background (the
    /// checkpoint may wait for a running import), the SQLite write-ahead log is emptied (the row
    /// was zeroed in the file by `secure_delete`) and the outbox mails to its addresses are
    /// deleted. The owner is told by mail, unless mail only goes to the outbox (the notice would
    /// be the account's data left behind).
    pub async fn forget_account(
        &self,
        user: &users::UserRow,
        pending_email: Option<String>,
    ) -> Result<(), AccountError> {
        self.clear_failures(user).await?;
        let (db, mailer, user_id) = (self.db.clone(), self.mailer.clone(), user.id);
        let addresses: Vec<String> = std::iter::once(user.email.clone()).chain(pending_email).collect();
        self.outgoing.spawn(async move {
            match db.checkpoint(crate::db::Checkpoint::Truncate).await {
                Ok(true) => {}
                Ok(false) => tracing::warn!(
                    user_id = user_id.get(),
                    "the write-ahead log was not emptied at once (a reader holds it)"
                ),
                Err(e) => tracing::error!(user_id = user_id.get(), error = %e, "write-ahead log checkpoint failed"),
            }
            match mailer.forget_recipients(&addresses).await {
                Ok(n) => tracing::info!(user_id = user_id.get(), outbox_files = n, "account data erased"),
                Err(e) => tracing::error!(user_id = user_id.get(), error = %e, "could not clean the outbox"),
            }
        });
        if !self.mailer.writes_files() {
            self.notify(user, SecurityEvent::AccountDeleted).await?;
        }
        Ok(())
    }

    /// Everything stored about a user, for `/me/export`.
    pub async fn export(&self, user_id: UserId, now: i64) -> Result<Option<Export>, AccountError> {
        let Some(user) = users::by_id(&self.db, user_id).await? else {
            return Ok(None);
        };
        let fuels = users::fuels(&self.db, user_id).await?;
        Ok(Some(Export {
            exported_at: rfc3339(now),
            fuels: fuels.iter().filter_map(|f| Fuel::from_id(i64::from(*f))).map(|f| f.name()).collect(),
            stations: favourites::list(&self.db, user_id)
                .await?
                .into_iter()
                .map(|f| ExportStation {
                    station_id: f.station_id,
                    name: f.name,
                    position: f.position,
                    added_at: rfc3339(f.added_at),
                    address: format!("{}, {} {}", f.address, f.postcode, f.city),
                })
                .collect(),
            sessions: sessions::for_user(&self.db, user_id)
                .await?
                .into_iter()
                .map(|s| ExportSession {
                    created_at: rfc3339(s.created_at),
                    last_seen_at: rfc3339(s.last_seen_at),
                    expires_at: rfc3339(s.expires_at),
                    remember_me: s.persistent,
                })
                .collect(),
            password_resets: reset_codes::for_user(&self.db, user_id)
                .await?
                .into_iter()
                .map(|c| ExportReset {
                    requested_at: rfc3339(c.created_at),
                    expires_at: rfc3339(c.expires_at),
                    wrong_tries: c.attempts,
                    used_at: c.used_at.map(rfc3339),
                })
                .collect(),
            pending_email_change: email_changes::pending_for(&self.db, user_id, now).await?,
            alerts: export_alerts::export(&self.db, user_id).await?,
            vehicle: crate::db::routes::vehicle(&self.db, user_id).await?.map(|v| ExportVehicle {
                fuel: Fuel::from_id(i64::from(v.fuel)).map(|f| f.name()),
                tank_litres: v.tank_litres,
                consumption_l_per_100km: v.consumption,
                updated_at: rfc3339(v.updated_at),
            }),
            routes: crate::db::routes::list(&self.db, user_id)
                .await?
                .into_iter()
                .map(|r| ExportRoute {
                    id: r.id,
                    name: r.name,
                    from: r.from_label,
                    to: r.to_label,
                    via: r.via_labels.lines().map(str::to_owned).collect(),
                    fuel: Fuel::from_id(i64::from(r.fuel)).map(|f| f.name()),
                    distance_km: r.distance_km,
                    points: r.points,
                    created_at: rfc3339(r.created_at),
                })
                .collect(),
            account: ExportAccount {
                username: user.username,
                display_name: user.display_name,
                email: user.email,
                email_confirmed: user.email_confirmed,
                language: user.lang,
                litres_per_year: user.litres_per_year,
                is_admin: user.is_admin,
                created_at: rfc3339(user.created_at),
                last_login_at: user.last_login_at.map(rfc3339),
                password_changed_at: rfc3339(user.password_changed_at),
            },
        }))
    }
}

/// The export document (`/me/export`): every stored fact about the user, no secret digests.
#[derive(Debug, Serialize)]
pub struct Export {
    pub exported_at: String,
    pub account: ExportAccount,
    pub fuels: Vec<&'static str>,
    pub stations: Vec<ExportStation>,
    pub sessions: Vec<ExportSession>,
    pub password_resets: Vec<ExportReset>,
    pub pending_email_change: Option<String>,
    pub alerts: export_alerts::ExportAlerts,
    /// The route search's vehicle and saved routes.
    pub vehicle: Option<ExportVehicle>,
    pub routes: Vec<ExportRoute>,
}

#[derive(Debug, Serialize)]
pub struct ExportVehicle {
    pub fuel: Option<&'static str>,
    pub tank_litres: f64,
    pub consumption_l_per_100km: f64,
    pub updated_at: String,
}

#[derive(Debug, Serialize)]
pub struct ExportRoute {
    /// What an alert along the route names (`alerts.rules[].saved_route_id`).
    pub id: SavedRouteId,
    pub name: String,
    pub from: String,
    pub to: String,
    pub via: Vec<String>,
    pub fuel: Option<&'static str>,
    pub distance_km: f64,
    /// `lat,lon;lat,lon;…`
    pub points: String,
    pub created_at: String,
}

#[derive(Debug, Serialize)]
pub struct ExportAccount {
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub email_confirmed: bool,
    pub language: String,
    pub litres_per_year: i32,
    pub is_admin: bool,
    pub created_at: String,
    pub last_login_at: Option<String>,
    pub password_changed_at: String,
}

#[derive(Debug, Serialize)]
pub struct ExportStation {
    pub station_id: StationId,
    pub name: Option<String>,
    pub position: i32,
    pub added_at: String,
    pub address: String,
}

#[derive(Debug, Serialize)]
pub struct ExportSession {
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
    pub remember_me: bool,
}

#[derive(Debug, Serialize)]
pub struct ExportReset {
    pub requested_at: String,
    pub expires_at: String,
    pub wrong_tries: i32,
    pub used_at: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_then_cap() {
        assert_eq!(login_delay(9), 0);
        assert_eq!(login_delay(10), 30);
        assert_eq!(login_delay(11), 60);
        assert_eq!(login_delay(12), 120);
        assert_eq!(login_delay(17), 3600);
        assert_eq!(login_delay(100), 3600);
    }

    #[test]
    fn settings() {
        let s = AccountSettings::new("https://carburoam.example.org/", false);
        assert_eq!(s.public_url, "https://carburoam.example.org");
        assert!(s.secure_cookies);
        assert!(!AccountSettings::new("http://localhost:8080", false).secure_cookies);
    }
}
