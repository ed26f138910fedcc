//! Threshold alerts along a saved route, on both backends: the rule made through the
//! `/me/alerts` form, an import that drops a price under the threshold at a station in the
//! route's corridor sends one message naming the route (mail through the real SMTP listener of
//! `smtp.rs`), a station off the route does not, another user's route id is refused, deleting
//! the route deletes its alerts (as `/me` says), and the export and the account deletion cover
//! them. Set-up through the helpers of `alerts.rs`.

use crate::alerts::{BREST, NOON, alerts, brest_at, count, first_id, import, register, seed};
use crate::app::{PASSWORD, TestApp, spawn_app_and_state};
use crate::db_test;
use crate::smtp::SmtpSink;

/// Through the Brest station (48.390, -4.486).
const HOME_WORK: &str = "Maison → travail";
const HOME_WORK_POINTS: &str = "48.39,-4.60;48.39,-4.30";
/// 5 km north of the station, parallel: outside the 3 km corridor.
const NORTH: &str = "Côte nord";
const NORTH_POINTS: &str = "48.435,-4.60;48.435,-4.30";

/// 4 km north of the station, parallel: outside a 3 km corridor, inside a 5 km one.
const FOUR_KM: &str = "À 4 km";
const FOUR_KM_POINTS: &str = "48.426,-4.60;48.426,-4.30";

/// Saves a route through the results page's form, as the user would; returns its id.
async fn save_route(app: &TestApp, t: &crate::helpers::TestDb, name: &str, points: &str) -> String {
    let r = app
        .post_form(
            "/me/routes",
            &[("name", name), ("from", "Plouzané"), ("to", "Brest"), ("fuel", "Gazole"), ("points", points)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let sql: &'static str = Box::leak(format!("SELECT id FROM saved_routes WHERE name = '{name}'").into_boxed_str());
    count(&t.db, sql).await.to_string()
}

/// The fixtures loaded, the site served with mail to the SMTP listener, "rita" signed in.
async fn rita(t: &crate::helpers::TestDb) -> (TestApp, carburoam::web::state::AppState, SmtpSink) {
    seed(&t.db).await;
    let sink = SmtpSink::start().await;
    let (app, state) = spawn_app_and_state(t.db.clone(), |c| c.mail.smtp = Some(sink.settings())).await;
    register(&app, &sink, "rita").await;
    (app, state, sink)
}

/// A threshold rule (Gazole, 1,650 €) along a route, through the form.
async fn route_rule(app: &TestApp, route: &str) -> reqwest::StatusCode {
    app.post_form(
        "/me/alerts/rules",
        &[("kind", "threshold"), ("fuel", "Gazole"), ("price", "1,65"), ("where", "route"), ("route", route)],
    )
    .await
    .status
}

db_test!(a_route_alert_is_made_through_the_form_for_ones_own_routes_only, |t| {
    let (app, _state, sink) = rita(&t).await;
    // No saved route yet: the option says how to make one.
    let page = app.get("/me/alerts").await;
    assert!(page.text.contains("value=\"route\""), "{}", page.text);
    assert!(page.text.contains("data-testid=\"no-routes\"") && page.text.contains("href=\"/trajet\""), "{}", page.text);
    let home = save_route(&app, &t, HOME_WORK, HOME_WORK_POINTS).await;
    let page = app.get("/me/alerts").await;
    assert!(page.text.contains("data-testid=\"route-select\""), "{}", page.text);
    assert!(page.text.contains(&format!("<option value=\"{home}\">{HOME_WORK}</option>")), "{}", page.text);

    // No route chosen: said, nothing stored.
    let r = app
        .post_form(
            "/me/alerts/rules",
            &[("kind", "threshold"), ("fuel", "Gazole"), ("price", "1,65"), ("where", "route"), ("route", "")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("Choisissez un de vos trajets enregistrés"), "{}", r.text);
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM alert_rules").await, 0);

    assert_eq!(route_rule(&app, &home).await, 303);
    let page = app.get("/me/alerts").await;
    assert!(page.text.contains("Gazole à 1,650 € ou moins, le long de Maison → travail (3,0 km)"), "{}", page.text);
    let rule_id = first_id(&page.text, "data-testid=\"rule-");
    let edit = app.get(&format!("/me/alerts?edit={rule_id}")).await;
    assert!(edit.text.contains(&format!("<option value=\"{home}\" selected>")), "{}", edit.text);
    assert!(edit.text.contains("value=\"route\" data-testid=\"where-route\" checked"), "{}", edit.text);

    // Another user: the owner's route id is a 404, for a new rule as for an edit.
    let other = app.browser();
    register(&other, &sink, "ivan").await;
    assert_eq!(route_rule(&other, &home).await, 404);
    let own = save_route(&other, &t, "Chez Ivan", NORTH_POINTS).await;
    assert_eq!(route_rule(&other, &own).await, 303);
    let (ivan_rule,): (i64,) = carburoam::on_db!(&t.db, p => sqlx::query_as(
        "SELECT r.id FROM alert_rules r JOIN users u ON u.id = r.user_id WHERE u.username = 'ivan'",
    )
    .fetch_one(p)
    .await)
    .expect("ivan's rule");
    let r = other
        .post_form(
            &format!("/me/alerts/rules/{ivan_rule}/save"),
            &[("kind", "threshold"), ("fuel", "Gazole"), ("price", "1,60"), ("where", "route"), ("route", &home)],
        )
        .await;
    assert_eq!(r.status, 404);
    let sql: &'static str =
        Box::leak(format!("SELECT COUNT(*) FROM alert_rules WHERE route_id = {home}").into_boxed_str());
    assert_eq!(count(&t.db, sql).await, 1, "only the owner's rule is on the owner's route");
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM alert_rules WHERE price = 1600").await, 0);
});

db_test!(a_price_under_the_threshold_along_the_route_alerts_once_and_deleting_the_route_deletes_it, |t| {
    let (app, _state, sink) = rita(&t).await;
    let home = save_route(&app, &t, HOME_WORK, HOME_WORK_POINTS).await;
    let north = save_route(&app, &t, NORTH, NORTH_POINTS).await;
    assert_eq!(route_rule(&app, &home).await, 303);
    assert_eq!(route_rule(&app, &north).await, 303);
    // The user follows Brest too: a rule along a route is never an "at my stations" one.
    assert_eq!(app.post_form("/me/stations/add", &[("station_id", &BREST.to_string())]).await.status, 303);

    // Brest's Gazole 1.699 → 1.629: under 1.650, on the home → work route, 5 km off the north one.
    import(&t.db, brest_at("1.629", "11:06:00")).await;
    let a = alerts(&t.db, &sink, "");
    let pass = a.run_once(NOON).await.expect("pass");
    assert_eq!(pass.evaluated.triggers, 1, "{pass:?}");
    assert_eq!(pass.delivered.sent, 1, "{pass:?}");
    let mail = sink.next().await;
    assert_eq!(mail.to, vec!["rita@example.org".to_owned()]);
    assert!(
        mail.text.contains("Gazole à 1,629 € à Brest, le long de Maison → travail (votre seuil 1,650 €)"),
        "{}",
        mail.text
    );
    assert!(!mail.text.contains(NORTH), "{}", mail.text);
    assert!(mail.text.contains("http://carburoam.test/stations/29200003"), "{}", mail.text);

    // /me says what deleting a route does, and it does it: the home → work alert goes.
    let me = app.get("/me").await;
    assert!(
        me.text.contains("Supprimer un trajet supprime aussi les alertes de prix le long de ce trajet."),
        "{}",
        me.text
    );
    assert_eq!(app.post_form(&format!("/me/routes/{home}/delete"), &[]).await.status, 303);
    let sql: &'static str =
        Box::leak(format!("SELECT COUNT(*) FROM alert_rules WHERE route_id = {home}").into_boxed_str());
    assert_eq!(count(&t.db, sql).await, 0);
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM alert_rules").await, 1, "the north route's alert stays");
    let page = app.get("/me/alerts").await;
    assert!(!page.text.contains(HOME_WORK), "{}", page.text);
    assert!(page.text.contains("le long de Côte nord"), "{}", page.text);
    // A new drop along the deleted route: nothing.
    import(&t.db, brest_at("1.599", "12:06:00")).await;
    let pass = a.run_once(NOON + 3600).await.expect("pass");
    assert_eq!((pass.evaluated.triggers, pass.delivered.sent), (0, 0), "{pass:?}");
});

/// A threshold rule (Gazole, 1,650 €) along a route with a corridor of `width` km, through the
/// form (a new rule, or `/save` of rule `edit`).
async fn route_rule_width(app: &TestApp, route: &str, width: &str, edit: Option<&str>) -> crate::app::Reply {
    let url = edit.map_or_else(|| "/me/alerts/rules".to_owned(), |id| format!("/me/alerts/rules/{id}/save"));
    let form = [
        ("kind", "threshold"),
        ("fuel", "Gazole"),
        ("price", "1,65"),
        ("where", "route"),
        ("route", route),
        ("corridor", width),
    ];
    app.post_form(&url, &form).await
}

db_test!(a_route_alert_watches_its_own_corridor_width, |t| {
    let (app, _state, sink) = rita(&t).await;
    let route = save_route(&app, &t, FOUR_KM, FOUR_KM_POINTS).await;
    // Outside 0.5–20 km: said, nothing stored.
    for bad in ["0,4", "25", "large"] {
        let r = route_rule_width(&app, &route, bad, None).await;
        assert_eq!(r.status, 422, "{bad}");
        assert!(r.text.contains("Une distance au trajet entre 0,5 et 20 km."), "{}", r.text);
    }
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM alert_rules").await, 0);
    assert_eq!(route_rule_width(&app, &route, "3", None).await.status, 303);
    let rule_id = first_id(&app.get("/me/alerts").await.text, "data-testid=\"rule-");

    // Brest's Gazole under the threshold, 4 km off the route: outside the 3 km corridor.
    import(&t.db, brest_at("1.629", "11:06:00")).await;
    let a = alerts(&t.db, &sink, "");
    let pass = a.run_once(NOON).await.expect("pass");
    assert_eq!(pass.evaluated.triggers, 0, "{pass:?}");

    // 5 km: the form keeps it, and the next drop is along the route.
    assert_eq!(route_rule_width(&app, &route, "5", Some(&rule_id)).await.status, 303);
    let edit = app.get(&format!("/me/alerts?edit={rule_id}")).await;
    assert!(edit.text.contains("name=\"corridor\" inputmode=\"decimal\" value=\"5\""), "{}", edit.text);
    // Back above the threshold, then under it again.
    import(&t.db, brest_at("1.699", "12:06:00")).await;
    import(&t.db, brest_at("1.599", "12:16:00")).await;
    let pass = a.run_once(NOON + 3600).await.expect("pass");
    assert_eq!((pass.evaluated.triggers, pass.delivered.sent), (1, 1), "{pass:?}");
    let mail = sink.next().await;
    assert!(mail.text.contains("Gazole à 1,599 € à Brest, le long de À 4 km"), "{}", mail.text);
});

db_test!(route_alerts_are_exported_and_go_with_the_account, |t| {
    let (app, _state, _sink) = rita(&t).await;
    let home = save_route(&app, &t, HOME_WORK, HOME_WORK_POINTS).await;
    assert_eq!(route_rule(&app, &home).await, 303);
    let doc = app.get("/me/export").await.json();
    let id: i64 = home.parse().expect("id");
    assert_eq!(doc["routes"][0]["id"], id, "{doc}");
    assert_eq!(doc["alerts"]["rules"][0]["saved_route_id"], id, "{doc}");
    assert_eq!(doc["alerts"]["rules"][0]["price_thousandths"], 1650, "{doc}");
    assert_eq!(doc["alerts"]["rules"][0]["corridor_km"], 3.0, "{doc}");
    let r = app.post_form("/me/delete", &[("password", PASSWORD)]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM alert_rules").await, 0);
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM saved_routes").await, 0);
});
