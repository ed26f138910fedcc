//! `carburoam admin …`: create an administrator, grant or revoke the role, send a reset.

use super::*;

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create an administrator account. The password is asked for on a terminal, else read
    /// from the first line of standard input.
    Create(AdminCreateArgs),
    /// Give the admin role to an existing account.
    Grant(AdminUserArgs),
    /// Take the admin role away (never from the last active admin).
    Revoke(AdminUserArgs),
    /// Send a password reset code to the account's email address.
    ResetPassword(AdminResetArgs),
}

#[derive(Args, Debug)]
pub struct AdminCreateArgs {
    #[command(flatten)]
    pub db: DbArgs,
    pub username: String,
    #[arg(long)]
    pub email: String,
    /// Shown name (default: the username).
    #[arg(long)]
    pub display_name: Option<String>,
}

#[derive(Args, Debug)]
pub struct AdminUserArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Username or email address.
    pub user: String,
}

#[derive(Args, Debug)]
pub struct AdminResetArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Username or email address.
    pub user: String,
    /// The server's public address, for the link in the mail.
    #[arg(long, env = "CARBUROAM_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
    pub public_url: String,
    #[command(flatten)]
    pub mail: MailArgs,
}

/// `carburoam admin …`: typed account actions for the operator, written to the audit log as
/// done by `cli (USER)`.
pub(super) async fn admin(command: AdminCommand) -> anyhow::Result<ExitCode> {
    use crate::services::admin::{Action, Actor, act_on_user};
    let now = crate::db::now();
    let (db_args, mail, public_url) = match &command {
        AdminCommand::Create(a) => (&a.db, None, None),
        AdminCommand::Grant(a) | AdminCommand::Revoke(a) => (&a.db, None, None),
        AdminCommand::ResetPassword(a) => (&a.db, Some(a.mail.settings(&a.db.data_dir)), Some(a.public_url.clone())),
    };
    let db = open_db(db_args).await?;
    let mail = mail.unwrap_or_else(|| crate::email::MailSettings {
        smtp: None,
        from: config::DEFAULT_MAIL_FROM.to_owned(),
        outbox_dir: db_args.data_dir.join("outbox"),
    });
    let accounts = &crate::services::accounts::Accounts::new(
        db.clone(),
        crate::services::accounts::AccountSettings::new(
            public_url.as_deref().unwrap_or("http://127.0.0.1:8080"),
            false,
        ),
        crate::email::Mailer::new(mail)?,
    );
    let actor = Actor::cli();
    let find = |who: &str| {
        let key = who.trim().to_lowercase();
        let db = db.clone();
        async move {
            crate::db::users::by_login(&db, &key).await?.ok_or_else(|| anyhow::anyhow!("no account named {key:?}"))
        }
    };
    let result: anyhow::Result<String> = async {
        match &command {
            AdminCommand::Create(a) => {
                let password = read_password()?;
                let reg = crate::services::accounts::Registration {
                    username: &a.username,
                    display_name: a.display_name.as_deref().unwrap_or(&a.username),
                    email: &a.email,
                    password: &password,
                    confirm: &password,
                    lang: crate::web::i18n::Lang::Fr,
                    fuels: vec![crate::domain::Fuel::E10, crate::domain::Fuel::Gazole],
                };
                let id = match accounts.create(&reg, now).await {
                    Ok(id) => id,
                    Err(crate::services::accounts::AccountError::Invalid(errors)) => {
                        let why: Vec<String> = errors
                            .iter()
                            .map(|(f, p)| crate::web::i18n_account::problem_text(crate::web::i18n::Lang::En, *f, p))
                            .collect();
                        anyhow::bail!("{}", why.join(" "));
                    }
                    Err(e) => return Err(e.into()),
                };
                crate::db::admin::set_admin(&db, id, true).await?;
                let user = crate::db::users::by_id(&db, id).await?;
                crate::services::admin::record(accounts, &actor, Action::Create, user.as_ref(), Some("admin"), now)
                    .await?;
                Ok(format!("created admin {} (id {id})", a.username))
            }
            AdminCommand::Grant(a) => {
                let u = find(&a.user).await?;
                act_on_user(accounts, &actor, Action::Grant, u.id, now).await?;
                Ok(format!("{} is now an admin", u.username))
            }
            AdminCommand::Revoke(a) => {
                let u = find(&a.user).await?;
                act_on_user(accounts, &actor, Action::Revoke, u.id, now).await?;
                Ok(format!("{} is no longer an admin", u.username))
            }
            AdminCommand::ResetPassword(a) => {
                let u = find(&a.user).await?;
                act_on_user(accounts, &actor, Action::SendReset, u.id, now).await?;
                // The mail goes out in a background task: give it the time to leave.
                accounts.finish_sending().await;
                Ok(format!("reset code sent to {}'s address ({})", u.username, accounts.mailer.describe()))
            }
        }
    }
    .await;
    db.close().await;
    match result {
        Ok(line) => {
            println!("{line}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The new admin's password: asked twice without echo on a terminal, else the first line of
/// standard input (for scripts: `echo "$PW" | carburoam admin create …`).
fn read_password() -> anyhow::Result<String> {
    use std::io::BufRead;
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let second = rpassword::prompt_password("Password again: ")?;
        anyhow::ensure!(first == second, "the two passwords differ");
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\n', '\r']).to_owned())
    }
}
