//! What the pages say: the freshness line and banner follow the feed's own date, one
//! clock for price ages (HTML list and JSON API), départements by name on the trends page, the
//! home page's national averages, and the new-alert form grouped by kind. Both backends.

use std::path::{Path, PathBuf};

use carburoam::db::Db;
use carburoam::feed::import_file;
use chrono::{Duration, Utc};

use crate::app::{TestApp, spawn_app};
use crate::db_test;
use crate::helpers::fixture;

/// Position of `needle` in `hay`, panicking with context when absent.
fn pos(hay: &str, needle: &str) -> usize {
    hay.find(needle).unwrap_or_else(|| panic!("{needle:?} not in page:\n{hay}"))
}

/// `snapshot_b.xml` with every price dated `minutes` ago (Paris wall time, as the feed writes
/// it): a file as fresh as the live feed.
fn fresh_copy(dir: &Path, minutes: i64) -> PathBuf {
    let at = (Utc::now() - Duration::minutes(minutes)).with_timezone(&chrono_tz::Europe::Paris);
    let stamp = at.format("%Y-%m-%d %H:%M:%S").to_string();
    let mut bytes = std::fs::read(fixture("snapshot_b.xml")).expect("fixture");
    let marker = b"maj=\"";
    let mut i = 0;
    while let Some(k) = bytes[i..].windows(marker.len()).position(|w| w == marker) {
        let start = i + k + marker.len();
        bytes[start..start + stamp.len()].copy_from_slice(stamp.as_bytes());
        i = start + stamp.len();
    }
    let path = dir.join("fresh.xml");
    std::fs::write(&path, bytes).expect("write the fresh copy");
    path
}

async fn import(db: &Db, path: &Path) {
    import_file(db, path, &Default::default()).await.unwrap_or_else(|e| panic!("import {}: {e}", path.display()));
}

/// The fixtures of 25–26 October 2025: an old feed.
async fn old_feed(db: &Db) -> TestApp {
    import(db, &fixture("snapshot_a.xml")).await;
    import(db, &fixture("snapshot_b.xml")).await;
    spawn_app(db.clone()).await
}

async fn get_en(app: &TestApp, path: &str) -> String {
    app.send(app.client.get(app.url(path)).header("cookie", "lang=en")).await.text
}

db_test!(the_banner_says_since_when_the_feed_has_not_changed, |t| {
    // Just imported, but the newest price of the file is of 26 Oct 2025, 10:07 Paris time.
    let app = old_feed(&t.db).await;
    for path in ["/", "/stations?q=paris&fuel=Gazole", "/stations/29200003", "/tendances", "/about", "/login"] {
        let r = app.get(path).await;
        assert_eq!(r.status, 200, "{path}");
        let head = &r.text[..pos(&r.text, "</header>")];
        assert!(
            head.contains("Le flux officiel n’a pas changé depuis le 26 oct. 2025 à 10:07"),
            "{path}: no banner with the feed's date:\n{head}"
        );
        assert!(head.contains("data-testid=\"stale-banner\"") && head.contains("role=\"status\""), "{path}");
        // The header gives the feed's date, not "just now" (when the import ran).
        assert!(head.contains("datetime=\"2025-10-26T09:07:00Z\""), "{path}:\n{head}");
        assert!(!head.contains("à l’instant"), "{path}:\n{head}");
    }
    let en = get_en(&app, "/").await;
    assert!(en.contains("The official feed has not changed since 26 Oct 2025, 10:07"), "{en}");

    // A file of ten minutes ago: no banner, the header says how old it is.
    let dir = tempfile::tempdir().expect("tempdir");
    import(&t.db, &fresh_copy(dir.path(), 10)).await;
    let app = spawn_app(t.db.clone()).await;
    for path in ["/", "/stations?q=paris&fuel=Gazole", "/tendances", "/about"] {
        let r = app.get(path).await;
        assert!(
            !r.text.contains("data-testid=\"stale-banner\"") && !r.text.contains("n’a pas changé"),
            "{path}:\n{}",
            r.text
        );
        assert!(r.text.contains("Prix du flux officiel du"), "{path}");
    }
    assert!(app.get("/").await.text.contains("(il y a 10 min)"));
    assert!(!get_en(&app, "/").await.contains("has not changed"));
});

db_test!(the_map_api_and_the_list_age_prices_with_one_clock, |t| {
    // A year-old feed: the list (counted from the newest snapshot) shows Sceaux and Place
    // d'Italie; the map's API must show the same, with the same `max_age_days`.
    let app = old_feed(&t.db).await;
    let page = app.get("/stations?lat=48.80&lon=2.32&fuel=Gazole&radius_km=20").await.text;
    assert!(page.contains("/stations/92330002") && page.contains("/stations/75013008"), "{page}");
    assert!(page.contains("data-max-age-days=\"30\""), "the map asks what the list shows");
    let r = app.get("/api/v1/stations?lat=48.80&lon=2.32&fuel=Gazole&radius_km=20&max_age_days=30").await;
    assert_eq!(r.status, 200);
    let ids: Vec<i64> =
        r.json()["stations"].as_array().expect("stations").iter().map(|s| s["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [92330002, 75013008], "{}", r.text);
    // One day back from the snapshot (26 Oct, 10:07): Place d'Italie's price of 25 Oct 14:45
    // is in, Sceaux's of 25 Oct 16:00 too; both in the list and the API.
    let r = app.get("/api/v1/stations?lat=48.80&lon=2.32&fuel=Gazole&radius_km=20&max_age_days=1").await;
    assert_eq!(r.json()["stations"].as_array().expect("stations").len(), 2, "{}", r.text);
});

db_test!(trends_name_the_departements, |t| {
    let app = old_feed(&t.db).await;
    let r = app.get("/tendances?fuel=Gazole").await;
    assert_eq!(r.status, 200);
    let table = &r.text[pos(&r.text, "data-testid=\"dept-table\"")..];
    assert!(table.contains(">29 Finistère</a>"), "{table}");
    assert!(table.contains(">92 Hauts-de-Seine</a>"), "{table}");
    // The selector and the cheapest and dearest lines.
    assert!(r.text.contains(">29 Finistère</option>"), "{}", r.text);
    let cheapest = &r.text[pos(&r.text, "data-testid=\"cheapest-dept\"")..];
    let dearest = &r.text[pos(&r.text, "data-testid=\"dearest-dept\"")..];
    assert!(cheapest[..cheapest.find("</p>").unwrap()].contains("06 Alpes-Maritimes"), "{cheapest}");
    assert!(dearest[..dearest.find("</p>").unwrap()].contains("75 Paris"), "{dearest}");
    // A chosen département's title, and the chart's date label in the page's language.
    let r = app.get("/tendances?fuel=Gazole&dept=29").await;
    assert!(r.text.contains("Gazole, Département 29 Finistère"), "{}", r.text);
    assert!(r.text.contains("\"x_label\":\"Date\""), "{}", r.text);
    let en = get_en(&app, "/trends?fuel=Gazole").await;
    assert!(en.contains(">29 Finistère</a>") && en.contains("Cheapest today: 06 Alpes-Maritimes"), "{en}");
});

db_test!(the_home_page_gives_the_national_averages, |t| {
    let app = old_feed(&t.db).await;
    let r = app.get("/").await;
    let national = &r.text[pos(&r.text, "data-testid=\"national\"")..];
    // After the search form, each fuel with its price and a link to its trends.
    assert!(pos(&r.text, "data-testid=\"national\"") > pos(&r.text, "<form"));
    assert!(national.contains("Moyennes nationales du 26 oct. 2025"), "{national}");
    assert!(national.contains("href=\"/tendances?fuel=Gazole\""), "{national}");
    let gazole = &national[pos(national, "data-testid=\"national-Gazole\"")..];
    assert!(gazole[..gazole.find("</li>").unwrap()].contains(" €</strong>"), "{gazole}");
    assert!(national.contains("href=\"/tendances\"") && national.contains("Voir les tendances"));
    let en = get_en(&app, "/").await;
    assert!(en.contains("National averages on 26 Oct 2025") && en.contains("href=\"/trends?fuel=Gazole\""), "{en}");
});

db_test!(the_new_alert_form_groups_each_kinds_fields_under_it, |t| {
    let app = old_feed(&t.db).await;
    app.register("lucie").await;
    let r = app.get("/me/alerts").await;
    assert_eq!(r.status, 200);
    let form = &r.text[pos(&r.text, "data-testid=\"rule-form\"")..];
    let at = |needle: &str| pos(form, needle);
    let (threshold, drop, cheapest, digest) = (
        at("data-testid=\"kind-threshold\""),
        at("data-testid=\"kind-drop\""),
        at("data-testid=\"kind-cheapest\""),
        at("data-testid=\"kind-digest\""),
    );
    assert!(threshold < drop && drop < cheapest && cheapest < digest);
    for field in ["name=\"price\"", "name=\"where\"", "name=\"place\"", "name=\"radius\""] {
        assert!((threshold..drop).contains(&at(field)), "{field} under the threshold kind");
    }
    assert!((drop..cheapest).contains(&at("name=\"drop\"")));
    assert!(at("name=\"weekday\"") > digest && at("name=\"hour\"") > digest);
    // The fuel applies to three kinds: once, before them.
    assert!(at("name=\"fuel\"") < threshold);
    assert_eq!(form.matches("name=\"fuel\"").count(), 1);
});
