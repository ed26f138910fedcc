//! Station names on the site and in the API: the price index picks up a names
//! import, the lists, the station page and the JSON show brand and name, `q=` matches brands, the
//! brand filter and `/api/v1/brands`, on both backends.

use carburoam::db::Db;
use carburoam::feed::{self, ImportOptions};
use carburoam::names::{NamesImportOptions, import_source};

use crate::app::{spawn_app, spawn_app_and_state};
use crate::db_test;
use crate::helpers::fixture;

async fn load_snapshot_a(db: &Db) {
    let opts = ImportOptions { trigger: carburoam::domain::Trigger::Cli, ..ImportOptions::default() };
    feed::import_file(db, &fixture("snapshot_a.xml"), &opts).await.expect("snapshot_a imports");
}

async fn import_names(db: &Db) {
    let opts = NamesImportOptions { trigger: carburoam::domain::Trigger::Cli, ..NamesImportOptions::default() };
    import_source(db, &fixture("names_a.csv").display().to_string(), &opts).await.expect("names import");
}

/// The attribution beside OpenStreetMap names (the tiles' own credit links the same page).
const OSM: &str = "OpenStreetMap (ODbL)</a>";

db_test!(names_reach_the_index_after_an_import, |t| {
    load_snapshot_a(&t.db).await;
    let (app, state) = spawn_app_and_state(t.db.clone(), |_| {}).await;
    let page = app.get("/stations?lat=48.774&lon=2.28&fuel=Gazole").await;
    assert_eq!(page.status, 200);
    assert!(!page.text.contains("TotalEnergies"), "no names yet");
    assert!(!page.text.contains(OSM), "no attribution without names");
    // A names import alone (no new feed import) makes the index rebuild.
    import_names(&t.db).await;
    // (A background check started by the page above may have rebuilt already.)
    state.index.refresh().await.expect("refresh");
    assert!(!state.index.refresh().await.expect("refresh"), "one rebuild per names import");
    let page = app.get("/stations?lat=48.774&lon=2.28&fuel=Gazole").await;
    assert!(page.text.contains("TotalEnergies — Total Access"), "{}", page.text);
    assert!(page.text.contains(r#"aria-label="TotalEnergies""#), "the badge names the brand");
    assert!(page.text.contains(OSM), "attribution");
    // The address stays, as the second line.
    assert!(page.text.contains("Sceaux"));
});

db_test!(names_on_pages_search_and_filter, |t| {
    load_snapshot_a(&t.db).await;
    import_names(&t.db).await;
    let app = spawn_app(t.db.clone()).await;

    // The station page's title and heading.
    let page = app.get("/stations/6110002").await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("<title>E.Leclerc, Le Cannet — Carburoam</title>"), "{}", page.text);
    assert!(page.text.contains(OSM));
    // A station without a name keeps its town and address.
    let plain = app.get("/stations/75013008").await;
    assert!(!plain.text.contains(OSM));

    // q= finds a brand with a town, or a brand alone; a town alone is still a place.
    let page = app.get("/stations?q=leclerc+le+cannet&fuel=Gazole").await;
    assert!(page.text.contains("/stations/6110002"), "{}", page.text);
    assert!(!page.text.contains("/stations/29200003\""), "only Le Cannet's Leclerc");
    let page = app.get("/stations?q=leclerc&fuel=Gazole").await;
    assert!(page.text.contains("/stations/6110002"));
    let page = app.get("/stations?q=esso+13&fuel=Gazole").await;
    assert!(page.text.contains("/stations/13001005"), "{}", page.text);
    let page = app.get("/?q=total+sceaux&fuel=Gazole").await;
    assert!(page.text.contains("/stations/92330002"), "{}", page.text);

    // The brand filter: the select lists the brands around with counts; brand= filters.
    let around = "/stations?lat=46.6&lon=2.4&radius_km=100&fuel=Gazole";
    let page = app.get(around).await;
    assert!(!page.text.contains("E.Leclerc ("), "no brand within 100 km of the centre of France");
    let wide = "/stations?lat=48.774&lon=2.28&radius_km=100&fuel=Gazole";
    let page = app.get(wide).await;
    assert!(page.text.contains(r#"<option value="TotalEnergies">TotalEnergies (1)</option>"#), "{}", page.text);
    let page = app.get(&format!("{wide}&brand=Esso")).await;
    assert!(!page.text.contains("/stations/92330002"), "filtered out");
    let page = app.get(&format!("{wide}&brand=TotalEnergies&brand=Esso")).await;
    assert!(page.text.contains("/stations/92330002"), "repeatable");

    // The API: brand and name (null when unknown), the brand filter, /brands, bad parameters.
    let api = "/api/v1/stations?lat=48.774&lon=2.28&fuel=Gazole&radius_km=100&max_age_days=3650";
    let json = app.get(api).await.json();
    let list = json["stations"].as_array().expect("stations");
    let total = list.iter().find(|s| s["id"] == 92330002).expect("Sceaux");
    assert_eq!(total["brand"], "TotalEnergies");
    assert_eq!(total["name"], "TotalEnergies — Total Access");
    let paris = list.iter().find(|s| s["id"] == 75013008).expect("Paris 13");
    assert!(paris["brand"].is_null() && paris["name"].is_null());
    let only = app.get(&format!("{api}&brand=TotalEnergies")).await.json();
    assert_eq!(only["stations"].as_array().map(Vec::len), Some(1));
    let bad = app.get(&format!("{api}&brand=Nope")).await;
    assert_eq!(bad.status, 400);
    assert!(bad.json()["error"]["message"].as_str().unwrap_or_default().contains("`brand`"), "{}", bad.text);
    let empty = app.get(&format!("{api}&brand=")).await;
    assert_eq!(empty.status, 400);
    let twice = app.get(&format!("{api}&fuel=E10")).await;
    assert_eq!(twice.status, 400, "other parameters still once");
    let one = app.get("/api/v1/stations/92330002").await.json();
    assert_eq!(
        (one["brand"].as_str(), one["name"].as_str()),
        (Some("TotalEnergies"), Some("TotalEnergies — Total Access"))
    );
    let brands = app.get("/api/v1/brands").await.json();
    assert_eq!(brands["brands"][0], serde_json::json!({"brand": "E.Leclerc", "stations": 2}));
    assert_eq!(app.get("/api/v1/brands?x=1").await.status, 400);

    // /about says where names come from.
    let about = app.get("/about").await;
    assert!(
        about.text.contains("OpenStreetMap")
            && about.text.contains("name-suggestion-index")
            && about.text.contains(OSM)
    );
});

db_test!(scheduled_refresh_brings_names_to_the_pages, |t| {
    use std::sync::atomic::Ordering;
    load_snapshot_a(&t.db).await;
    let (url, hits, _) = crate::names::fake_overpass(0, crate::names::FAKE_JSON).await;
    let app = crate::app::spawn_app_with(t.db.clone(), |cfg| {
        cfg.names_url = url.clone();
        cfg.names_every = Some(std::time::Duration::from_secs(1));
    })
    .await;
    // No names at first; the scheduler asks the fake Overpass within its first interval.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let page = app.get("/stations?q=paris+13&fuel=Gazole").await;
        if page.text.contains("TotalEnergies — Relais Paris 13") {
            assert!(page.text.contains(OSM), "attribution");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "names never appeared: {}", page.text);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(hits.load(Ordering::SeqCst) >= 1);
    let last = carburoam::db::station_names::last_import(&t.db).await.expect("last").expect("an import");
    assert_eq!((last.trigger.as_str(), last.source.as_str()), ("schedule", url.as_str()));
});

db_test!(admin_data_page_shows_names_and_refreshes_them, |t| {
    load_snapshot_a(&t.db).await;
    let (url, _, _) = crate::names::fake_overpass(0, crate::names::FAKE_JSON).await;
    let app = crate::app::spawn_app_with(t.db.clone(), |cfg| cfg.names_url = url.clone()).await;
    let password = "plume cerise fenêtre 42";
    let r = app
        .post_form(
            "/register",
            &[
                ("username", "admin"),
                ("display_name", "admin"),
                ("email", "admin@example.org"),
                ("password", password),
                ("confirm", password),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let id = carburoam::db::users::by_login(&t.db, "admin").await.expect("query").expect("user").id;
    carburoam::db::admin::set_admin(&t.db, id, true).await.expect("grant");
    let page = app.get("/admin/etl").await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains(r#"data-testid="names-coverage">0.0% (0/8)<"#), "{}", page.text);
    assert!(page.text.contains(r#"data-testid="refresh-names""#));

    // Refused while another names import holds the lease.
    let now = carburoam::db::now();
    let held = carburoam::db::leases::try_acquire(&t.db, "names_import", "other-instance", now, 60).await;
    assert!(held.expect("lease"));
    let r = app.post_form("/admin/names/refresh", &[]).await;
    assert_eq!((r.status.as_u16(), r.header("location")), (303, "/admin/etl?msg=names_busy"));
    assert!(carburoam::db::station_names::last_import(&t.db).await.expect("last").is_none());
    let refreshes = || async {
        let audit = carburoam::db::audit::recent(&t.db, None, 50).await.expect("audit");
        audit.into_iter().filter(|a| a.action == "refresh-names").collect::<Vec<_>>()
    };
    assert!(refreshes().await.is_empty(), "a refused press is not an action taken");
    carburoam::db::leases::release(&t.db, "names_import", "other-instance").await.expect("release");

    let r = app.post_form("/admin/names/refresh", &[]).await;
    assert_eq!((r.status.as_u16(), r.header("location")), (303, "/admin/etl?msg=names_started"));
    // The press is in the audit log: who, what, and the Overpass endpoint asked.
    let logged = refreshes().await;
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!((logged[0].actor.as_str(), logged[0].detail.as_deref()), ("admin", Some(url.as_str())));
    assert!(logged[0].target_id.is_none());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while carburoam::db::station_names::last_import(&t.db).await.expect("last").is_none() {
        assert!(std::time::Instant::now() < deadline, "the refresh never finished");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let page = app.get("/admin/etl").await;
    assert!(page.text.contains(r#"data-testid="names-coverage">37.5% (3/8)<"#), "{}", page.text);
    assert!(page.text.contains(&url), "the source");
    // Without CSRF token: refused.
    let bare = app.send(app.client.post(app.url("/admin/names/refresh")).header("origin", &app.address)).await;
    assert_eq!(bare.status, 403);
});
