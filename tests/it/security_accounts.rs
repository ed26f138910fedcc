//! Security, the account side: each weak point of the audit, over the real router or the account
//! rules, on both backends. Every test here failed on the code before the fix.

use std::net::IpAddr;
use std::time::Duration;

use carburoam::db::Db;
use carburoam::services::accounts::{AccountError, Accounts, FAILED_LOGINS_CEILING, login_subject};

use crate::app::{Reply, TestApp, spawn_app_with_mail, user_id};
use crate::db_test;
use crate::smtp::{Received, SmtpSink, find_code, find_link};

use crate::app::PASSWORD;
const NEW_PASSWORD: &str = "marée basse à Concarneau";

async fn setup(db: &Db) -> (TestApp, SmtpSink) {
    let sink = SmtpSink::start().await;
    let app = spawn_app_with_mail(db.clone(), Some(sink.settings())).await;
    (app, sink)
}

/// Registers without confirming the address: the confirmation link (or nothing, for a taken
/// address) is left to the test.
async fn register_unconfirmed(app: &TestApp, username: &str, display_name: &str, email: &str) -> Reply {
    let r = app
        .post_form(
            "/register",
            &[
                ("username", username),
                ("display_name", display_name),
                ("email", email),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    r
}

/// Registers `username` at `username@example.org` and confirms the address with the link mailed
/// to it (what its owner does first).
async fn register_as(app: &TestApp, sink: &SmtpSink, username: &str, display_name: &str) -> Reply {
    let email = format!("{username}@example.org");
    let r = register_unconfirmed(app, username, display_name, &email).await;
    let mail = sink.next().await;
    assert_eq!(mail.to, vec![email.clone()]);
    let link = find_link(&mail.text, &format!("{}/me/email/confirm?token=", app.address)).expect("confirm link");
    assert_eq!(app.get(link.trim_start_matches(&app.address)).await.status, 200);
    r
}

async fn register(app: &TestApp, sink: &SmtpSink, username: &str) -> Reply {
    register_as(app, sink, username, username).await
}

/// The rules of the server over the same database and mail listener, with a fresh per-IP token
/// bucket (another rule than the ones tested here).
fn accounts(app: &TestApp, sink: &SmtpSink) -> Accounts {
    Accounts::new(
        app.db.clone(),
        carburoam::services::accounts::AccountSettings::new(&app.address, false),
        carburoam::email::Mailer::new(carburoam::email::MailSettings {
            smtp: Some(sink.settings()),
            from: "Carburoam <noreply@carburoam.test>".into(),
            outbox_dir: std::env::temp_dir().join("carburoam-unused-outbox"),
        })
        .expect("mailer"),
    )
}

fn ip(n: u8) -> IpAddr {
    IpAddr::from([10, 9, 0, n])
}

const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// The next `n` mails, whatever order the background tasks sent them in.
async fn mails(sink: &SmtpSink, n: usize) -> Vec<Received> {
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(sink.next().await);
    }
    v
}

fn to<'a>(mails: &'a [Received], address: &str) -> &'a Received {
    mails.iter().find(|m| m.to == vec![address.to_owned()]).unwrap_or_else(|| panic!("no mail to {address}"))
}

async fn count(db: &Db, sql: &'static str) -> i64 {
    let n: (i64,) = match db {
        Db::Sqlite(p) => sqlx::query_as(sql).fetch_one(p).await.expect(sql),
        Db::Postgres(p) => sqlx::query_as(sql).fetch_one(p).await.expect(sql),
    };
    n.0
}

async fn email_of(db: &Db, id: carburoam::domain::UserId) -> String {
    carburoam::db::users::by_id(db, id).await.expect("query").expect("user").email
}

/// Asks for an email change from the signed-in browser `app` and returns (confirm link path,
/// cancel link path) from the two mails.
async fn ask_change(app: &TestApp, sink: &SmtpSink, old: &str, new: &str) -> (String, String) {
    let r = app.post_form("/me/email", &[("email", new), ("current", PASSWORD)]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let m = mails(sink, 2).await;
    let confirm = find_link(&to(&m, new).text, &format!("{}/me/email/confirm?token=", app.address)).expect("confirm");
    let cancel = find_link(&to(&m, old).text, &format!("{}/me/email/cancel?token=", app.address)).expect("cancel");
    (confirm.trim_start_matches(&app.address).to_owned(), cancel.trim_start_matches(&app.address).to_owned())
}

// ---------------------------------------------------------------------------------------------
// Point 2: a stolen session must not become a lasting takeover.

db_test!(email_change_needs_the_password_and_dies_with_a_new_one, |t| {
    let (app, sink) = setup(&t.db).await;
    register(&app, &sink, "ines").await;
    let id = user_id(&t.db, "ines").await;

    // Without the current password, or with a wrong one: refused next to the field, no mail.
    let r = app.post_form("/me/email", &[("email", "thief@evil.example")]).await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("id=\"email_current-err\""), "{}", r.text);
    let r = app.post_form("/me/email", &[("email", "thief@evil.example"), ("current", "not my password")]).await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("Mot de passe incorrect"), "{}", r.text);
    sink.none_within(Duration::from_millis(300)).await;
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM email_changes").await, 0);

    // A password change drops the pending change.
    let (confirm, _) = ask_change(&app, &sink, "ines@example.org", "thief@evil.example").await;
    let r = app
        .post_form("/me/password", &[("current", PASSWORD), ("password", NEW_PASSWORD), ("confirm", NEW_PASSWORD)])
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    sink.next().await;
    assert_eq!(app.browser().get(&confirm).await.status, 404);
    assert_eq!(email_of(&t.db, id).await, "ines@example.org");
    // Back to the first password, through a reset: a reset drops it too.
    let acc = accounts(&app, &sink);
    acc.change_password(id, LOCAL, NEW_PASSWORD, PASSWORD, PASSWORD, "", carburoam::db::now()).await.expect("back");
    sink.next().await;
    let app = app.browser();
    assert_eq!(app.post_form("/login", &[("login", "ines"), ("password", PASSWORD)]).await.status, 303);
    let (confirm, _) = ask_change(&app, &sink, "ines@example.org", "thief@evil.example").await;
    assert!(acc.send_reset_code("ines", carburoam::db::now()).await.expect("send"));
    let code = find_code(&sink.next().await.text).expect("code");
    acc.reset_password(ip(1), "ines", &code, NEW_PASSWORD, NEW_PASSWORD, carburoam::db::now()).await.expect("reset");
    sink.next().await;
    assert_eq!(app.browser().get(&confirm).await.status, 404);
    assert_eq!(email_of(&t.db, id).await, "ines@example.org");
});

db_test!(the_old_address_can_cancel_a_change_and_end_every_session, |t| {
    let (app, sink) = setup(&t.db).await;
    register(&app, &sink, "marc").await;
    let id = user_id(&t.db, "marc").await;
    let (confirm, cancel) = ask_change(&app, &sink, "marc@example.org", "marc@new.example").await;
    // The link works without logging in; following it only shows a button.
    let owner = app.browser();
    let page = owner.get(&cancel).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("marc@new.example"), "{}", page.text);
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM email_changes").await, 1, "a GET changes nothing");
    let token = cancel.split("token=").nth(1).expect("token");
    let r = owner.post_form("/me/email/cancel", &[("token", token)]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(app.get("/me").await.status, 303, "the session that asked is logged out");
    assert_eq!(owner.get(&confirm).await.status, 404);
    assert_eq!(email_of(&t.db, id).await, "marc@example.org");
    assert_eq!(owner.post_form("/me/email/cancel", &[("token", token)]).await.status, 404, "single use");
    assert_eq!(owner.get("/me/email/cancel?token=nonsense").await.status, 404);
});

db_test!(a_disabled_account_cannot_confirm_nor_keep_a_change, |t| {
    let (app, sink) = setup(&t.db).await;
    register(&app, &sink, "root").await;
    let root = user_id(&t.db, "root").await;
    carburoam::db::admin::set_admin(&t.db, root, true).await.expect("grant");
    let user = app.browser();
    register(&user, &sink, "zoe").await;
    let id = user_id(&t.db, "zoe").await;
    // Disabled behind the console's back (the database): the confirmation fails.
    let (confirm, _) = ask_change(&user, &sink, "zoe@example.org", "zoe@new.example").await;
    carburoam::db::admin::set_disabled(&t.db, id, Some(carburoam::db::now())).await.expect("disable");
    assert_eq!(app.browser().get(&confirm).await.status, 404);
    assert_eq!(email_of(&t.db, id).await, "zoe@example.org");
    // Disabled by an admin: the pending change goes at once.
    carburoam::db::admin::set_disabled(&t.db, id, None).await.expect("enable");
    let user = app.browser();
    assert_eq!(user.post_form("/login", &[("login", "zoe"), ("password", PASSWORD)]).await.status, 303);
    ask_change(&user, &sink, "zoe@example.org", "zoe@new.example").await;
    let r = app.post_form(&format!("/admin/users/{id}/disable"), &[]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM email_changes").await, 0);
});

// ---------------------------------------------------------------------------------------------
// Points 3 and 5: the lock-out says nothing about names, and an attacker cannot keep the owner out.

db_test!(unknown_names_wait_exactly_like_existing_ones, |t| {
    let (app, sink) = setup(&t.db).await;
    register(&app, &sink, "paul").await;
    let now = carburoam::db::now();
    let mut seen = Vec::new();
    for name in ["paul", "nobody-here"] {
        let mut answers = Vec::new();
        for i in 0..12 {
            let r = accounts(&app, &sink).login(LOCAL, name, "wrong password!", now + i).await;
            answers.push(match r {
                Err(AccountError::BadLogin) => "bad".to_owned(),
                Err(AccountError::Blocked(s)) => format!("blocked {s}"),
                other => panic!("{other:?}"),
            });
        }
        seen.push(answers);
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[0][9], "blocked 30");
    // Over HTTP (this browser is 127.0.0.1): the same status and page for both.
    let b = app.browser();
    let known = b.post_form("/login", &[("login", "paul"), ("password", "wrong password!")]).await;
    let unknown = b.post_form("/login", &[("login", "nobody-here"), ("password", "wrong password!")]).await;
    assert_eq!(known.status, unknown.status);
    assert!(known.text.contains("Trop de tentatives"), "{}", known.text);
    let message = |r: &Reply| r.text.split("Trop de tentatives").nth(1).map(|s| s[..40].to_owned());
    assert_eq!(message(&known), message(&unknown));
});

db_test!(the_owner_gets_in_from_elsewhere_until_the_hourly_ceiling, |t| {
    let (app, sink) = setup(&t.db).await;
    register(&app, &sink, "lina").await;
    let now = carburoam::db::now();
    // The attacker's address waits longer and longer…
    for i in 0..15 {
        let _ = accounts(&app, &sink).login(ip(1), "lina", "guess guess guess", now + i).await;
    }
    assert!(matches!(
        accounts(&app, &sink).login(ip(1), "lina", PASSWORD, now + 20).await,
        Err(AccountError::Blocked(_))
    ));
    // …the owner's does not.
    assert!(accounts(&app, &sink).login(ip(2), "lina", PASSWORD, now + 21).await.is_ok());
    // The hourly ceiling over all addresses stops everyone, known name or not, then lifts.
    for name in ["lina", "nobody-here"] {
        let subject = login_subject(name);
        let sql = "INSERT INTO login_failures (subject, client, failures, first_at, last_at) VALUES ($1, '*', $2, $3, $3) \
                   ON CONFLICT (subject, client) DO UPDATE SET failures = $2, first_at = $3";
        let seeded = FAILED_LOGINS_CEILING - 1;
        match &t.db {
            Db::Sqlite(p) => sqlx::query(sql).bind(&subject).bind(seeded).bind(now).execute(p).await.map(|_| ()),
            Db::Postgres(p) => sqlx::query(sql).bind(&subject).bind(seeded).bind(now).execute(p).await.map(|_| ()),
        }
        .expect("seed");
        let last = accounts(&app, &sink).login(ip(3), name, "one more guess", now + 30).await;
        assert!(matches!(last, Err(AccountError::Blocked(w)) if w > 3000), "{name}: {last:?}");
        let owner = accounts(&app, &sink).login(ip(4), name, PASSWORD, now + 40).await;
        assert!(matches!(owner, Err(AccountError::Blocked(_))), "{name}: {owner:?}");
    }
    assert!(accounts(&app, &sink).login(ip(4), "lina", PASSWORD, now + 3601).await.is_ok());
});

// ---------------------------------------------------------------------------------------------
// Points 4 and 6: reset codes.

fn code_error(r: &Reply) -> String {
    let at = r.text.find("id=\"code-err\">").expect("a code error");
    let rest = &r.text[at..];
    rest[..rest.find('<').expect("end")].to_owned()
}

db_test!(one_answer_for_every_bad_code, |t| {
    let (app, sink) = setup(&t.db).await;
    register(&app, &sink, "lea").await;
    let b = app.browser();
    b.post_form("/forgot-password", &[("email", "lea@example.org")]).await;
    find_code(&sink.next().await.text).expect("a live code");
    let form =
        |login| [("login", login), ("code", "AAAA-AAAA-AAAA"), ("password", NEW_PASSWORD), ("confirm", NEW_PASSWORD)];
    let known = b.post_form("/reset-password", &form("lea")).await;
    let unknown = b.post_form("/reset-password", &form("ghost")).await;
    assert_eq!(known.status, unknown.status);
    assert_eq!(code_error(&known), code_error(&unknown));
});

db_test!(an_attacker_cannot_block_the_owners_reset, |t| {
    let (app, sink) = setup(&t.db).await;
    register(&app, &sink, "noe").await;
    let now = carburoam::db::now();
    let (owner, attacker) = (ip(2), ip(1));
    accounts(&app, &sink).forgot_password(owner, "noe", now).expect("ask");
    let code = find_code(&sink.next().await.text).expect("code");
    // The attacker asks for codes until its allowance is spent (they reach the owner's inbox)…
    for i in 0..3 {
        accounts(&app, &sink).forgot_password(attacker, "noe", now + 1 + i).expect("ask");
        sink.next().await;
    }
    for i in 3..5 {
        accounts(&app, &sink).forgot_password(attacker, "noe", now + 1 + i).expect("ask");
    }
    sink.none_within(Duration::from_millis(400)).await;
    // …and types wrong codes until its tries are spent.
    for i in 0..8 {
        let acc = accounts(&app, &sink);
        let r = acc.reset_password(attacker, "noe", "ZZZZ-ZZZZ-ZZZZ", NEW_PASSWORD, NEW_PASSWORD, now + 10 + i).await;
        assert!(matches!(r, Err(AccountError::Invalid(_))));
    }
    // The owner can still ask for a code, and the one already received still works.
    accounts(&app, &sink).forgot_password(owner, "noe", now + 30).expect("ask");
    find_code(&sink.next().await.text).expect("a new code for the owner");
    let r = accounts(&app, &sink).reset_password(owner, "noe", &code, NEW_PASSWORD, NEW_PASSWORD, now + 40).await;
    assert!(r.is_ok(), "{r:?}");
});

db_test!(username_reminders_do_not_spend_the_reset_budget, |t| {
    let (app, sink) = setup(&t.db).await;
    register(&app, &sink, "camille").await;
    let b = app.browser();
    for _ in 0..5 {
        assert_eq!(b.post_form("/forgot-username", &[("email", "camille@example.org")]).await.status, 200);
    }
    let r = b.post_form("/forgot-password", &[("email", "camille")]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let reset = loop {
        let m = sink.next().await;
        if let Some(code) = find_code(&m.text) {
            break code;
        }
    };
    assert_eq!(reset.len(), 14);
});

// ---------------------------------------------------------------------------------------------
// Point 7: current-password checks count like login failures.

db_test!(current_password_checks_are_throttled, |t| {
    let (app, sink) = setup(&t.db).await;
    register(&app, &sink, "hugo").await;
    let wrong = [("current", "wrong wrong wrong"), ("password", NEW_PASSWORD), ("confirm", NEW_PASSWORD)];
    for _ in 0..9 {
        assert_eq!(app.post_form("/me/password", &wrong).await.status, 422);
    }
    let r = app.post_form("/me/password", &wrong).await;
    assert_eq!(r.status, 429);
    assert!(r.text.contains("id=\"current-err\"") && r.text.contains("Trop de tentatives"), "{}", r.text);
    // The same counters for every form, and the right password waits too.
    let r = app.post_form("/me/delete", &[("password", PASSWORD)]).await;
    assert_eq!(r.status, 429);
    assert!(r.text.contains("id=\"delete-err\""), "{}", r.text);
    let r = app.post_form("/me/email", &[("email", "hugo@new.example"), ("current", PASSWORD)]).await;
    assert_eq!(r.status, 429);
    assert_eq!(app.browser().post_form("/login", &[("login", "hugo"), ("password", PASSWORD)]).await.status, 401);
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM users").await, 1);
});

// ---------------------------------------------------------------------------------------------
// Point 13: a deleted account leaves nothing readable behind.

db_test!(a_deleted_account_leaves_no_trace_in_files, |t| {
    let outbox = tempfile::tempdir().expect("outbox");
    let mailer = carburoam::email::Mailer::new(carburoam::email::MailSettings {
        smtp: None,
        from: "Carburoam <noreply@carburoam.test>".into(),
        outbox_dir: outbox.path().to_path_buf(),
    })
    .expect("mailer");
    let acc = &Accounts::new(
        t.db.clone(),
        carburoam::services::accounts::AccountSettings::new("http://localhost", false),
        mailer,
    );
    let now = carburoam::db::now();
    let reg = |username: &'static str, email: &'static str| carburoam::services::accounts::Registration {
        username,
        display_name: "Quentin Zyx",
        email,
        password: PASSWORD,
        confirm: PASSWORD,
        lang: carburoam::domain::Lang::Fr,
        fuels: vec![],
    };
    let gone = acc.create(&reg("qzsecretuser", "qz.secret@example.org"), now).await.expect("create");
    acc.create(&reg("stays", "stays@example.org"), now).await.expect("create");
    let hash: (String,) = match &t.db {
        Db::Sqlite(p) => sqlx::query_as("SELECT password_hash FROM users WHERE id = $1").bind(gone).fetch_one(p).await,
        Db::Postgres(p) => {
            sqlx::query_as("SELECT password_hash FROM users WHERE id = $1").bind(gone).fetch_one(p).await
        }
    }
    .expect("hash");
    for who in ["qzsecretuser", "stays"] {
        assert!(acc.send_reset_code(who, now).await.expect("send"));
    }
    acc.finish_sending().await;
    let files = || std::fs::read_dir(outbox.path()).expect("outbox").count();
    assert_eq!(files(), 2);

    let acc = acc.clone();
    let acc = Accounts { outgoing: tokio_util::task::TaskTracker::new(), ..acc };
    acc.delete_account(gone, LOCAL, PASSWORD, now).await.expect("delete");
    acc.finish_sending().await;
    assert_eq!(files(), 1, "the mail to the deleted account is gone, the other stays");
    let left = std::fs::read_dir(outbox.path()).expect("outbox").next().expect("one").expect("entry").path();
    assert!(String::from_utf8_lossy(&std::fs::read(left).expect("read")).contains("stays@example.org"));

    if let Db::Sqlite(_) = &t.db {
        let path = t.url.trim_start_matches("sqlite://");
        let mut bytes = std::fs::read(path).expect("database file");
        bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
        let hay = String::from_utf8_lossy(&bytes);
        for secret in ["qzsecretuser", "qz.secret@example.org", hash.0.as_str()] {
            assert!(!hay.contains(secret), "{secret:?} still readable in the database files");
        }
        assert!(hay.contains("stays@example.org"), "the reading works");
    }
});

// ---------------------------------------------------------------------------------------------
// Points 14 and 16: mails to unconfirmed addresses, taken addresses.

db_test!(an_unconfirmed_address_gets_no_user_text, |t| {
    let (app, sink) = setup(&t.db).await;
    register_as(&app, &sink, "rose", "Call +33 6 00 00 00 00 for a prize").await;
    let r = app.post_form("/me/email", &[("email", "victim@example.net"), ("current", PASSWORD)]).await;
    assert_eq!(r.status, 303);
    let m = mails(&sink, 2).await;
    let mail = to(&m, "victim@example.net");
    for part in [&mail.text, &mail.html, &String::from_utf8_lossy(&mail.raw).into_owned()] {
        assert!(!part.contains("prize") && !part.contains("+33"), "{part}");
    }
    assert!(mail.text.contains("rose"), "the username only");
});

db_test!(an_email_change_to_a_taken_address_looks_like_any_other, |t| {
    let (app, sink) = setup(&t.db).await;
    register(&app, &sink, "anna").await;
    let other = app.browser();
    register(&other, &sink, "bruno").await;
    let anna = user_id(&t.db, "anna").await;
    let free = app.post_form("/me/email", &[("email", "anna@new.example"), ("current", PASSWORD)]).await;
    mails(&sink, 2).await;
    let free_page = app.get("/me/profile?msg=email_sent").await;
    let taken = app.post_form("/me/email", &[("email", "bruno@example.org"), ("current", PASSWORD)]).await;
    assert_eq!((free.status, free.header("location")), (taken.status, taken.header("location")));
    let taken_page = app.get("/me/profile?msg=email_sent").await;
    assert_eq!(free_page.status, taken_page.status);
    assert!(taken_page.text.contains("bruno@example.org"), "shown as pending, like any address");
    // Anna's address is told as usual; Bruno is told someone offered his address; no link.
    let m = mails(&sink, 2).await;
    let told = to(&m, "bruno@example.org");
    assert!(told.subject.contains("autre compte") || told.subject.contains("another account"), "{}", told.subject);
    assert!(!told.text.contains("/me/email/confirm"), "{}", told.text);
    to(&m, "anna@example.org");
    sink.none_within(Duration::from_millis(300)).await;
    assert_eq!(email_of(&t.db, anna).await, "anna@example.org");
});

/// A page with what differs between two accounts taken out: CSRF tokens, then `names` (longest
/// first, so that an address goes before the username inside it).
fn neutral(html: &str, names: &[&str]) -> String {
    let mut out: String = html.split("name=\"csrf\" value=\"").map(|p| p.get(64..).unwrap_or(p)).collect();
    let mut names = names.to_vec();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    for n in names {
        out = out.replace(n, "NAME");
    }
    out
}

db_test!(registration_with_a_taken_address_looks_like_any_other, |t| {
    let (app, sink) = setup(&t.db).await;
    register(&app, &sink, "olga").await;
    let olga = user_id(&t.db, "olga").await;
    // Two newcomers, one with a free address, one with Olga's (typed in another case).
    let (free, taken) = (app.browser(), app.browser());
    let a = register_unconfirmed(&free, "franck", "franck", "franck@example.net").await;
    let b = register_unconfirmed(&taken, "tariq", "tariq", "OLGA@example.org").await;
    assert_eq!((a.status, a.header("location")), (b.status, b.header("location")));
    let cookie_names = |r: &Reply| -> Vec<String> {
        r.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok()?.split('=').next().map(str::to_owned))
            .collect()
    };
    assert_eq!(cookie_names(&a), cookie_names(&b));
    let (free_names, taken_names) = (["franck", "franck@example.net"], ["tariq", "OLGA@example.org"]);
    for path in ["/me/stations?msg=welcome", "/me", "/me/profile"] {
        let (x, y) = (free.get(path).await, taken.get(path).await);
        assert_eq!((x.status, path), (y.status, path));
        assert_eq!(neutral(&x.text, &free_names), neutral(&y.text, &taken_names), "{path}");
    }
    let profile = taken.get("/me/profile").await;
    assert!(profile.text.contains("OLGA@example.org") && profile.text.contains("data-testid=\"resend-link\""));
    // The free address gets its link; Olga is told, with no link; nothing else.
    let m = mails(&sink, 2).await;
    let link = find_link(&to(&m, "franck@example.net").text, &format!("{}/me/email/confirm?token=", app.address))
        .expect("a confirmation link");
    let told = to(&m, "olga@example.org");
    assert!(told.subject.contains("autre compte"), "{}", told.subject);
    assert!(told.text.contains("olga") && !told.text.contains("tariq"), "{}", told.text);
    assert!(!told.text.contains("/me/email/confirm"), "{}", told.text);
    sink.none_within(Duration::from_millis(300)).await;
    // "Resend the link": the same answer for both, a link only to the free address.
    let (x, y) = (free.post_form("/me/email/resend", &[]).await, taken.post_form("/me/email/resend", &[]).await);
    assert_eq!((x.status, x.header("location")), (y.status, y.header("location")));
    assert_eq!(x.header("location"), "/me/profile?msg=link_sent");
    let again = sink.next().await;
    assert_eq!(again.to, vec!["franck@example.net".to_owned()]);
    let new_link = find_link(&again.text, &format!("{}/me/email/confirm?token=", app.address)).expect("a new link");
    sink.none_within(Duration::from_millis(300)).await;
    let (x, y) = (free.get("/me/profile?msg=link_sent").await, taken.get("/me/profile?msg=link_sent").await);
    assert_eq!(neutral(&x.text, &free_names), neutral(&y.text, &taken_names));

    // The address stays Olga's: her login, her "forgot" mails; Tariq's account never gets it, and
    // a reset for it goes nowhere, with the same page as any other.
    let tariq = user_id(&t.db, "tariq").await;
    let row = carburoam::db::users::by_id(&t.db, tariq).await.expect("query").expect("tariq");
    assert!(!row.email_confirmed);
    assert_eq!(carburoam::db::users::by_login(&t.db, "olga@example.org").await.expect("q").map(|u| u.id), Some(olga));
    let anon = app.browser();
    let forgot_free = anon.post_form("/forgot-password", &[("email", "franck")]).await;
    let code = find_code(&sink.next().await.text).expect("a code to the free, unconfirmed address");
    let forgot_taken = anon.post_form("/forgot-password", &[("email", "tariq")]).await;
    assert_eq!(forgot_free.status, forgot_taken.status);
    assert_eq!(neutral(&forgot_free.text, &[]), neutral(&forgot_taken.text, &[]));
    let username = anon.post_form("/forgot-username", &[("email", "olga@example.org")]).await;
    assert_eq!(username.status, 200);
    let reminder = sink.next().await;
    assert!(reminder.text.contains("olga") && !reminder.text.contains("tariq"), "{}", reminder.text);
    sink.none_within(Duration::from_millis(300)).await;
    // A crafted confirmation fails like any unknown link, and changes nothing.
    let token = "0".repeat(64);
    assert_eq!(taken.get(&format!("/me/email/confirm?token={token}")).await.status, 404);
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM users WHERE email_confirmed").await, 1);

    // The free address: the newest link confirms it (the first one died with the resend); then
    // its reset codes (and its login) work.
    assert_eq!(anon.get(link.trim_start_matches(&app.address)).await.status, 404);
    let r = anon.get(new_link.trim_start_matches(&app.address)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("Votre adresse e-mail est confirmée"), "{}", r.text);
    let franck = user_id(&t.db, "franck").await;
    assert!(carburoam::db::users::by_id(&t.db, franck).await.expect("q").expect("franck").email_confirmed);
    assert!(!free.get("/me/profile").await.text.contains("data-testid=\"resend-link\""));
    let acc = accounts(&app, &sink);
    let now = carburoam::db::now();
    acc.reset_password(ip(5), "franck", &code, NEW_PASSWORD, NEW_PASSWORD, now).await.expect("the earlier code");
    sink.next().await;
    acc.forgot_password(ip(5), "franck@example.net", now).expect("ask");
    let mail = sink.next().await;
    assert_eq!(mail.to, vec!["franck@example.net".to_owned()]);
    find_code(&mail.text).expect("a code");
    assert!(acc.login(ip(5), "franck@example.net", NEW_PASSWORD, now).await.is_ok());
});

// ---------------------------------------------------------------------------------------------
// Also: the last-admin guard holds when two admins act at once.

db_test!(two_admins_revoking_each_other_leave_one, |t| {
    let (app, sink) = setup(&t.db).await;
    register(&app, &sink, "alpha").await;
    register(&app.browser(), &sink, "beta").await;
    let (a, b) = (user_id(&t.db, "alpha").await, user_id(&t.db, "beta").await);
    let acc = accounts(&app, &sink);
    let actor = carburoam::services::admin::Actor::cli();
    let now = carburoam::db::now();
    for action in [carburoam::services::admin::Action::Revoke, carburoam::services::admin::Action::Disable] {
        for _ in 0..20 {
            for id in [a, b] {
                carburoam::db::admin::set_admin(&t.db, id, true).await.expect("grant");
                carburoam::db::admin::set_disabled(&t.db, id, None).await.expect("enable");
            }
            // Two tasks, so that they really run at once on the two worker threads.
            let run = |target| {
                let (acc, actor) = (acc.clone(), actor.clone());
                tokio::spawn(
                    async move { carburoam::services::admin::act_on_user(&acc, &actor, action, target, now).await },
                )
            };
            let (x, y) = (run(b), run(a));
            let (x, y) = (x.await.expect("task"), y.await.expect("task"));
            assert!(x.is_ok() != y.is_ok(), "exactly one wins: {:?} / {:?}", x.err(), y.err());
            let admins = count(&t.db, "SELECT COUNT(*) FROM users WHERE is_admin AND disabled_at IS NULL").await;
            assert_eq!(admins, 1, "{action:?}");
        }
    }
});
