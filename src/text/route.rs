//! The route search page's sentences (`/trajet`, `/route`).

use crate::domain::Lang;
use crate::text::table;

table! {
/// The route search's sentences, in one language.
#[derive(Debug)]
pub struct RouteStrings {
    pub nav_route: &'static str,
    pub title: &'static str,
    pub intro: &'static str,
    pub from_label: &'static str,
    pub to_label: &'static str,
    pub place_hint: &'static str,
    /// With its number (1 to 3).
    pub via_label: fn(u64) -> String,
    pub vias: &'static str,
    pub litres_label: &'static str,
    pub consumption_label: &'static str,
    pub corridor_label: &'static str,
    pub avoid_motorway: &'static str,
    pub depart_label: &'static str,
    pub sort_label: &'static str,
    pub sort_net: &'static str,
    pub sort_price: &'static str,
    pub sort_along: &'static str,
    pub options: &'static str,
    pub submit: &'static str,
    pub gpx_hint: &'static str,
    /// With the distance and the duration.
    pub summary: fn(&str, &str) -> String,
    /// With the distance (no duration: a bare path).
    pub summary_no_time: fn(&str) -> String,
    /// With the station, its price and the net cost of the fill.
    pub best: fn(&str, &str, &str) -> String,
    /// With the saving against the cheapest station without a detour.
    pub saves_on_route: fn(&str) -> String,
    /// With the saving against the average price along the route.
    pub saves_average: fn(&str) -> String,
    /// With the number of stations.
    pub stations_found: fn(u64) -> String,
    pub none_found: &'static str,
    pub col_km: &'static str,
    pub col_off: &'static str,
    pub col_detour: &'static str,
    pub estimated: &'static str,
    pub col_fill: &'static str,
    pub col_detour_cost: &'static str,
    pub col_net: &'static str,
    pub motorway: &'static str,
    pub open_on_arrival: &'static str,
    pub closed_on_arrival: &'static str,
    pub hours_unknown: &'static str,
    pub shortage: &'static str,
    pub map_label: &'static str,
    /// With what was typed.
    pub unknown_place: fn(&str) -> String,
    pub did_you_mean: &'static str,
    pub same_ends: &'static str,
    pub outside_france: &'static str,
    pub no_route: &'static str,
    pub engine_failed: &'static str,
    /// The server runs with `--router off`: no route between places, only paths given whole.
    pub engine_off: &'static str,
    pub gpx_offer: &'static str,
}
}

pub static FR: RouteStrings = RouteStrings {
    nav_route: "Trajet",
    title: "Le plein le moins cher sur mon trajet",
    intro: "Les stations le long de votre trajet, classées par ce que l’arrêt coûte vraiment : le plein plus le carburant du détour.",
    from_label: "Départ",
    to_label: "Arrivée",
    place_hint: "Ville, code postal, département ou « lat,lon »",
    via_label: |n| format!("Étape {n}"),
    vias: "Étapes (jusqu’à 3)",
    litres_label: "Litres à mettre",
    consumption_label: "Consommation (L/100 km)",
    corridor_label: "Largeur du couloir (km, de 0,5 à 20)",
    avoid_motorway: "Éviter les stations d’autoroute",
    depart_label: "Départ le (heure de Paris)",
    sort_label: "Trier par",
    sort_net: "Coût réel",
    sort_price: "Prix au litre",
    sort_along: "Ordre sur le trajet",
    options: "Options",
    submit: "Chercher",
    gpx_hint: "Vous avez déjà une trace GPX ? Envoyez-la à l’API : POST /api/v1/route (voir /api).",
    summary: |d, t| format!("Trajet de {d}, environ {t}."),
    summary_no_time: |d| format!("Trajet de {d}."),
    best: |s, p, c| format!("Meilleur arrêt : {s}, à {p} le litre, {c} le plein détour compris."),
    saves_on_route: |e| format!("{e} d’économie par rapport à la station la moins chère sans détour."),
    saves_average: |e| format!("{e} d’économie par rapport au prix moyen le long du trajet."),
    stations_found: |n| {
        if n <= 1 { format!("{n} station dans le couloir") } else { format!("{n} stations dans le couloir") }
    },
    none_found: "Aucune station de ce carburant dans le couloir : élargissez-le.",
    col_km: "Depuis le départ",
    col_off: "Hors trajet",
    col_detour: "Détour",
    estimated: "estimé",
    col_fill: "Plein",
    col_detour_cost: "Coût du détour",
    col_net: "Coût réel",
    motorway: "Autoroute",
    open_on_arrival: "Ouvert à votre passage",
    closed_on_arrival: "Fermé à votre passage",
    hours_unknown: "Horaires inconnus",
    shortage: "Rupture",
    map_label: "Carte du trajet et des stations",
    unknown_place: |q| format!("Lieu inconnu : « {q} »."),
    did_you_mean: "Vouliez-vous dire",
    same_ends: "Le départ et l’arrivée sont au même endroit.",
    outside_france: "Ce trajet est hors de France : aucune station ne s’y trouve.",
    no_route: "Aucun itinéraire routier trouvé entre ces points.",
    engine_failed: "Le service d’itinéraire ne répond pas pour le moment. Réessayez dans un instant.",
    engine_off: "Ce serveur ne calcule pas d’itinéraire entre deux lieux (aucun service d’itinéraire n’est configuré).",
    gpx_offer: "Ou envoyez votre trace GPX à l’API (POST /api/v1/route), sans service d’itinéraire.",
};

pub static EN: RouteStrings = RouteStrings {
    nav_route: "Route",
    title: "The cheapest fuel on my way",
    intro: "The stations along your route, ranked by what the stop really costs: the fill plus the fuel the detour burns.",
    from_label: "From",
    to_label: "To",
    place_hint: "Town, postcode, département or “lat,lon”",
    via_label: |n| format!("Via {n}"),
    vias: "Via points (up to 3)",
    litres_label: "Litres to buy",
    consumption_label: "Consumption (L/100 km)",
    corridor_label: "Corridor width (km, 0.5 to 20)",
    avoid_motorway: "Avoid motorway stations",
    depart_label: "Departure (Paris time)",
    sort_label: "Sort by",
    sort_net: "Real cost",
    sort_price: "Price per litre",
    sort_along: "Order along the route",
    options: "Options",
    submit: "Search",
    gpx_hint: "Already have a GPX track? Send it to the API: POST /api/v1/route (see /api).",
    summary: |d, t| format!("A {d} trip, about {t}."),
    summary_no_time: |d| format!("A {d} trip."),
    best: |s, p, c| format!("Best stop: {s}, at {p} a litre, {c} for the fill, detour included."),
    saves_on_route: |e| format!("{e} saved against the cheapest station with no detour."),
    saves_average: |e| format!("{e} saved against the average price along the route."),
    stations_found: |n| {
        if n == 1 { format!("{n} station in the corridor") } else { format!("{n} stations in the corridor") }
    },
    none_found: "No station with this fuel in the corridor: widen it.",
    col_km: "From the start",
    col_off: "Off the route",
    col_detour: "Detour",
    estimated: "estimated",
    col_fill: "Fill",
    col_detour_cost: "Detour cost",
    col_net: "Real cost",
    motorway: "Motorway",
    open_on_arrival: "Open when you get there",
    closed_on_arrival: "Closed when you get there",
    hours_unknown: "Hours unknown",
    shortage: "Out of stock",
    map_label: "Map of the route and the stations",
    unknown_place: |q| format!("Unknown place: “{q}”."),
    did_you_mean: "Did you mean",
    same_ends: "The start and the end are the same place.",
    outside_france: "This route is outside France: no station is along it.",
    no_route: "No road route found between these points.",
    engine_failed: "The route service is not answering right now. Try again in a moment.",
    engine_off: "This server does not plan routes between places (no route service is configured).",
    gpx_offer: "Or send your GPX track to the API (POST /api/v1/route), with no route service needed.",
};

/// The route search's table in `lang`.
pub fn strings(lang: Lang) -> &'static RouteStrings {
    match lang {
        Lang::Fr => &FR,
        Lang::En => &EN,
    }
}
