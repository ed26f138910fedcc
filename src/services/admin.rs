//! What an administrator may do to accounts, from the console or the command line, each action
//! written to the audit log. Typed actions only: there is no free-form SQL and no shell, by
//! design (the operator has the host's command line for that).

use crate::db::{admin, audit, email_changes, sessions, users};
use crate::domain::UserId;
use crate::services::accounts::{AccountError, Accounts};

/// Who acted: an admin of the console, or the command line on the host.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: Option<UserId>,
    pub name: String,
}

impl Actor {
    pub fn cli() -> Actor {
        let who = std::env::var("USER").unwrap_or_else(|_| "operator".into());
        Actor { id: None, name: format!("cli ({who})") }
    }
}

/// The actions, as stored in `audit_log.action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    SendReset,
    Disable,
    Enable,
    Delete,
    Grant,
    Revoke,
    Create,
    RunEtl,
    RefreshNames,
    Backup,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::SendReset => "send-reset",
            Action::Disable => "disable",
            Action::Enable => "enable",
            Action::Delete => "delete",
            Action::Grant => "grant-admin",
            Action::Revoke => "revoke-admin",
            Action::Create => "create",
            Action::RunEtl => "run-etl",
            Action::RefreshNames => "refresh-names",
            Action::Backup => "backup",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("no such user")]
    NoSuchUser,
    #[error("the last active admin cannot lose the role or the account")]
    LastAdmin,
    #[error("this reset was not sent: the account is disabled or got its 10 codes of the last hour")]
    ResetNotSent,
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Writes one audit entry.
pub async fn record(
    accounts: &Accounts,
    actor: &Actor,
    action: Action,
    target: Option<&users::UserRow>,
    detail: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error> {
    audit::record(
        &accounts.db,
        &audit::Entry {
            at: now,
            actor_id: actor.id,
            actor: &actor.name,
            action: action.as_str(),
            target_id: target.map(|u| u.id),
            target: target.map(|u| u.username.as_str()),
            detail,
        },
    )
    .await
}

/// Applies `action` to the user `user_id` and logs it. Only account actions are accepted here.
#[tracing::instrument(skip(accounts, actor, user_id), fields(actor = %actor.name, user_id = user_id.get()))]
pub async fn act_on_user(
    accounts: &Accounts,
    actor: &Actor,
    action: Action,
    user_id: UserId,
    now: i64,
) -> Result<users::UserRow, AdminError> {
    let db = &accounts.db;
    let user = users::by_id(db, user_id).await?.ok_or(AdminError::NoSuchUser)?;
    // Locking out the last admin would leave the console to nobody: revoking, disabling and
    // deleting count the admins in the statement that acts (see `admin::unless_last_admin`).
    let guarded = |action| async move {
        match admin::unless_last_admin(db, user.id, action).await? {
            true => Ok(()),
            false => Err(AdminError::LastAdmin),
        }
    };
    match action {
        Action::SendReset => {
            if !accounts.send_reset_code(&user.username.to_lowercase(), now).await? {
                return Err(AdminError::ResetNotSent);
            }
        }
        Action::Disable => {
            guarded(admin::Guarded::Disable { at: now }).await?;
            // A disabled account is logged out everywhere at once, and its pending email change
            // (perhaps an intruder's) is dropped.
            sessions::delete_for_user(db, user.id, None).await?;
            email_changes::delete_for_user(db, user.id).await?;
        }
        Action::Enable => {
            admin::set_disabled(db, user.id, None).await?;
        }
        Action::Delete => {
            let pending = email_changes::pending_for(db, user.id, now).await?;
            guarded(admin::Guarded::Delete).await?;
            accounts.forget_account(&user, pending).await?;
        }
        Action::Grant => {
            admin::set_admin(db, user.id, true).await?;
        }
        Action::Revoke => {
            guarded(admin::Guarded::Revoke).await?;
            // Whatever admin pages were open stop working at the next request: the role is read
            // from the database at every request.
        }
        Action::Create | Action::RunEtl | Action::RefreshNames | Action::Backup => {
            return Err(AdminError::Account(AccountError::Internal(anyhow::anyhow!(
                "{} is not an action on a user",
                action.as_str()
            ))));
        }
    }
    record(accounts, actor, action, Some(&user), None, now).await?;
    tracing::info!(user_id = user.id.get(), action = action.as_str(), "admin action");
    Ok(user)
}
