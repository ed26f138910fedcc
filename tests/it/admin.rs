//! The admin console over HTTP, and the `admin` command line, on both backends.

use std::process::Stdio;
use std::time::Duration;

use carburoam::db::Db;
use carburoam::feed::import_file;
use tokio::io::AsyncWriteExt;

use crate::app::{TestApp, spawn_app_with_mail};
use crate::db_test;
use crate::helpers::fixture;
use crate::smtp::{SmtpSink, find_code, find_link};

use crate::app::PASSWORD;

async fn setup(db: &Db) -> (TestApp, SmtpSink) {
    import_file(db, &fixture("snapshot_a.xml"), &Default::default()).await.expect("import a");
    import_file(db, &fixture("snapshot_b.xml"), &Default::default()).await.expect("import b");
    let sink = SmtpSink::start().await;
    let app = spawn_app_with_mail(db.clone(), Some(sink.settings())).await;
    (app, sink)
}

/// Registers, then confirms the address with the link mailed to it (what its owner does first).
async fn register(app: &TestApp, sink: &SmtpSink, username: &str) -> carburoam::domain::UserId {
    let email = format!("{username}@example.org");
    let r = app
        .post_form(
            "/register",
            &[
                ("username", username),
                ("display_name", username),
                ("email", &email),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let mail = sink.next().await;
    let link = find_link(&mail.text, &format!("{}/me/email/confirm?token=", app.address)).expect("confirm link");
    assert_eq!(app.get(link.trim_start_matches(&app.address)).await.status, 200);
    carburoam::db::users::by_login(&app.db, username).await.expect("query").expect("user").id
}

pub const ADMIN_PAGES: [&str; 7] = [
    "/admin",
    "/admin/etl",
    "/admin/etl/runs/1",
    "/admin/users",
    "/admin/users/1",
    "/admin/backups",
    "/admin/backups/download",
];

db_test!(only_admins_see_the_console, |t| {
    let (app, sink) = setup(&t.db).await;
    let anonymous = app.browser();
    let user = app.browser();
    register(&user, &sink, "nadia").await;
    for who in [&anonymous, &user] {
        for path in ADMIN_PAGES {
            let r = who.get(path).await;
            assert_eq!(r.status, 404, "{path}");
            assert!(r.text.contains("Page introuvable") || r.text.contains("introuvable"), "{path}: a real 404 page");
        }
        for path in ["/admin/etl/run", "/admin/users/1/delete", "/admin/users/1/grant-admin"] {
            assert_eq!(who.post_form(path, &[]).await.status, 404, "{path}");
        }
    }
    assert!(!user.get("/me").await.text.contains("href=\"/admin\""), "no admin link for users");
});

// The console answers every method with the site's 404 page to anyone but an
// admin (no 405 with `Allow: POST`, no 403 from the form checks); an admin still gets the 405.
db_test!(every_method_on_the_console_is_a_404_to_non_admins, |t| {
    use reqwest::Method;
    let (app, sink) = setup(&t.db).await;
    let admin_id = register(&app, &sink, "root").await;
    carburoam::db::admin::set_admin(&t.db, admin_id, true).await.expect("grant");
    let anonymous = app.browser();
    let user = app.browser();
    register(&user, &sink, "nadia").await;
    let paths = [
        "/admin",
        "/admin/users/1/grant",
        "/admin/users/1",
        "/admin/etl/run",
        "/admin/etl/runs/1",
        "/admin/backups/download",
        "/admin/no-such-page",
    ];
    let methods =
        [Method::GET, Method::HEAD, Method::PUT, Method::DELETE, Method::PATCH, Method::OPTIONS, Method::POST];
    for (who, name) in [(&anonymous, "anonymous"), (&user, "user")] {
        for path in paths {
            for method in &methods {
                // A bare request: no form, no token, no origin.
                let r = who.send(who.client.request(method.clone(), who.url(path))).await;
                assert_eq!(r.status, 404, "{name} {method} {path}");
                assert!(r.headers.get("allow").is_none(), "{name} {method} {path}");
                if *method != Method::HEAD {
                    assert!(r.text.contains("Page introuvable"), "{name} {method} {path}: the site's 404 page");
                }
            }
            // A form post with its token, as the console's buttons send it.
            assert_eq!(who.post_form(path, &[]).await.status, 404, "{name} form post to {path}");
        }
    }
    // The signed-in user's 404 shows their account menu, like any unknown page.
    assert!(user.get("/admin/users/1/grant").await.text.contains("data-testid=\"logout\""));
    // An admin: the console, and a 405 for a wrong method.
    assert_eq!(app.get("/admin").await.status, 200);
    let r = app.get("/admin/users/1/grant").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), "POST");
});

// One backup download at a time; a second one while the first is being made gets the
// backups page again, saying so, with 429 and Retry-After.
db_test!(backup_downloads_run_one_at_a_time, |t| {
    import_file(&t.db, &fixture("snapshot_b.xml"), &Default::default()).await.expect("import");
    let sink = SmtpSink::start().await;
    let (app, state) = crate::app::spawn_app_and_state(t.db.clone(), |cfg| cfg.mail.smtp = Some(sink.settings())).await;
    let admin_id = register(&app, &sink, "root").await;
    carburoam::db::admin::set_admin(&t.db, admin_id, true).await.expect("grant");
    // A download in progress (the permit the handler takes while it makes one).
    let running = state.backup_download.try_start().expect("no download yet");
    let r = app.post_form("/admin/backups/download", &[]).await;
    match &t.db {
        Db::Sqlite(_) => {
            assert_eq!(r.status, 429, "{}", r.text);
            assert_eq!(r.header("retry-after"), "30");
            assert!(r.header("content-disposition").is_empty());
            assert!(r.text.contains("Une sauvegarde est déjà en préparation"), "{}", r.text);
            drop(running);
            let r = app.post_form("/admin/backups/download", &[]).await;
            assert_eq!(r.status, 200);
            assert!(r.text.starts_with("SQLite format 3"), "a SQLite file");
            // The download gave its place back.
            assert!(state.backup_download.try_start().is_some());
        }
        Db::Postgres(_) => assert_eq!(r.status, 400, "PostgreSQL has no download at all"),
    }
});

db_test!(console_figures_runs_and_user_support, |t| {
    let (app, sink) = setup(&t.db).await;
    let admin_id = register(&app, &sink, "root").await;
    carburoam::db::admin::set_admin(&t.db, admin_id, true).await.expect("grant");
    let user = app.browser();
    let user_id = register(&user, &sink, "lucie").await;
    user.post_form("/me/stations/add", &[("station_id", "92330002")]).await;

    let r = app.get("/admin").await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("data-testid=\"users-total\">2<"), "{}", r.text);
    let dash = app.get("/admin/users").await;
    assert!(!dash.text.contains("argon2"));
    assert!(app.get("/me").await.text.contains("href=\"/admin\""));

    // Runs: the two imports of the fixtures, each with its page, log and rejections.
    let r = app.get("/admin/etl").await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("href=\"/admin/etl/runs/1\"") && r.text.contains("href=\"/admin/etl/runs/2\""));
    let run = app.get("/admin/etl/runs/1").await;
    assert_eq!(run.status, 200);
    assert!(run.text.contains("data-testid=\"run-log\""), "{}", run.text);
    assert!(run.text.contains("received "), "the log says what was read");
    assert_eq!(app.get("/admin/etl/runs/999").await.status, 404);
    // "Run now" runs the server's feed job (a fixture file on test servers) in the background.
    assert_eq!(app.post_form("/admin/etl/run", &[]).await.status, 303);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let runs = carburoam::db::etl_runs::recent(&t.db, 10).await.expect("runs");
        if runs.len() == 3 && runs[0].finished_at.is_some() {
            assert_eq!(runs[0].trigger, "admin", "{:?}", runs[0]);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the run started from the console never finished: {runs:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Search, then support actions, each in the audit log.
    let r = app.get("/admin/users?q=LUC").await;
    assert!(r.text.contains(&format!("href=\"/admin/users/{user_id}\"")));
    // `_` is a character, not a wildcard; case folds beyond ASCII.
    let other = app.browser();
    let elodie = register(&other, &sink, "elo_die").await;
    carburoam::db::users::update_profile(&t.db, elodie, "Élodie", "fr", 650).await.expect("rename");
    let r = app.get("/admin/users?q=o_d").await;
    assert!(r.text.contains(&format!("href=\"/admin/users/{elodie}\"")), "underscore");
    assert!(!r.text.contains(&format!("href=\"/admin/users/{user_id}\"")));
    let r = app.get("/admin/users?q=%C3%A9LODIE").await;
    assert!(r.text.contains(&format!("href=\"/admin/users/{elodie}\"")), "accented capitals");
    assert_eq!(app.get("/admin/users?q=lo_x").await.text.matches("href=\"/admin/users/").count(), 0);
    assert!(!r.text.contains("argon2"), "never a password hash");
    let r = app.post_form(&format!("/admin/users/{user_id}/send-reset"), &[]).await;
    assert_eq!(r.status, 303);
    let mail = sink.next().await;
    assert_eq!(mail.to, vec!["lucie@example.org".to_owned()]);
    assert!(find_code(&mail.text).is_some());
    let page = app.get(&format!("/admin/users/{user_id}")).await;
    assert!(page.text.contains("<code>send-reset</code>"), "{}", page.text);
    assert!(page.text.contains("<td>root</td>"));

    // Disable: logged out at once and refused at login; enable again.
    assert_eq!(user.get("/me").await.status, 200);
    app.post_form(&format!("/admin/users/{user_id}/disable"), &[]).await;
    assert_eq!(user.get("/me").await.status, 303);
    let r = user.post_form("/login", &[("login", "lucie"), ("password", PASSWORD)]).await;
    assert!(r.text.contains("désactivé"), "{}", r.text);
    app.post_form(&format!("/admin/users/{user_id}/enable"), &[]).await;
    let r = app.post_form(&format!("/admin/users/{user_id}/promote"), &[]).await;
    assert_eq!(r.status, 404);
    assert!(r.text.contains("Page introuvable"), "an unknown action is the site's 404 page: {}", r.text);
    assert_eq!(user.post_form("/login", &[("login", "lucie"), ("password", PASSWORD)]).await.status, 303);

    // Grant, then the last admin cannot be revoked or deleted.
    app.post_form(&format!("/admin/users/{user_id}/grant-admin"), &[]).await;
    assert_eq!(user.get("/admin").await.status, 200, "the role applies at the next request");
    app.post_form(&format!("/admin/users/{user_id}/revoke-admin"), &[]).await;
    assert_eq!(user.get("/admin").await.status, 404);
    let r = user.post_form(&format!("/admin/users/{admin_id}/revoke-admin"), &[]).await;
    assert_eq!(r.status, 404, "a former admin cannot act");
    let r = app.post_form(&format!("/admin/users/{admin_id}/revoke-admin"), &[]).await;
    assert_eq!(r.header("location"), format!("/admin/users/{admin_id}?msg=last-admin"));

    // Delete: gone, and the audit log keeps the name.
    app.post_form(&format!("/admin/users/{user_id}/delete"), &[]).await;
    assert_eq!(app.get(&format!("/admin/users/{user_id}")).await.status, 404);
    let log = app.get("/admin/users").await;
    for action in ["send-reset", "disable", "enable", "grant-admin", "revoke-admin", "delete"] {
        assert!(log.text.contains(&format!("<code>{action}</code>")), "{action}");
    }
    assert!(log.text.contains(">lucie<"));
});

db_test!(backups_page_and_download, |t| {
    let (app, sink) = setup(&t.db).await;
    let admin_id = register(&app, &sink, "root").await;
    carburoam::db::admin::set_admin(&t.db, admin_id, true).await.expect("grant");
    let r = app.get("/admin/backups").await;
    assert_eq!(r.status, 200);
    let form = r.text.contains("<form method=\"post\" action=\"/admin/backups/download\">");
    let r = app.post_form("/admin/backups/download", &[]).await;
    match &t.db {
        Db::Sqlite(_) => {
            assert!(form, "a POST form");
            assert_eq!(r.status, 200);
            assert!(r.header("content-disposition").contains("attachment"));
            assert!(r.text.starts_with("SQLite format 3"), "a SQLite file");
        }
        Db::Postgres(_) => {
            assert_eq!(r.status, 400);
            assert!(r.text.contains("pg_dump"));
        }
    }
});

/// `carburoam admin …` on the real binary.
async fn cli(db_url: &str, args: &[&str], stdin: Option<&str>, env: &[(&str, String)]) -> (bool, String, String) {
    // No outbound address beyond loopback (see `crate::offline`); the recorder checks once
    // the command is done.
    let crate::offline::Carburoam { cmd, recorder } = crate::offline::carburoam();
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.arg("admin").args(args).args(["--database", db_url]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn carburoam");
    if let Some(mut pipe) = child.stdin.take() {
        if let Some(s) = stdin {
            pipe.write_all(s.as_bytes()).await.expect("stdin");
        }
        drop(pipe);
    }
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("admin command finished")
        .expect("output");
    drop(recorder);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

db_test!(admin_command_line, |t| {
    let (app, sink) = setup(&t.db).await;
    let url = t.url.clone();
    let (ok, out, err) = cli(&url, &["create", "chief", "--email", "chief@example.org"], Some("short\n"), &[]).await;
    assert!(!ok && err.contains("at least 10 characters"), "{out}{err}");
    let (ok, out, err) =
        cli(&url, &["create", "chief", "--email", "chief@example.org"], Some(&format!("{PASSWORD}\n")), &[]).await;
    assert!(ok, "{out}{err}");
    assert!(out.contains("created admin chief"));
    // The new admin logs in and reaches the console.
    let b = app.browser();
    assert_eq!(b.post_form("/login", &[("login", "chief"), ("password", PASSWORD)]).await.status, 303);
    assert_eq!(b.get("/admin").await.status, 200);

    register(&app.browser(), &sink, "deputy").await;
    let (ok, _, err) = cli(&url, &["grant", "deputy"], None, &[]).await;
    assert!(ok, "{err}");
    let (ok, _, err) = cli(&url, &["revoke", "deputy"], None, &[]).await;
    assert!(ok, "{err}");
    let (ok, _, err) = cli(&url, &["grant", "ghost"], None, &[]).await;
    assert!(!ok && err.contains("no account named"), "{err}");
    let (ok, _, err) = cli(&url, &["revoke", "chief"], None, &[]).await;
    assert!(!ok && err.contains("last active admin"), "{err}");

    // reset-password mails the code through the configured SMTP server.
    let smtp = sink.settings();
    let env = [
        ("CARBUROAM_SMTP_HOST", smtp.host.clone()),
        ("CARBUROAM_SMTP_PORT", smtp.port.to_string()),
        ("CARBUROAM_SMTP_TLS", "none".to_owned()),
        ("CARBUROAM_PUBLIC_URL", app.address.clone()),
    ];
    let (ok, out, err) = cli(&url, &["reset-password", "deputy"], None, &env).await;
    assert!(ok, "{out}{err}");
    let mail = sink.next().await;
    assert_eq!(mail.to, vec!["deputy@example.org".to_owned()]);
    assert!(find_code(&mail.text).is_some());
    let audit = carburoam::db::audit::recent(&t.db, None, 10).await.expect("audit");
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["send-reset", "revoke-admin", "grant-admin", "create"]);
    assert!(audit.iter().all(|a| a.actor.starts_with("cli")));
});
