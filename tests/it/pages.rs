//! The public HTML pages, over HTTP against the real router, on both backends, seeded with the
//! feed fixtures (see tests/fixtures/README.md for what they hold).

use carburoam::db::Db;
use carburoam::feed::import_file;

use crate::app::{Reply, TestApp, spawn_app};
use crate::db_test;
use crate::helpers::fixture;

pub async fn seeded(db: &Db) -> TestApp {
    import_file(db, &fixture("snapshot_a.xml"), &Default::default()).await.expect("import a");
    import_file(db, &fixture("snapshot_b.xml"), &Default::default()).await.expect("import b");
    spawn_app(db.clone()).await
}

async fn get_lang(app: &TestApp, path: &str, accept_language: &str) -> Reply {
    app.send(app.client.get(app.url(path)).header("accept-language", accept_language)).await
}

fn assert_html(r: &Reply) {
    assert!(r.header("content-type").starts_with("text/html"), "{}", r.header("content-type"));
    let csp = r.header("content-security-policy");
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
}

/// Position of `needle` in `hay`, panicking with context when absent.
fn pos(hay: &str, needle: &str) -> usize {
    hay.find(needle).unwrap_or_else(|| panic!("{needle:?} not in page:\n{hay}"))
}

db_test!(home_search_lists_the_cheapest_first, |t| {
    let app = seeded(&t.db).await;
    let r = app.get("/?q=paris&fuel=Gazole").await;
    assert_eq!(r.status, 200);
    assert_html(&r);
    assert!(r.text.contains("<html lang=\"fr\">"));
    assert!(r.text.contains("Les moins chers autour de Paris 13 (75013)"), "{}", r.text);
    // Sceaux (1,689 €, 8 km away) before Place d'Italie (1,759 €).
    assert!(pos(&r.text, "1,689 €") < pos(&r.text, "1,759 €"));
    assert!(r.text.contains("href=\"/stations/92330002\""));
    // The fixtures are of October 2025: the header gives the feed's date, the banner says so
    // (tests/it/look.rs has the fresh case).
    assert!(r.text.contains("Prix du flux officiel du"));
    assert!(r.text.contains("data-testid=\"stale-banner\""));

    // A postcode, a département, nothing known.
    let r = app.get("/?q=29200").await;
    assert!(r.text.contains("Brest (29200)"), "{}", r.text);
    let r = app.get("/?q=44&fuel=E10").await;
    assert!(r.text.contains("Département 44"));
    let r = app.get("/?q=Zzyzx").await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("Aucun lieu connu ne correspond à «\u{202f}Zzyzx\u{202f}»"), "{}", r.text);
});

db_test!(stations_page_filters_and_sorts, |t| {
    let app = seeded(&t.db).await;
    let r = app.get("/stations?lat=48.80&lon=2.32&fuel=Gazole&radius_km=20&sort=distance").await;
    assert_eq!(r.status, 200);
    assert_html(&r);
    assert!(r.text.contains("id=\"map\""));
    assert!(r.text.contains("data-fuel=\"Gazole\""));
    assert!(r.text.contains("data-tiles=\"https://tile.openstreetmap.org/{z}/{x}/{y}.png\""));
    // By distance from (48.80, 2.32): Sceaux is nearer than Place d'Italie.
    assert!(pos(&r.text, "/stations/92330002") < pos(&r.text, "/stations/75013008"));
    // Only 24/24: Sceaux has the card machine, Place d'Italie not.
    let r = app.get("/stations?lat=48.80&lon=2.32&fuel=Gazole&radius_km=20&h24=1").await;
    assert!(r.text.contains("/stations/92330002") && !r.text.contains("/stations/75013008"));
    // E10 is sold at Sceaux only; a fuel in shortage is flagged, or hidden on demand.
    let r = app.get("/stations?q=Saint-Herblain&fuel=E10").await;
    assert!(!r.text.contains("/stations/44100004"), "no E10 price there");
    // Bad values fall back to defaults instead of failing.
    let r = app.get("/stations?lat=999&fuel=Diesel&radius_km=abc&x=1").await;
    assert_eq!(r.status, 200);
});

db_test!(station_page_shows_everything, |t| {
    let app = seeded(&t.db).await;
    let r = app.get("/stations/29200003").await;
    assert_eq!(r.status, 200);
    assert_html(&r);
    assert!(r.text.contains("Route de Quimper"));
    assert!(r.text.contains("1,699 €") && r.text.contains("1,779 €"));
    assert!(r.text.contains("06:20 – 01:00 (lendemain)"), "overnight slot");
    assert!(r.text.contains("id=\"chart\""));
    assert!(r.text.contains("Moyenne nationale"));

    let r = app.get("/stations/44100004").await;
    assert!(r.text.contains("rupture définitive"), "{}", r.text);
    assert!(r.text.contains("Horaires non communiqués"));

    let r = get_lang(&app, "/stations/6110002", "en-GB,en;q=0.9").await;
    assert!(r.text.contains("<html lang=\"en\">"));
    assert!(r.text.contains("€1.649"), "{}", r.text);
    assert!(r.text.contains("Takeaway food") && !r.text.contains("Restauration à emporter"), "{}", r.text);
});

db_test!(errors_are_pages_and_api_stays_json, |t| {
    let app = seeded(&t.db).await;
    for path in ["/stations/123", "/stations/abc", "/no/such/page"] {
        let r = app.get(path).await;
        assert_eq!(r.status, 404, "{path}");
        assert_html(&r);
        assert!(r.text.contains("Page introuvable"), "{path}");
        assert!(r.text.contains("Retour à l’accueil"));
    }
    let r = get_lang(&app, "/nope", "en").await;
    assert!(r.text.contains("Page not found"));
    let r = app.get("/api/v1/stations/123").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["code"], "not_found");
    let r = app.get("/api/v1/nope").await;
    assert_eq!(r.json()["error"]["code"], "not_found");
});

db_test!(demo_and_about, |t| {
    let app = seeded(&t.db).await;
    // Near Paris: the two stations of the fixtures within 50 km.
    let r = app.get("/demo?fuel1=Gazole&fuel2=E10").await;
    assert_eq!(r.status, 200);
    assert_html(&r);
    assert!(r.text.contains("data-testid=\"dashboard\""));
    // The same per-fuel table as a real dashboard: cheapest first.
    let gazole = &r.text[pos(&r.text, "data-testid=\"fuel-Gazole\"")..];
    assert!(pos(gazole, "data-station=\"92330002\"") < pos(gazole, "data-station=\"75013008\""));
    // (1.724 − 1.689) × 650 = 22.75
    assert!(r.text.contains("22,75 €"), "{}", r.text);
    // Removing a station is a link to the dashboard without it.
    let r = app.get("/demo?ids=75013008&fuel1=Gazole&fuel2=E10").await;
    assert!(r.text.contains("<tr data-id=\"75013008\"") && !r.text.contains("<tr data-id=\"92330002\""));
    assert!(r.text.contains("data-add=\"92330002\""), "Sceaux can be added");

    let r = app.get("/about").await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("Licence Ouverte"));
    assert!(r.text.contains("prix-carburants.gouv.fr"));
    assert!(r.text.contains("href=\"/api\""));
});

db_test!(language_switch_and_assets, |t| {
    let app = seeded(&t.db).await;
    let r = app.get("/lang?to=en&back=%2Fabout").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), "/about");
    assert!(r.header("set-cookie").starts_with("lang=en;"));
    let r = app.get("/lang?to=en&back=%2F%2Fevil.example").await;
    assert_eq!(r.header("location"), "/");
    // The cookie wins over Accept-Language.
    let r =
        app.send(app.client.get(app.url("/about")).header("cookie", "lang=en").header("accept-language", "fr")).await;
    assert!(r.text.contains("About Carburoam"));
    assert!(r.text.contains("href=\"/lang?to=fr&#38;back=%2Fabout\""), "{}", r.text);

    // Suggestions.
    let r = app.get("/suggest?q=sce").await;
    assert_eq!(r.json()[0]["label"], "Sceaux (92330)");

    // Every asset the pages link is served, immutable under its hash.
    let page = app.get("/stations/29200003").await.text;
    let urls: Vec<&str> = page.split('"').filter(|s| s.starts_with("/static/")).collect();
    assert!(urls.len() >= 5, "{urls:?}");
    for u in urls {
        let r = app.get(u).await;
        assert_eq!(r.status, 200, "{u}");
        assert!(r.header("cache-control").contains("immutable"), "{u}");
    }
    let r = app.get("/static/000000000000/css/site.css").await;
    assert_eq!(r.status, 200);
    assert!(!r.header("cache-control").contains("immutable"));
    assert_eq!(app.get("/static/x/nope.js").await.status, 404);
});

db_test!(pages_have_landmarks_descriptions_and_the_accessibility_statement, |t| {
    let app = seeded(&t.db).await;
    let mut descriptions = std::collections::BTreeSet::new();
    for path in ["/", "/stations?q=paris&fuel=Gazole", "/stations/29200003", "/demo", "/about", "/login"] {
        let r = app.get(path).await;
        assert_eq!(r.status, 200, "{path}");
        let at = pos(&r.text, "<meta name=\"description\" content=\"") + 34;
        let description = &r.text[at..at + r.text[at..].find('"').expect("end of the description")];
        assert!(description.len() > 20, "{path}: description {description:?}");
        assert!(descriptions.insert(description.to_owned()), "{path}: the same description as another page");
        // Skip link first, then banner (with the freshness line), main, contentinfo.
        let order = ["<a class=\"skip\" href=\"#main\">", "<header", "data-testid=\"freshness\"", "</header>"]
            .into_iter()
            .chain(["<main id=\"main\"", "</main>", "<footer", "href=\"/about#accessibility\""])
            .map(|n| pos(&r.text, n))
            .collect::<Vec<_>>();
        assert!(order.is_sorted(), "{path}: landmarks out of order {order:?}");
    }
    // The maps can be skipped; the station's tables have captions; the chart has a text summary.
    let r = app.get("/stations?q=paris&fuel=Gazole").await;
    assert!(
        r.text.contains("<a class=\"skip-map\" href=\"#foot\">Passer la carte</a>") && r.text.contains("id=\"foot\"")
    );
    let r = app.get("/stations/29200003").await;
    assert!(r.text.contains("<caption class=\"visually-hidden\">Prix — "), "{}", r.text);
    assert!(r.text.contains("id=\"chart-summary\"") && r.text.contains("aria-live=\"polite\""));
    assert!(r.text.contains("href=\"#addr-block\"") && r.text.contains("id=\"addr-block\""));

    let r = app.get("/about").await;
    assert!(r.text.contains("id=\"accessibility\"") && r.text.contains("Déclaration d’accessibilité"));
    assert!(r.text.contains("<strong>partiellement conforme</strong> au RGAA 4.1"));
    let r = get_lang(&app, "/about", "en").await;
    assert!(r.text.contains("Accessibility statement") && r.text.contains("<strong>partially compliant</strong>"));
    assert!(!r.text.contains("Déclaration d’accessibilité"));
});
