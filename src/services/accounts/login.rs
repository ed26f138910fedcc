//! Logging in, with a growing delay after repeated failures; sessions; the current-password
//! check of the profile forms, counted like a login; changing the password.

use super::*;
use crate::domain::UserId;

impl Accounts {
    /// Checks a login (username or email) and password. The same argon2 work and the same
    /// counting are done whether or not the account exists. From the 11th failure in a row on a
    /// name from one client, that client waits, longer each time; the owner's right password from
    /// another client still works, unless the name took [`FAILED_LOGINS_CEILING`] failures in the
    /// hour from everywhere.
    #[tracing::instrument(skip_all)]
    pub async fn login(&self, ip: IpAddr, login: &str, pw: &str, now: i64) -> Result<UserId, AccountError> {
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
            tracing::info!(user_id = user.map(|u| u.id.get()), wait, "failed login");
            return Err(if wait > 0 { AccountError::Blocked(wait) } else { AccountError::BadLogin });
        };
        if c.disabled_at.is_some() {
            return Err(AccountError::Disabled);
        }
        login_failures::clear(&self.db, &subject, &client).await?;
        users::record_login(&self.db, c.id, now).await?;
        tracing::info!(user_id = c.id.get(), "logged in");
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
    pub(super) async fn clear_failures(&self, user: &users::UserRow) -> Result<(), AccountError> {
        let names = [login_subject(&user.username), login_subject(&user.email)];
        login_failures::clear_subjects(&self.db, &[&names[0], &names[1]]).await?;
        Ok(())
    }

    /// Opens a session for `user_id` with a fresh random id (a new id at every login: a session
    /// id planted before login is worthless).
    pub async fn start_session(&self, user_id: UserId, remember: bool, now: i64) -> Result<NewSession, AccountError> {
        let token = secret::token();
        let expires_at = now + if remember { SESSION_REMEMBER_SECS } else { SESSION_IDLE_SECS };
        sessions::insert(&self.db, &secret::digest(&token), user_id, now, expires_at, remember).await?;
        Ok(NewSession { token, expires_at, persistent: remember })
    }

    pub async fn end_session(&self, token: &str) -> Result<(), AccountError> {
        sessions::delete(&self.db, &secret::digest(token)).await?;
        Ok(())
    }

    /// Checks the current password of a signed-in user from `ip`: counted like a login (same
    /// counters, same waits).
    pub(super) async fn check_password(
        &self,
        user_id: UserId,
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
            tracing::info!(user_id = user_id.get(), wait, "wrong current password");
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
        user_id: UserId,
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
        tracing::info!(user_id = user_id.get(), sessions_ended = ended, "password changed");
        self.notify(&user, SecurityEvent::PasswordChanged).await?;
        Ok(())
    }
}
