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
use crate::domain::{AccountInputError, DisplayName, EmailAddress, Fuel, NewPassword, Password, Username, rfc3339};
use crate::email::{Email, EmailKind, Mailer, Recipient, SecurityEvent};

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
    pub async fn register(&self, ip: IpAddr, r: &Registration<'_>, now: i64) -> Result<i64, AccountError> {
        self.rate(Action::Register, RateKey::Ip(ip))?;
        let id = self.insert_account(r, false, now).await?;
        let user = users::by_id(&self.db, id).await?.ok_or(AccountError::BadLogin)?;
        self.send_confirmation(&user, true, now).await?;
        Ok(id)
    }

    /// [`Accounts::register`] without the rate limit, the address confirmed (the operator typed
    /// it): for the operator's command line.
    pub async fn create(&self, r: &Registration<'_>, now: i64) -> Result<i64, AccountError> {
        self.insert_account(r, true, now).await
    }

    async fn insert_account(&self, r: &Registration<'_>, confirmed: bool, now: i64) -> Result<i64, AccountError> {
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
        tracing::info!(user_id = id, "account created");
        Ok(id)
    }

    /// Records the unconfirmed address of `user` as pending and mails it a confirmation link,
    /// unless another account confirmed that address: then the pending row is recorded just the
    /// same (the profile and the export cannot tell), its link is never sent, and at registration
    /// (`tell_owner`) the owner of the address is told.
    async fn send_confirmation(&self, user: &users::UserRow, tell_owner: bool, now: i64) -> Result<(), AccountError> {
        let owner = users::by_email(&self.db, &address_key(&user.email)).await?.filter(|o| o.id != user.id);
        let token = secret::token();
        email_changes::insert(
            &self.db,
            user.id,
            &user.email,
            &secret::digest(&token),
            None,
            now,
            now + EMAIL_CHANGE_SECS,
        )
        .await?;
        match owner {
            Some(owner) => {
                tracing::info!(user_id = user.id, "address confirmed by another account: no link sent");
                if tell_owner {
                    self.tell_address_in_use(&owner);
                }
            }
            None => {
                let kind = EmailKind::ConfirmEmail {
                    display_name: user.username.clone(),
                    link: self.link(&format!("/me/email/confirm?token={token}")),
                    valid_hours: (EMAIL_CHANGE_SECS / 3600) as u32,
                };
                let email = Email { lang: Lang::parse(&user.lang).unwrap_or(Lang::Fr), kind };
                self.send_later(Recipient { address: user.email.clone(), name: None }, email);
            }
        }
        Ok(())
    }

    /// "Resend the link" of the profile, while the address waits for confirmation: the same
    /// answer whether or not another account confirmed the address (then nothing is sent).
    pub async fn resend_confirmation(&self, user_id: i64, now: i64) -> Result<(), AccountError> {
        self.rate(Action::EmailChange, RateKey::User(user_id))?;
        match users::by_id(&self.db, user_id).await? {
            Some(user) if !user.email_confirmed => self.send_confirmation(&user, false, now).await,
            _ => Ok(()),
        }
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

    /// Checks a login (username or email) and password. The same argon2 work and the same
    /// counting are done whether or not the account exists. From the 11th failure in a row on a
    /// name from one client, that client waits, longer each time; the owner's right password from
    /// another client still works, unless the name took [`FAILED_LOGINS_CEILING`] failures in the
    /// hour from everywhere.
    #[tracing::instrument(skip_all)]
    pub async fn login(&self, ip: IpAddr, login: &str, pw: &str, now: i64) -> Result<i64, AccountError> {
        self.rate(Action::Login, RateKey::Ip(ip))?;
        let key = login.trim().to_lowercase();
        let (subject, client) = (login_subject(&key), client_key(ip));
        self.throttle(&subject, &client, now).await?;
        let user = if key.is_empty() { None } else { users::by_login(&self.db, &key).await? };
        let creds = match &user {
            Some(u) => users::credentials(&self.db, u.id).await?,
            None => None,
        };
        let ok = password::verify(&Password::new(pw), creds.as_ref().map(|c| c.password_hash.as_str())).await?;
        let Some(c) = creds.filter(|_| ok) else {
            let wait = self.count_failure(&subject, &client, now).await?;
            tracing::info!(user_id = user.map(|u| u.id), wait, "failed login");
            return Err(if wait > 0 { AccountError::Blocked(wait) } else { AccountError::BadLogin });
        };
        if c.disabled_at.is_some() {
            return Err(AccountError::Disabled);
        }
        login_failures::clear(&self.db, &subject, &client).await?;
        users::record_login(&self.db, c.id, now).await?;
        tracing::info!(user_id = c.id, "logged in");
        Ok(c.id)
    }

    /// `Err(Blocked)` while `client` (or everyone) must wait before checking a password of
    /// `subject`.
    async fn throttle(&self, subject: &str, client: &str, now: i64) -> Result<(), AccountError> {
        match login_failures::blocked_until(&self.db, subject, client, now).await? {
            Some(until) => Err(AccountError::Blocked(until - now)),
            None => Ok(()),
        }
    }

    /// Counts a failed password check; returns the wait it starts (0: none).
    async fn count_failure(&self, subject: &str, client: &str, now: i64) -> Result<i64, AccountError> {
        let (failures, _) =
            login_failures::record(&self.db, subject, client, now, now - FAILED_LOGINS_FORGOTTEN_SECS).await?;
        let mut wait = login_delay(failures);
        if wait > 0 {
            login_failures::block(&self.db, subject, client, now + wait).await?;
        }
        let all = login_failures::ALL_CLIENTS;
        let (total, since) = login_failures::record(&self.db, subject, all, now, now - 3600).await?;
        if total >= FAILED_LOGINS_CEILING {
            login_failures::block(&self.db, subject, all, since + 3600).await?;
            tracing::warn!(total, "failed password checks on one name reached the hourly ceiling");
            wait = wait.max(since + 3600 - now);
        }
        Ok(wait)
    }

    /// Forgets the failures counted on the names of `user` (a new password, a deleted account).
    async fn clear_failures(&self, user: &users::UserRow) -> Result<(), AccountError> {
        let names = [login_subject(&user.username), login_subject(&user.email)];
        login_failures::clear_subjects(&self.db, &[&names[0], &names[1]]).await?;
        Ok(())
    }

    /// Opens a session for `user_id` with a fresh random id (a new id at every login: a session
    /// id planted before login is worthless).
    pub async fn start_session(&self, user_id: i64, remember: bool, now: i64) -> Result<NewSession, AccountError> {
        let token = secret::token();
        let expires_at = now + if remember { SESSION_REMEMBER_SECS } else { SESSION_IDLE_SECS };
        sessions::insert(&self.db, &secret::digest(&token), user_id, now, expires_at, remember).await?;
        Ok(NewSession { token, expires_at, persistent: remember })
    }

    pub async fn end_session(&self, token: &str) -> Result<(), AccountError> {
        sessions::delete(&self.db, &secret::digest(token)).await?;
        Ok(())
    }

    /// "Forgot password": mails a code to the account with this email (or username), if any.
    /// The caller shows the same page either way; the work happens in the background.
    pub fn forgot_password(&self, ip: IpAddr, login: &str, now: i64) -> Result<(), AccountError> {
        self.rate(Action::Forgot, RateKey::Ip(ip))?;
        let this = self.clone();
        let key = login.trim().to_lowercase();
        tokio::spawn(async move {
            if let Err(e) = this.issue_reset_code(&key, Some(ip), now).await {
                tracing::error!(error = %e, "password reset request failed");
            }
        });
        Ok(())
    }

    /// Issues and mails a reset code for the admin console and the command line. `Ok(false)`:
    /// no such account, or its hourly ceiling of codes is reached.
    pub async fn send_reset_code(&self, login_key: &str, now: i64) -> Result<bool, AccountError> {
        self.issue_reset_code(login_key, None, now).await
    }

    /// Issues and mails a reset code asked for by `from` (`None`: an operator), within the
    /// allowance of that client on the account and the account's ceiling.
    async fn issue_reset_code(&self, login_key: &str, from: Option<IpAddr>, now: i64) -> Result<bool, AccountError> {
        let Some(user) = users::by_login(&self.db, login_key).await? else {
            return Ok(false);
        };
        if user.disabled_at.is_some() {
            return Ok(false);
        }
        let Some(mailbox) = self.mailbox(&user).await? else {
            tracing::info!(user_id = user.id, "reset code not sent: the address is another account's");
            return Ok(false);
        };
        let client = from.map(client_key);
        let (all, mine) =
            reset_codes::issued_since(&self.db, user.id, now - 3600, client.as_deref().unwrap_or("")).await?;
        if all >= RESET_CODES_PER_HOUR_ACCOUNT || (client.is_some() && mine >= RESET_CODES_PER_HOUR) {
            tracing::info!(user_id = user.id, all, mine, "reset code not sent: hourly allowance spent");
            return Ok(false);
        }
        let code = secret::reset_code();
        reset_codes::issue(
            &self.db,
            user.id,
            &secret::digest(&secret::normalize_code(&code)),
            client.as_deref(),
            now,
            now + RESET_CODE_SECS,
        )
        .await?;
        let q = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("login", &user.username)
            .append_pair("code", &code)
            .finish();
        let email = Email {
            lang: Lang::parse(&user.lang).unwrap_or(Lang::Fr),
            kind: EmailKind::PasswordReset {
                username: user.username.clone(),
                code,
                link: self.link(&format!("/reset-password?{q}")),
                valid_minutes: (RESET_CODE_SECS / 60) as u32,
            },
        };
        tracing::info!(user_id = user.id, "password reset code issued");
        self.send_later(mailbox.to, email);
        Ok(true)
    }

    /// "Forgot username": mails the username to this address, if an account has it.
    pub fn forgot_username(&self, ip: IpAddr, email: &str) -> Result<(), AccountError> {
        self.rate(Action::ForgotUsername, RateKey::Ip(ip))?;
        let this = self.clone();
        let key = email.trim().to_lowercase();
        tokio::spawn(async move {
            if let Err(e) = this.remind_usernames(&key).await {
                tracing::error!(error = %e, "username reminder failed");
            }
        });
        Ok(())
    }

    /// Mails the usernames of the address `key`: the account that confirmed it, or else every
    /// account waiting to confirm it (the address is theirs to read).
    async fn remind_usernames(&self, key: &str) -> Result<(), AccountError> {
        let accounts = match users::by_email(&self.db, key).await? {
            Some(owner) => vec![owner],
            None => users::unconfirmed_with_email(&self.db, key).await?,
        };
        let accounts: Vec<users::UserRow> = accounts
            .into_iter()
            .filter(|u| u.disabled_at.is_none())
            .filter(|u| {
                let ok = self.limiter.check(Action::ForgotUsername, RateKey::User(u.id)).is_ok();
                if !ok {
                    tracing::info!(user_id = u.id, "username reminder not sent: allowance spent");
                }
                ok
            })
            .collect();
        let Some(first) = accounts.first() else {
            return Ok(());
        };
        let name = first.email_confirmed.then(|| first.display_name.clone());
        let email = Email {
            lang: Lang::parse(&first.lang).unwrap_or(Lang::Fr),
            kind: EmailKind::UsernameReminder {
                usernames: accounts.iter().map(|u| u.username.clone()).collect(),
                login_link: self.link("/login"),
            },
        };
        self.send_later(Recipient { address: first.email.clone(), name }, email);
        Ok(())
    }

    /// Sets a new password with a mailed code. The code is checked first (a wrong one counts as
    /// one of this client's 5 tries on every code it could have been), then the password's
    /// strength (a weak one does not spend the code). Wrong, unknown and expired codes, and
    /// unknown accounts, all get one answer. On success the code and its siblings are spent, and
    /// every session, pending email change and failure count of the user ends.
    #[tracing::instrument(skip_all)]
    pub async fn reset_password(
        &self,
        ip: IpAddr,
        login: &str,
        code: &str,
        new: &str,
        confirm: &str,
        now: i64,
    ) -> Result<i64, AccountError> {
        self.rate(Action::Reset, RateKey::Ip(ip))?;
        let bad = || AccountError::Invalid(vec![(Field::Code, Problem::BadCode)]);
        let key = login.trim().to_lowercase();
        let client = client_key(ip);
        let Some(user) = users::by_login(&self.db, &key).await? else {
            return Err(bad());
        };
        let codes =
            reset_codes::usable(&self.db, user.id, &client, now, RESET_MAX_ATTEMPTS_TOTAL, RESET_MAX_ATTEMPTS).await?;
        let typed = secret::digest(&secret::normalize_code(code));
        let Some(active) = codes.iter().find(|c| secret::same_digest(&typed, &c.code_hash)) else {
            for c in &codes {
                reset_codes::record_attempt(&self.db, c.id, &client).await?;
            }
            tracing::info!(user_id = user.id, "wrong reset code");
            return Err(bad());
        };
        let pw = chosen_password(new, confirm, &user)?;
        let hash = password::hash(&pw).await?;
        if !reset_codes::consume(&self.db, active.id, now).await? {
            return Err(bad());
        }
        users::set_password(&self.db, user.id, &hash, now).await?;
        let ended = sessions::delete_for_user(&self.db, user.id, None).await?;
        email_changes::delete_for_user(&self.db, user.id).await?;
        self.clear_failures(&user).await?;
        tracing::info!(user_id = user.id, sessions_ended = ended, "password reset");
        if !user.email_confirmed {
            // The code was mailed to this address (never to another account's): it is proven.
            match users::set_email(&self.db, user.id, &user.email, &address_key(&user.email)).await {
                Ok(()) => tracing::info!(user_id = user.id, "address confirmed by a reset code"),
                Err(users::InsertUserError::Db(e)) => return Err(e.into()),
                Err(_) => tracing::info!(user_id = user.id, "address confirmed by another account meanwhile"),
            }
        }
        self.notify(&user, SecurityEvent::PasswordChanged).await?;
        Ok(user.id)
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

    /// Checks the current password of a signed-in user from `ip`: counted like a login (same
    /// counters, same waits).
    async fn check_password(
        &self,
        user_id: i64,
        ip: IpAddr,
        pw: &str,
        field: Field,
        now: i64,
    ) -> Result<users::UserRow, AccountError> {
        let user = users::by_id(&self.db, user_id).await?.ok_or(AccountError::BadLogin)?;
        let (subject, client) = (login_subject(&user.username), client_key(ip));
        self.throttle(&subject, &client, now).await?;
        let creds = users::credentials(&self.db, user_id).await?;
        if !password::verify(&Password::new(pw), creds.as_ref().map(|c| c.password_hash.as_str())).await? {
            let wait = self.count_failure(&subject, &client, now).await?;
            tracing::info!(user_id, wait, "wrong current password");
            return Err(if wait > 0 {
                AccountError::Blocked(wait)
            } else {
                AccountError::Invalid(vec![(field, Problem::WrongPassword)])
            });
        }
        login_failures::clear(&self.db, &subject, &client).await?;
        Ok(user)
    }

    /// Changes the password (the current one required) and ends every other session of the user
    /// and any pending email change.
    #[allow(clippy::too_many_arguments)]
    pub async fn change_password(
        &self,
        user_id: i64,
        ip: IpAddr,
        current: &str,
        new: &str,
        confirm: &str,
        keep_session: &str,
        now: i64,
    ) -> Result<(), AccountError> {
        let user = self.check_password(user_id, ip, current, Field::Current, now).await?;
        let pw = chosen_password(new, confirm, &user)?;
        let hash = password::hash(&pw).await?;
        users::set_password(&self.db, user_id, &hash, now).await?;
        let ended = sessions::delete_for_user(&self.db, user_id, Some(&secret::digest(keep_session))).await?;
        email_changes::delete_for_user(&self.db, user_id).await?;
        self.clear_failures(&user).await?;
        tracing::info!(user_id, sessions_ended = ended, "password changed");
        self.notify(&user, SecurityEvent::PasswordChanged).await?;
        Ok(())
    }

    /// Starts an email change (the current password required): the new address gets a
    /// confirmation link, the current one is told, with a link that cancels the change; nothing
    /// changes until the first link is followed. An address already used by another account gets
    /// the same answer, but no link: its owner is told instead.
    pub async fn request_email_change(
        &self,
        user_id: i64,
        ip: IpAddr,
        current: &str,
        new_email: &str,
        now: i64,
    ) -> Result<(), AccountError> {
        // Each request mails two addresses: a budget of its own (not the resets').
        self.rate(Action::EmailChange, RateKey::User(user_id))?;
        let user = self.check_password(user_id, ip, current, Field::Current, now).await?;
        let email = EmailAddress::parse(new_email)
            .map_err(|e| AccountError::Invalid(vec![(Field::Email, Problem::Input(e))]))?;
        let owner = users::by_email(&self.db, &email.key()).await?.filter(|o| o.id != user_id);
        let (token, cancel) = (secret::token(), secret::token());
        email_changes::insert(
            &self.db,
            user_id,
            email.as_str(),
            &secret::digest(&token),
            Some(&secret::digest(&cancel)),
            now,
            now + EMAIL_CHANGE_SECS,
        )
        .await?;
        let lang = Lang::parse(&user.lang).unwrap_or(Lang::Fr);
        let valid_hours = (EMAIL_CHANGE_SECS / 3600) as u32;
        if let Some(mailbox) = self.mailbox(&user).await? {
            self.send_later(
                mailbox.to,
                Email {
                    lang,
                    kind: EmailKind::EmailChangeRequested {
                        display_name: mailbox.greeting,
                        new_address: email.as_str().to_owned(),
                        cancel_link: self.link(&format!("/me/email/cancel?token={cancel}")),
                        valid_hours,
                    },
                },
            );
        }
        match owner {
            Some(owner) => {
                tracing::info!(user_id, "email change to an address in use: its owner is told");
                self.tell_address_in_use(&owner);
            }
            None => {
                // An address nobody confirmed yet: no text the user chose, only the username.
                let kind = EmailKind::ConfirmEmail {
                    display_name: user.username.clone(),
                    link: self.link(&format!("/me/email/confirm?token={token}")),
                    valid_hours,
                };
                self.send_later(Recipient { address: email.as_str().to_owned(), name: None }, Email { lang, kind });
            }
        }
        Ok(())
    }

    /// Tells the owner of an address that someone offered it for another account.
    fn tell_address_in_use(&self, owner: &users::UserRow) {
        let kind = EmailKind::AddressInUse {
            username: owner.username.clone(),
            login_link: self.link("/login"),
            reset_link: self.link("/forgot-password"),
        };
        let email = Email { lang: Lang::parse(&owner.lang).unwrap_or(Lang::Fr), kind };
        self.send_later(Recipient { address: owner.email.clone(), name: Some(owner.display_name.clone()) }, email);
    }

    /// The new address of the pending change the cancel link `token` stands for, if still pending.
    pub async fn pending_cancel(&self, token: &str, now: i64) -> Result<Option<String>, AccountError> {
        Ok(email_changes::by_cancel(&self.db, &secret::digest(token), now).await?.map(|c| c.new_email))
    }

    /// Follows the cancel link mailed to the old address: the change is dropped and every session
    /// of the account ends (whoever asked for it may hold one). `false`: unknown, used or expired.
    pub async fn cancel_email_change(&self, token: &str, now: i64) -> Result<bool, AccountError> {
        let Some(change) = email_changes::cancel(&self.db, &secret::digest(token), now).await? else {
            return Ok(false);
        };
        let ended = sessions::delete_for_user(&self.db, change.user_id, None).await?;
        tracing::info!(user_id = change.user_id, sessions_ended = ended, "email change cancelled");
        Ok(true)
    }

    /// Follows a confirmation link. `Ok(None)`: unknown, used or expired link.
    pub async fn confirm_email_change(&self, token: &str, now: i64) -> Result<Option<Confirmed>, AccountError> {
        let Some(change) = email_changes::take(&self.db, &secret::digest(token), now).await? else {
            return Ok(None);
        };
        let Some(user) = users::by_id(&self.db, change.user_id).await?.filter(|u| u.disabled_at.is_none()) else {
            return Ok(None);
        };
        let email = EmailAddress::parse(&change.new_email)
            .map_err(|e| AccountError::Invalid(vec![(Field::Email, Problem::Input(e))]))?;
        if !user.email_confirmed && email.key() == address_key(&user.email) {
            users::set_email(&self.db, user.id, email.as_str(), &email.key()).await?;
            tracing::info!(user_id = user.id, "address confirmed");
            return Ok(Some(Confirmed::Address));
        }
        // Where the old address may be told, found before it changes.
        let old = self.mailbox(&user).await?;
        users::set_email(&self.db, user.id, email.as_str(), &email.key()).await?;
        tracing::info!(user_id = user.id, "email changed");
        // Told at the old address: if it was not its owner, they know.
        if let Some(mailbox) = old {
            let what = SecurityEvent::EmailChanged { new_address: email.as_str().to_owned() };
            let kind = EmailKind::SecurityNotice { display_name: mailbox.greeting, what };
            self.send_later(mailbox.to, Email { lang: Lang::parse(&user.lang).unwrap_or(Lang::Fr), kind });
        }
        Ok(Some(Confirmed::Changed))
    }

    /// Erases the account and everything tied to it (password required).
    pub async fn delete_account(&self, user_id: i64, ip: IpAddr, pw: &str, now: i64) -> Result<(), AccountError> {
        let user = self.check_password(user_id, ip, pw, Field::Current, now).await?;
        let pending = email_changes::pending_for(&self.db, user_id, now).await?;
        users::delete(&self.db, user_id).await?;
        tracing::info!(user_id, "account deleted");
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
            match users::checkpoint(&db).await {
                Ok(true) => {}
                Ok(false) => tracing::warn!(user_id, "the write-ahead log was not emptied at once (a reader holds it)"),
                Err(e) => tracing::error!(user_id, error = %e, "write-ahead log checkpoint failed"),
            }
            match mailer.forget_recipients(&addresses).await {
                Ok(n) => tracing::info!(user_id, outbox_files = n, "account data erased"),
                Err(e) => tracing::error!(user_id, error = %e, "could not clean the outbox"),
            }
        });
        if !self.mailer.writes_files() {
            self.notify(user, SecurityEvent::AccountDeleted).await?;
        }
        Ok(())
    }

    /// Everything stored about a user, for `/me/export`.
    pub async fn export(&self, user_id: i64, now: i64) -> Result<Option<Export>, AccountError> {
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
    pub station_id: i64,
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
