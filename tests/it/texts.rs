//! The wording of rendered pages, on both backends: English pages carry no French typography
//! (no space before `:` `;` `!` `?`, no « »), French ones no breakable space before them, and
//! English station pages name the feed's services in English.

use crate::admin::ADMIN_PAGES;
use crate::app::{Reply, TestApp};
use crate::db_test;
use crate::pages::seeded;

use crate::app::PASSWORD;

/// Public pages, some with a search that finds several places, none, or a station in shortage.
const PUBLIC: [&str; 15] = [
    "/",
    "/?q=paris&fuel=Gazole",
    "/?q=sa",
    "/?q=Zzyzx",
    "/stations?lat=48.80&lon=2.32&fuel=Gazole&radius_km=20",
    "/stations?q=Zzyzx",
    "/stations/29200003",
    "/stations/44100004",
    "/stations/6110002",
    "/demo?fuel1=Gazole&fuel2=E10",
    "/about",
    "/login",
    "/register",
    "/forgot-password",
    "/no/such/page",
];

/// Pages of a signed-in admin (the console's, but the backup download).
fn signed_in() -> impl Iterator<Item = &'static str> {
    ["/me", "/me/stations", "/me/profile"].into_iter().chain(ADMIN_PAGES).filter(|p| !p.ends_with("/download"))
}

async fn get(app: &TestApp, path: &str, lang: &str) -> Reply {
    app.send(app.client.get(app.url(path)).header("accept-language", lang)).await
}

async fn post(app: &TestApp, path: &str, lang: &str, fields: &[(&str, &str)]) -> Reply {
    let token = app.csrf().await;
    let mut all = vec![("csrf", token.as_str())];
    all.extend_from_slice(fields);
    app.send(app.client.post(app.url(path)).header("origin", &app.address).header("accept-language", lang).form(&all))
        .await
}

/// Registers `username` in `lang`, then makes it an admin.
async fn admin(app: &TestApp, username: &str, lang: &str) {
    let email = format!("{username}@example.org");
    let fields = [
        ("username", username),
        ("display_name", username),
        ("email", email.as_str()),
        ("password", PASSWORD),
        ("confirm", PASSWORD),
    ];
    let r = post(app, "/register", lang, &fields).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let id = crate::app::user_id(&app.db, username).await;
    carburoam::db::admin::set_admin(&app.db, id, true).await.expect("grant");
    let r = post(app, "/me/stations/add", lang, &[("station_id", "92330002")]).await;
    assert_eq!(r.status, 303, "{}", r.text);
}

/// The page with the entities of spaces decoded.
fn decoded(html: &str) -> String {
    html.replace("&nbsp;", "\u{a0}").replace("&#160;", "\u{a0}").replace("&#8239;", "\u{202f}")
}

/// Each place where `html` breaks the typography of `lang`, with some context.
fn faults(html: &str, lang: &str) -> Vec<String> {
    let chars: Vec<char> = decoded(html).chars().collect();
    let mut out = Vec::new();
    for (i, c) in chars.iter().enumerate() {
        let before = if i > 0 { chars[i - 1] } else { '\n' };
        let high = matches!(c, ':' | ';' | '!' | '?');
        let bad = match lang {
            "en" => high && matches!(before, ' ' | '\u{a0}' | '\u{202f}') || matches!(c, '«' | '»'),
            _ => high && before == ' ' || *c == '«' && chars.get(i + 1) == Some(&' ') || *c == '»' && before == ' ',
        };
        if bad {
            out.push(chars[i.saturating_sub(40)..(i + 20).min(chars.len())].iter().collect());
        }
    }
    out
}

fn check(path: &str, r: &Reply, lang: &str, all: &mut Vec<String>) {
    assert!(r.text.contains(&format!("<html lang=\"{lang}\">")), "{path} is not in {lang}");
    // `/` holds its stylesheet in the page: CSS (`display: none !important`) is not text.
    let text = match (r.text.find("<style>"), r.text.find("</style>")) {
        (Some(a), Some(b)) if a < b => format!("{}{}", &r.text[..a], &r.text[b..]),
        _ => r.text.clone(),
    };
    all.extend(faults(&text, lang).into_iter().map(|f| format!("{lang} {path}: …{f}…")));
}

db_test!(english_pages_carry_no_french_typography, |t| {
    let app = seeded(&t.db).await;
    admin(&app, "root", "en").await;
    let mut all = Vec::new();
    let anonymous = app.browser();
    for path in PUBLIC {
        check(path, &get(&anonymous, path, "en").await, "en", &mut all);
    }
    for path in signed_in() {
        check(path, &get(&app, path, "en").await, "en", &mut all);
    }
    // Pages with form problems and notices.
    let bad = [("username", "x"), ("email", "nope"), ("password", "short"), ("confirm", "other")];
    let r = post(&app.browser(), "/register", "en-GB,en;q=0.9", &bad).await;
    check("POST /register", &r, "en", &mut all);
    assert!(r.text.contains("The form has errors:"), "{}", r.text);
    let r = post(&app.browser(), "/login", "en", &[("login", "root"), ("password", "wrong")]).await;
    check("POST /login", &r, "en", &mut all);
    // "Run now" imports the test server's fixture feed, then the console says so.
    let r = post(&app, "/admin/etl/run", "en", &[]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let after = r.header("location").to_owned();
    check("POST /admin/etl/run", &get(&app, &after, "en").await, "en", &mut all);
    assert!(all.is_empty(), "French typography on English pages:\n{}", all.join("\n"));

    let r = get(&app, "/admin", "en").await;
    assert!(r.text.contains("Total: <strong"), "{}", r.text);
    assert!(r.text.contains("1 page,") || r.text.contains(" pages,"), "{}", r.text);
    let r = get(&app, "/?q=Zzyzx", "en").await;
    assert!(r.text.contains("No known place matches “Zzyzx”"), "{}", r.text);
    let r = get(&app, "/?q=sa", "en").await;
    assert!(r.text.contains("Other places:"), "{}", r.text);
});

db_test!(french_pages_keep_their_spaces_unbreakable, |t| {
    let app = seeded(&t.db).await;
    admin(&app, "racine", "fr").await;
    let mut all = Vec::new();
    let anonymous = app.browser();
    for path in PUBLIC {
        check(path, &get(&anonymous, path, "fr").await, "fr", &mut all);
    }
    for path in signed_in() {
        check(path, &get(&app, path, "fr").await, "fr", &mut all);
    }
    assert!(all.is_empty(), "breakable spaces on French pages:\n{}", all.join("\n"));
    let r = get(&app, "/admin", "fr").await;
    assert!(r.text.contains("Total\u{202f}: <strong"), "{}", r.text);
});

db_test!(english_station_pages_translate_services, |t| {
    let app = seeded(&t.db).await;
    let en = get(&app, "/stations/6110002", "en").await;
    let fr = get(&app, "/stations/6110002", "fr").await;
    assert!(fr.text.contains("Restauration à emporter"), "{}", fr.text);
    assert!(en.text.contains("<li>Takeaway food</li>"), "{}", en.text);
    assert!(!en.text.contains("Restauration à emporter"), "{}", en.text);
    // The filter shows English names and keeps the feed's as values.
    let r = get(&app, "/stations?lat=48.80&lon=2.32&fuel=Gazole", "en").await;
    assert!(r.text.contains(">Public toilets</option>"), "{}", r.text);
    assert!(r.text.contains("value=\"Toilettes publiques\""), "{}", r.text);
});
