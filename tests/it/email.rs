//! The mailer end to end: every email over real SMTP (to [`SmtpSink`]) in both languages, the
//! outbox files when no SMTP is configured, and the failures (bad addresses, dead relay, TLS
//! refused).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use carburoam::email::{
    Email, EmailError, EmailKind, MailSettings, Mailer, Recipient, SecurityEvent, SmtpSettings, SmtpTls,
};
use carburoam::web::i18n::Lang;

use crate::smtp::{Received, SmtpSink, find_code, find_link};

const FROM: &str = "Carburoam <noreply@localhost>";
const SITE: &str = "https://carburoam.example";

fn smtp_mailer(smtp: SmtpSettings) -> Mailer {
    Mailer::new(MailSettings { smtp: Some(smtp), from: FROM.into(), outbox_dir: PathBuf::from("unused-outbox") })
        .expect("mailer")
}

fn zoe() -> Recipient {
    Recipient { address: "zoe@example.org".into(), name: Some("Zoé Dupont".into()) }
}

/// Sends `email` to Zoé through `sink` and checks what every message must have.
async fn send_and_receive(sink: &SmtpSink, email: &Email) -> Received {
    let mailer = smtp_mailer(sink.settings());
    mailer.send(&zoe(), email).await.expect("send");
    let got = sink.next().await;
    assert_eq!(got.from, "noreply@localhost");
    assert_eq!(got.to, ["zoe@example.org"]);
    assert_eq!(got.to_header().as_deref(), Some("zoe@example.org"));
    assert_eq!(got.to_name().as_deref(), Some("Zoé Dupont"));
    assert_eq!(got.subject, email.subject());
    assert_eq!(got.header("Content-Language").as_deref(), Some(email.lang.code()));
    assert!(got.header("Message-ID").is_some_and(|id| id.ends_with("@localhost>")), "{:?}", got.header("Message-ID"));
    assert!(got.header("Date").is_some());
    assert!(!got.text.is_empty() && !got.html.is_empty(), "both parts: {got:?}");
    assert!(got.html.contains("<html"), "{}", got.html);
    assert!(!got.text.contains("<html"), "{}", got.text);
    // Every non-ASCII character travelled transfer-encoded, and came back intact.
    assert!(got.raw.is_ascii());
    assert_eq!(got.text.replace("\r\n", "\n"), email.text());
    got
}

#[tokio::test]
async fn password_reset_email_in_both_languages() {
    let sink = SmtpSink::start().await;
    let code = "K7QF-M2XD-9PRT";
    let link = format!("{SITE}/account/reset?code={code}");
    for lang in [Lang::Fr, Lang::En] {
        let email = Email {
            lang,
            kind: EmailKind::PasswordReset {
                username: "zoé_92".into(),
                code: code.into(),
                link: link.clone(),
                valid_minutes: 30,
            },
        };
        let got = send_and_receive(&sink, &email).await;
        assert_eq!(find_code(&got.text).as_deref(), Some(code));
        assert_eq!(find_link(&got.text, &format!("{SITE}/account/reset")), Some(link.clone()));
        assert!(got.html.contains(&format!(">{code}</span>")), "{}", got.html);
        assert!(got.html.contains("monospace"));
        assert!(got.html.contains(&format!("href=\"{link}\"")), "{}", got.html);
        match lang {
            Lang::Fr => {
                assert_eq!(got.subject, "Carburoam : votre code de réinitialisation");
                assert!(got.text.contains("Bonjour zoé_92,"), "{}", got.text);
                assert!(got.text.contains("30 minutes"));
                assert!(got.text.contains("votre mot de passe reste inchangé"), "{}", got.text);
            }
            Lang::En => {
                assert_eq!(got.subject, "Carburoam: your password reset code");
                assert!(got.text.contains("30 minutes"));
                assert!(got.text.contains("your password is unchanged"), "{}", got.text);
            }
        }
    }
}

#[tokio::test]
async fn username_reminder_email_in_both_languages() {
    let sink = SmtpSink::start().await;
    let login = format!("{SITE}/login");
    for lang in [Lang::Fr, Lang::En] {
        let email = Email {
            lang,
            kind: EmailKind::UsernameReminder {
                usernames: vec!["zoé".into(), "zoe-pro".into()],
                login_link: login.clone(),
            },
        };
        let got = send_and_receive(&sink, &email).await;
        assert_eq!(find_link(&got.text, &login), Some(login.clone()));
        assert!(got.text.contains("  - zoé\n") || got.text.contains("  - zoé\r\n"), "{}", got.text);
        assert!(got.text.contains("zoe-pro"));
        assert!(got.html.contains("zoé") && got.html.contains("zoe-pro"));
        assert_eq!(find_code(&got.text), None);
        let expected = match lang {
            Lang::Fr => "Carburoam : vos identifiants",
            Lang::En => "Carburoam: your usernames",
        };
        assert_eq!(got.subject, expected);
    }
}

#[tokio::test]
async fn confirm_email_escapes_the_display_name() {
    let sink = SmtpSink::start().await;
    let link = format!("{SITE}/account/email/confirm?token=abc123&lang=fr");
    for lang in [Lang::Fr, Lang::En] {
        let email = Email {
            lang,
            kind: EmailKind::ConfirmEmail { display_name: "<b>&\"".into(), link: link.clone(), valid_hours: 24 },
        };
        let got = send_and_receive(&sink, &email).await;
        assert_eq!(find_link(&got.text, &format!("{SITE}/account/email/confirm")), Some(link.clone()));
        assert!(got.text.contains("<b>&\","), "the text part shows the name as typed: {}", got.text);
        assert!(got.html.contains("&lt;b&gt;&amp;&quot;"), "{}", got.html);
        assert!(!got.html.contains("<b>"), "{}", got.html);
        assert!(got.html.contains("href=\"https://carburoam.example/account/email/confirm?token=abc123&amp;lang=fr\""));
        match lang {
            Lang::Fr => {
                assert_eq!(got.subject, "Carburoam : confirmez votre adresse e-mail");
                assert!(got.text.contains("24 heures"));
            }
            Lang::En => {
                assert_eq!(got.subject, "Carburoam: confirm your email address");
                assert!(got.text.contains("24 hours"));
            }
        }
    }
}

#[tokio::test]
async fn security_notice_emails_in_both_languages() {
    let sink = SmtpSink::start().await;
    let events = [
        (
            SecurityEvent::PasswordChanged,
            "Carburoam : votre mot de passe a été modifié",
            "Carburoam: your password was changed",
        ),
        (
            SecurityEvent::EmailChanged { new_address: "zoe.new@example.org".into() },
            "Carburoam : l'adresse e-mail de votre compte a été modifiée",
            "Carburoam: the email address of your account was changed",
        ),
        (
            SecurityEvent::AccountDeleted,
            "Carburoam : votre compte a été supprimé",
            "Carburoam: your account was deleted",
        ),
    ];
    for (what, fr, en) in events {
        for (lang, subject) in [(Lang::Fr, fr), (Lang::En, en)] {
            let email =
                Email { lang, kind: EmailKind::SecurityNotice { display_name: "Zoé".into(), what: what.clone() } };
            let got = send_and_receive(&sink, &email).await;
            assert_eq!(got.subject, subject);
            assert_eq!(find_code(&got.text), None);
            if let SecurityEvent::EmailChanged { new_address } = &what {
                assert!(got.text.contains(new_address.as_str()) && got.html.contains(new_address.as_str()));
            }
        }
    }
}

#[tokio::test]
async fn email_pool_carries_many_messages_over_few_connections() {
    let sink = SmtpSink::start().await;
    let mailer = smtp_mailer(sink.settings());
    let email = |n: u32| Email {
        lang: Lang::En,
        kind: EmailKind::ConfirmEmail {
            display_name: format!("user {n}"),
            link: format!("{SITE}/c?n={n}"),
            valid_hours: 1,
        },
    };
    // One after the other: the pooled connection is reused.
    for n in 0..3 {
        mailer.send(&zoe(), &email(n)).await.expect("send");
        assert!(sink.next().await.text.contains(&format!("Hello user {n},")));
        // lettre puts a connection back into the pool from a spawned task: let it run.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sink.connections(), 1, "sequential sends reuse one pooled connection");
    // At once: the pool opens more connections, and each clone shares it.
    let sends = (10..16).map(|n| {
        let mailer = mailer.clone();
        async move { mailer.send(&zoe(), &email(n)).await }
    });
    for result in futures_util::future::join_all(sends).await {
        result.expect("concurrent send");
    }
    let mut names = Vec::new();
    for _ in 10..16 {
        let got = sink.next().await;
        names.push(find_link(&got.text, &format!("{SITE}/c?n=")).expect("link"));
    }
    names.sort();
    let expected: Vec<String> = (10..16).map(|n| format!("{SITE}/c?n={n}")).collect();
    assert_eq!(names, expected);
    assert!(sink.connections() > 1, "concurrent sends open more connections");
    assert!(sink.connections() <= 7, "and no more than the sends: {}", sink.connections());
    sink.none_within(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn email_files_transport_writes_one_eml_per_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outbox = dir.path().join("data").join("outbox");
    let mailer =
        Mailer::new(MailSettings { smtp: None, from: FROM.into(), outbox_dir: outbox.clone() }).expect("mailer");
    assert!(!outbox.exists(), "created on first write, not before");
    assert_eq!(mailer.describe(), format!("files in {}", outbox.display()));
    let email = Email {
        lang: Lang::Fr,
        kind: EmailKind::PasswordReset {
            username: "zoé".into(),
            code: "ABCD-EFGH-2345".into(),
            link: format!("{SITE}/account/reset?code=ABCD-EFGH-2345"),
            valid_minutes: 15,
        },
    };
    mailer.send(&zoe(), &email).await.expect("write to the outbox");

    let files: Vec<PathBuf> =
        std::fs::read_dir(&outbox).expect("outbox created").map(|e| e.expect("entry").path()).collect();
    assert_eq!(files.len(), 1, "one file and no leftover temporary file: {files:?}");
    let name = files[0].file_name().and_then(|n| n.to_str()).expect("utf-8 name").to_owned();
    assert!(name.ends_with(".eml") && name.contains("-password-reset-"), "{name}");
    let stamp = &name[..15];
    assert!(stamp.as_bytes()[8] == b'T' && stamp.chars().filter(char::is_ascii_digit).count() == 14, "{name}");

    let raw = std::fs::read(&files[0]).expect("read eml");
    let message = mail_parser::MessageParser::default().parse(&raw).expect("parse eml");
    assert_eq!(message.subject(), Some("Carburoam : votre code de réinitialisation"));
    let text = message.body_text(0).expect("text part");
    assert_eq!(find_code(&text).as_deref(), Some("ABCD-EFGH-2345"));
    assert!(message.body_html(0).is_some_and(|h| h.contains("ABCD-EFGH-2345")));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&files[0]).expect("metadata").permissions().mode();
        assert_eq!(mode & 0o077, 0, "only the owner may read a reset code: {mode:o}");
    }

    // A second message gets its own file.
    mailer.send(&zoe(), &email).await.expect("second write");
    assert_eq!(std::fs::read_dir(&outbox).expect("outbox").count(), 2);
}

#[tokio::test]
async fn email_outbox_that_is_a_file_is_refused() {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    let err = Mailer::new(MailSettings { smtp: None, from: FROM.into(), outbox_dir: file.path().to_path_buf() })
        .expect_err("a file is not an outbox");
    assert!(matches!(err, EmailError::Io(_)), "{err:?}");
    assert!(err.to_string().contains("not a directory"), "{err}");
}

#[test]
fn email_smtp_tls_from_str() {
    assert_eq!("StartTLS".parse::<SmtpTls>(), Ok(SmtpTls::StartTls));
    assert_eq!("none".parse::<SmtpTls>(), Ok(SmtpTls::None));
    assert_eq!("TLS".parse::<SmtpTls>(), Ok(SmtpTls::Tls));
    for bad in ["", "ssl", "start-tls", "yes"] {
        let err = bad.parse::<SmtpTls>().expect_err(bad);
        assert!(err.contains("expected none, starttls or tls"), "{err}");
    }
}

#[tokio::test]
async fn email_bad_addresses_are_refused() {
    for from in ["", "noreply", "Carburoam <noreply@>", "Carburoam noreply@localhost>"] {
        let err =
            Mailer::new(MailSettings { smtp: None, from: from.into(), outbox_dir: "unused".into() }).expect_err(from);
        assert!(matches!(err, EmailError::BadAddress(_)), "{from:?}: {err:?}");
        assert!(err.to_string().contains("CARBUROAM_SMTP_FROM"), "{err}");
    }

    let sink = SmtpSink::start().await;
    let mailer = smtp_mailer(sink.settings());
    let email = Email {
        lang: Lang::En,
        kind: EmailKind::SecurityNotice { display_name: "x".into(), what: SecurityEvent::AccountDeleted },
    };
    for address in ["", "zoe", "zoe@", "zoe@exa mple.org", "zoe@example.org\r\nRCPT TO:<evil@example.org>"] {
        let to = Recipient { address: address.into(), name: None };
        let err = mailer.send(&to, &email).await.expect_err(address);
        assert!(matches!(err, EmailError::BadAddress(_)), "{address:?}: {err:?}");
    }
    sink.none_within(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn email_to_a_closed_port_fails_quickly() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let mailer = smtp_mailer(SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        tls: SmtpTls::None,
        username: None,
        password: None,
    });
    let email = Email {
        lang: Lang::Fr,
        kind: EmailKind::SecurityNotice { display_name: "x".into(), what: SecurityEvent::PasswordChanged },
    };
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(15), mailer.send(&zoe(), &email))
        .await
        .expect("bounded by the timeout");
    let err = result.expect_err("nobody listens");
    assert!(matches!(err, EmailError::Smtp(_)), "{err:?}");
    assert!(err.to_string().starts_with("sending through SMTP failed: "), "{err}");
    assert!(started.elapsed() < Duration::from_secs(12));
}

#[tokio::test]
async fn email_tls_is_never_downgraded() {
    // The sink speaks plain SMTP only and does not offer STARTTLS: a mailer that asked for TLS
    // must fail rather than send in clear.
    let sink = SmtpSink::start().await;
    let email = Email {
        lang: Lang::En,
        kind: EmailKind::SecurityNotice { display_name: "x".into(), what: SecurityEvent::PasswordChanged },
    };
    for tls in [SmtpTls::StartTls, SmtpTls::Tls] {
        let mailer = smtp_mailer(SmtpSettings { tls, ..sink.settings() });
        let result = tokio::time::timeout(Duration::from_secs(15), mailer.send(&zoe(), &email)).await.expect("bounded");
        assert!(matches!(result, Err(EmailError::Smtp(_))), "{tls:?}: {result:?}");
    }
    sink.none_within(Duration::from_millis(200)).await;
}

#[test]
fn email_debug_never_shows_the_password() {
    let smtp = SmtpSettings {
        host: "smtp.example.org".into(),
        port: 465,
        tls: SmtpTls::Tls,
        username: Some("carburoam".into()),
        password: Some("correct horse battery staple".into()),
    };
    let settings = MailSettings { smtp: Some(smtp.clone()), from: FROM.into(), outbox_dir: "data/outbox".into() };
    for debug in [format!("{smtp:?}"), format!("{settings:?}"), format!("{:?}", Mailer::new(settings).expect("mailer"))]
    {
        assert!(!debug.contains("horse"), "{debug}");
        assert!(debug.contains("smtp.example.org"), "{debug}");
    }
}
