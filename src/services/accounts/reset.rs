//! Recovering an account by email: a reset code for a forgotten password, a reminder of a
//! forgotten username, and the reset itself.

use super::*;

impl Accounts {
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
            tracing::info!(user_id = user.id.get(), "reset code not sent: the address is another account's");
            return Ok(false);
        };
        let client = from.map(client_key);
        let (all, mine) =
            reset_codes::issued_since(&self.db, user.id, now - 3600, client.as_deref().unwrap_or("")).await?;
        if all >= RESET_CODES_PER_HOUR_ACCOUNT || (client.is_some() && mine >= RESET_CODES_PER_HOUR) {
            tracing::info!(user_id = user.id.get(), all, mine, "reset code not sent: hourly allowance spent");
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
        tracing::info!(user_id = user.id.get(), "password reset code issued");
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
                    tracing::info!(user_id = u.id.get(), "username reminder not sent: allowance spent");
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
    ) -> Result<UserId, AccountError> {
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
            tracing::info!(user_id = user.id.get(), "wrong reset code");
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
        tracing::info!(user_id = user.id.get(), sessions_ended = ended, "password reset");
        if !user.email_confirmed {
            // The code was mailed to this address (never to another account's): it is proven.
            match users::set_email(&self.db, user.id, &user.email, &address_key(&user.email)).await {
                Ok(()) => tracing::info!(user_id = user.id.get(), "address confirmed by a reset code"),
                Err(users::InsertUserError::Db(e)) => return Err(e.into()),
                Err(_) => tracing::info!(user_id = user.id.get(), "address confirmed by another account meanwhile"),
            }
        }
        self.notify(&user, SecurityEvent::PasswordChanged).await?;
        Ok(user.id)
    }
}
