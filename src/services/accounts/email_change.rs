//! The address of an account: its confirmation link, a change (confirmed at the new address,
//! cancellable from the old one) and the links that confirm or cancel it.

use super::*;
use crate::domain::UserId;

impl Accounts {
    /// Records the unconfirmed address of `user` as pending and mails it a confirmation link,
    /// unless another account confirmed that address: then the pending row is recorded just the
    /// same (the profile and the export cannot tell), its link is never sent, and at registration
    /// (`tell_owner`) the owner of the address is told.
    pub(super) async fn send_confirmation(
        &self,
        user: &users::UserRow,
        tell_owner: bool,
        now: i64,
    ) -> Result<(), AccountError> {
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
                tracing::info!(user_id = user.id.get(), "address confirmed by another account: no link sent");
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
    pub async fn resend_confirmation(&self, user_id: UserId, now: i64) -> Result<(), AccountError> {
        self.rate(Action::EmailChange, RateKey::User(user_id))?;
        match users::by_id(&self.db, user_id).await? {
            Some(user) if !user.email_confirmed => self.send_confirmation(&user, false, now).await,
            _ => Ok(()),
        }
    }

    /// Starts an email change (the current password required): the new address gets a
    /// confirmation link, the current one is told, with a link that cancels the change; nothing
    /// changes until the first link is followed. An address already used by another account gets
    /// the same answer, but no link: its owner is told instead.
    pub async fn request_email_change(
        &self,
        user_id: UserId,
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
                tracing::info!(user_id = user_id.get(), "email change to an address in use: its owner is told");
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
        tracing::info!(user_id = change.user_id.get(), sessions_ended = ended, "email change cancelled");
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
            tracing::info!(user_id = user.id.get(), "address confirmed");
            return Ok(Some(Confirmed::Address));
        }
        // Where the old address may be told, found before it changes.
        let old = self.mailbox(&user).await?;
        users::set_email(&self.db, user.id, email.as_str(), &email.key()).await?;
        tracing::info!(user_id = user.id.get(), "email changed");
        // Told at the old address: if it was not its owner, they know.
        if let Some(mailbox) = old {
            let what = SecurityEvent::EmailChanged { new_address: email.as_str().to_owned() };
            let kind = EmailKind::SecurityNotice { display_name: mailbox.greeting, what };
            self.send_later(mailbox.to, Email { lang: Lang::parse(&user.lang).unwrap_or(Lang::Fr), kind });
        }
        Ok(Some(Confirmed::Changed))
    }
}
