//! The route page beyond the plain search, on both backends: a GPX file posted by the
//! form (no engine), its refusals named on the page, positions typed as `LAT,LON`, and the
//! account side — the vehicle's defaults, saving a route, `/me` with its best stop now (from the
//! stored points, no engine call), deleting it.

use std::sync::atomic::Ordering;

use carburoam::route::RouterKind;

use crate::app::{Reply, TestApp};
use crate::db_test;
use crate::route::{
    CLOSED_SUNDAY, LAVAL, OFF_2KM, ON_ROUTE, RENNES, SHORT, app_with_router, gpx, on_line, seed, serve_fake, straight,
};

const BOUNDARY: &str = "----carburoam-test-boundary-7MA4YWxk";

/// A `multipart/form-data` body as a browser sends the route form: the text fields, then the
/// file input (`None`: no file chosen, an empty part as browsers send it).
fn multipart(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> Vec<u8> {
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes(),
        );
    }
    let (name, bytes) = file.unwrap_or(("", b""));
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"gpx\"; filename=\"{name}\"\r\n\
             Content-Type: application/gpx+xml\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// Posts the route form to `path` with `header` (the page's own origin, another site's, a cookie).
async fn post_to(app: &TestApp, path: &str, header: (&str, &str), fields: &[(&str, &str)], file: &[u8]) -> Reply {
    app.send(
        app.client
            .post(app.url(path))
            .header(header.0, header.1)
            .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
            .body(multipart(fields, Some(("a.gpx", file)))),
    )
    .await
}

async fn post_route(app: &TestApp, fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> Reply {
    app.send(
        app.client
            .post(app.url("/trajet"))
            .header("origin", app.url(""))
            .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
            .body(multipart(fields, file)),
    )
    .await
}

/// The station ids of the result list, in its order.
fn listed(html: &str) -> Vec<i64> {
    let Some(at) = html.find("data-testid=\"route-results\"") else { return Vec::new() };
    let list = &html[at..html[at..].find("</ol>").map_or(html.len(), |e| at + e)];
    list.split("href=\"/stations/").skip(1).filter_map(|s| s.split('"').next()?.parse().ok()).collect()
}

/// The page refuses the file with 422 and says why, in French.
fn refused(r: &Reply, needle: &str) {
    assert_eq!(r.status, 422, "{needle}: {}", r.text);
    assert!(r.text.contains("data-testid=\"route-error\""), "{needle}: {}", r.text);
    assert!(r.text.contains(needle), "{needle} in {}", r.text);
    assert!(!r.text.contains("data-testid=\"route-summary\""));
}

db_test!(route_page_gpx_upload, |t| {
    seed(&t.db).await;
    // No engine at all: a GPX file needs none.
    let app = app_with_router(t.db.clone(), RouterKind::Off, None).await;
    let track = gpx(&straight(30));
    let r =
        post_route(&app, &[("fuel", "Gazole"), ("sort", "along")], Some(("rennes-laval.gpx", track.as_bytes()))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    for needle in ["data-testid=\"route-summary\"", "Meilleur arrêt", "id=\"route-data\"", "Trajet de 67"] {
        assert!(r.text.contains(needle), "{needle} in {}", r.text);
    }
    assert_eq!(listed(&r.text), [ON_ROUTE, OFF_2KM, SHORT, CLOSED_SUNDAY]);
    assert_eq!(r.header("cache-control"), "no-store");
    // The fields posted are the form's again.
    assert!(r.text.contains("<option value=\"along\" selected>"), "{}", r.text);
    // A visitor is invited to sign in to save it; no save form.
    assert!(r.text.contains("/login?next=") && !r.text.contains("data-testid=\"route-save\""));

    // The form posted without a file: the GET page of the places (a page to share).
    let r = post_route(&app, &[("from", "Rennes"), ("to", "Laval"), ("fuel", "E10")], None).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let to = r.header("location");
    assert!(to.starts_with("/trajet?from=Rennes&to=Laval&fuel=E10"), "{to}");
    // Neither places nor a file.
    let r = post_route(&app, &[("fuel", "Gazole")], None).await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("Indiquez un départ et une arrivée"), "{}", r.text);

    // Refusals, named on the page (the API's limits).
    refused(&post_route(&app, &[], Some(("a.gpx", b"this is not xml <<"))).await, "pas un document XML");
    refused(&post_route(&app, &[], Some(("a.gpx", b"  "))).await, "Le fichier GPX est vide");
    refused(
        &post_route(&app, &[], Some(("a.kml", b"<kml><Document/></kml>"))).await,
        "élément racine est &#60;kml&#62;",
    );
    let mut big = track.clone().into_bytes();
    big.extend(std::iter::repeat_n(b' ', 5 * 1024 * 1024));
    refused(&post_route(&app, &[], Some(("big.gpx", &big))).await, "dépasse 5\u{a0}Mo");
    // Past the API's body limit too (the page reads up to 8 MB): the same message, not a 413.
    big.extend(std::iter::repeat_n(b' ', 2 * 1024 * 1024));
    refused(&post_route(&app, &[], Some(("bigger.gpx", &big))).await, "dépasse 5\u{a0}Mo");
    let mut many = String::from("<gpx><rte>");
    for _ in 0..50_001 {
        many.push_str("<rtept lat=\"48.1\" lon=\"-1.6\"/>");
    }
    many.push_str("</rte></gpx>");
    refused(&post_route(&app, &[], Some(("many.gpx", many.as_bytes()))).await, "plus de 50\u{202f}000 points");
    let out = gpx(&[(48.1, -1.6), (95.0, -1.5)]);
    refused(&post_route(&app, &[], Some(("out.gpx", out.as_bytes()))).await, "Point 2 du fichier GPX\u{202f}: lat 95");
    let spain = gpx(&[(40.4, -3.7), (41.4, 2.17)]);
    refused(&post_route(&app, &[], Some(("spain.gpx", spain.as_bytes()))).await, "hors de France");
    // In English.
    let r = post_to(&app, "/route", ("cookie", "lang=en"), &[], b"<kml/>").await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("not a GPX track"), "{}", r.text);
    // From another site: refused.
    let r = post_to(&app, "/trajet", ("origin", "https://evil.example"), &[], track.as_bytes()).await;
    assert_eq!(r.status, 403, "{}", r.text);
});

db_test!(route_page_positions_vehicle_and_saved_routes, |t| {
    seed(&t.db).await;
    let (url, fake) = serve_fake(RouterKind::Geoplateforme).await;
    let app = app_with_router(t.db.clone(), RouterKind::Geoplateforme, Some(url)).await;
    // Positions typed as LAT,LON (what "my position" and a tap on the map write).
    let from = format!("{:.5},{:.5}", RENNES.0, RENNES.1);
    let to = format!("{:.5},{:.5}", LAVAL.0, LAVAL.1);
    let r = app.get(&format!("/trajet?from={from}&to={to}&fuel=Gazole")).await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("Meilleur arrêt"), "{}", r.text);
    assert!(listed(&r.text).contains(&OFF_2KM));

    // A signed-in user's vehicle fills the form.
    app.register("roula").await;
    let r = app.post_form("/me/vehicle", &[("fuel", "E10"), ("tank_litres", "300"), ("consumption", "abc")]).await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("réservoir de 1 à 200 litres") && r.text.contains("consommation de 1 à 40"), "{}", r.text);
    let r = app.post_form("/me/vehicle", &[("fuel", "E10"), ("tank_litres", "55"), ("consumption", "7,2")]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let r = app.get("/me/profile").await;
    assert!(r.text.contains("Véhicule enregistré") || r.text.contains("value=\"55\""), "{}", r.text);
    let r = app.get("/trajet").await;
    assert!(r.text.contains("<option value=\"E10\" selected>"), "{}", r.text);
    assert!(
        r.text.contains("id=\"litres\" name=\"litres\" min=\"1\" max=\"200\" step=\"1\" value=\"55\""),
        "{}",
        r.text
    );
    assert!(r.text.contains("value=\"7.2\""), "{}", r.text);

    // Results offer to save the route, with its points.
    let r = app.get("/trajet?from=Rennes&to=Laval&fuel=Gazole").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("data-testid=\"route-save\""), "{}", r.text);
    assert_eq!(r.header("cache-control"), "no-store");
    let hidden = |name: &str| {
        let marker = format!("name=\"{name}\" value=\"");
        let at = r.text.find(&marker).unwrap_or_else(|| panic!("{name}")) + marker.len();
        r.text[at..at + r.text[at..].find('"').expect("end")].to_owned()
    };
    let points = hidden("points");
    assert!(points.split(';').count() > 20, "{points}");
    let calls = fake.calls.load(Ordering::SeqCst);
    let r = app
        .post_form(
            "/me/routes",
            &[
                ("name", "Maison → travail"),
                ("from", &hidden("from")),
                ("to", &hidden("to")),
                ("vias", ""),
                ("fuel", &hidden("fuel")),
                ("points", &points),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.header("location"), "/me#routes");
    // /me: the route and its best stop now, ranked along the stored points (no engine call).
    let r = app.get("/me").await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("Maison → travail") && r.text.contains("Rennes → Laval"), "{}", r.text);
    assert!(r.text.contains("Meilleur arrêt maintenant"), "{}", r.text);
    assert!(r.text.contains(&format!("href=\"/stations/{OFF_2KM}\" data-testid=\"route-best-now\"")), "{}", r.text);
    assert!(r.text.contains("href=\"/trajet?from=Rennes&#38;to=Laval&#38;fuel=Gazole\""), "{}", r.text);
    assert_eq!(fake.calls.load(Ordering::SeqCst), calls, "no engine call for /me");
    // The vehicle's tank is the fill: 55 L at 1.700 plus the detour.
    assert!(r.text.contains("93,"), "{}", r.text);

    // Bad points are refused; another user cannot delete it.
    let bad = app.post_form("/me/routes", &[("from", "A"), ("fuel", "Gazole"), ("points", "48,2;95,2")]).await;
    assert_eq!(bad.status, 422);
    let id = {
        let marker = "data-route=\"";
        let at = r.text.find(marker).expect("a saved route") + marker.len();
        r.text[at..at + r.text[at..].find('"').expect("end")].to_owned()
    };
    let other = app.browser();
    other.register("autre").await;
    let r = other.post_form(&format!("/me/routes/{id}/delete"), &[]).await;
    assert_eq!(r.status, 303);
    assert!(app.get("/me").await.text.contains("Maison → travail"));
    // Its owner can.
    let r = app.post_form(&format!("/me/routes/{id}/delete"), &[]).await;
    assert_eq!(r.status, 303);
    let r = app.get("/me").await;
    assert!(!r.text.contains("Maison → travail") && r.text.contains("Aucun trajet enregistré"), "{}", r.text);

    // A GPX track can be saved too (no end label, no engine).
    let track = gpx(&(0..=10).map(|i| on_line(f64::from(i) / 10.0, 0.0)).collect::<Vec<_>>());
    let r = post_route(&app, &[("fuel", "Gazole")], Some(("trace.gpx", track.as_bytes()))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("name=\"from\" value=\"Trace GPX «\u{202f}trace.gpx\u{202f}»\""), "{}", r.text);
});
