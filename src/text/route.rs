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
    /// The GPX file field, instead of from and to.
    pub gpx_label: &'static str,
    pub gpx_help: &'static str,
    /// Neither from and to nor a GPX file.
    pub need_ends: &'static str,
    /// With the size in MB.
    pub gpx_too_large: fn(&str) -> String,
    pub gpx_empty: &'static str,
    pub gpx_not_xml: &'static str,
    /// With the root element's name.
    pub gpx_not_gpx: fn(&str) -> String,
    pub gpx_dtd: &'static str,
    pub gpx_no_points: &'static str,
    pub gpx_too_many: &'static str,
    pub gpx_too_few: &'static str,
    /// With the point's number and the attribute (lat, lon).
    pub gpx_point_missing: fn(&str, &str) -> String,
    /// With the point's number, the attribute and its value.
    pub gpx_point_value: fn(&str, &str, &str) -> String,
    /// With the point's number, the attribute and its value.
    pub gpx_point_range: fn(&str, &str, &str) -> String,
    /// The file's name for the summary.
    pub gpx_source: fn(&str) -> String,
    /// "Ma position" (a script fills the field with the device's position).
    pub my_position: &'static str,
    pub map_pick_hint: &'static str,
    pub map_pick_from: &'static str,
    pub map_pick_to: &'static str,
    pub position_failed: &'static str,
    /// Saving the route (signed-in users).
    pub save_title: &'static str,
    pub save_name_label: &'static str,
    pub save_button: &'static str,
    /// For visitors: sign in to save routes.
    pub save_sign_in: &'static str,
    /// `/me`: the saved routes.
    pub me_routes_title: &'static str,
    pub me_routes_empty: &'static str,
    /// With the station, its price and the net cost of the fill.
    pub me_routes_best: fn(&str, &str, &str) -> String,
    pub me_routes_none: &'static str,
    pub me_routes_open: &'static str,
    pub me_routes_delete: &'static str,
    /// With the route's name.
    pub me_routes_delete_label: fn(&str) -> String,
    /// Under the list: deleting a route deletes its alerts.
    pub me_routes_delete_alerts: &'static str,
    /// With the most routes one may save.
    pub me_routes_full: fn(u64) -> String,
    /// With the fuel and the distance.
    pub me_route_meta: fn(&str, &str) -> String,
    /// `/me/profile`: the vehicle, the route form's defaults.
    pub vehicle_title: &'static str,
    pub vehicle_help: &'static str,
    pub vehicle_fuel: &'static str,
    pub vehicle_tank: &'static str,
    pub vehicle_consumption: &'static str,
    pub vehicle_save: &'static str,
    pub vehicle_invalid_tank: &'static str,
    pub vehicle_invalid_consumption: &'static str,
    pub vehicle_saved: &'static str,
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
    gpx_hint: "Les applications peuvent aussi envoyer un trajet à l’API\u{202f}: POST /api/v1/route (voir /api).",
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
    gpx_offer: "Ou choisissez une trace GPX dans le formulaire ci-dessus\u{202f}: elle ne demande aucun service d’itinéraire.",
    gpx_label: "Ou une trace GPX (au lieu du départ et de l’arrivée)",
    gpx_help: "Fichier .gpx (trace ou itinéraire, comme OsmAnd, Garmin ou Google l’exportent), 5\u{a0}Mo et 50\u{202f}000 points au plus.",
    need_ends: "Indiquez un départ et une arrivée, ou choisissez une trace GPX.",
    gpx_too_large: |mb| format!("La trace GPX dépasse 5\u{a0}Mo ({mb}\u{a0}Mo)."),
    gpx_empty: "Le fichier GPX est vide.",
    gpx_not_xml: "Ce fichier n’est pas un document XML\u{202f}: ce n’est pas une trace GPX.",
    gpx_not_gpx: |root| {
        format!("Ce fichier n’est pas une trace GPX\u{202f}: son élément racine est <{root}>, pas <gpx>.")
    },
    gpx_dtd: "Les fichiers GPX avec une déclaration de type de document (DTD) sont refusés.",
    gpx_no_points: "Le fichier GPX n’a aucun point de trace ni d’itinéraire (trkpt ou rtept).",
    gpx_too_many: "Le fichier GPX a plus de 50\u{202f}000 points.",
    gpx_too_few: "Le fichier GPX doit avoir au moins 2 points.",
    gpx_point_missing: |n, a| format!("Point {n} du fichier GPX\u{202f}: l’attribut {a} manque."),
    gpx_point_value: |n, a, v| {
        format!("Point {n} du fichier GPX\u{202f}: {a}=«\u{202f}{v}\u{202f}» n’est pas un nombre.")
    },
    gpx_point_range: |n, a, v| {
        format!(
            "Point {n} du fichier GPX\u{202f}: {a} {v} est hors limites (latitude de -90 à 90, longitude de -180 à 180)."
        )
    },
    gpx_source: |f| format!("Trace GPX «\u{202f}{f}\u{202f}»"),
    my_position: "Ma position",
    map_pick_hint: "Ou touchez la carte pour choisir le départ, puis l’arrivée.",
    map_pick_from: "Départ ici",
    map_pick_to: "Arrivée ici",
    position_failed: "Position indisponible\u{202f}: autorisez la localisation ou saisissez un lieu.",
    save_title: "Enregistrer ce trajet",
    save_name_label: "Nom du trajet",
    save_button: "Enregistrer",
    save_sign_in: "Connectez-vous pour enregistrer ce trajet et voir son meilleur arrêt sur votre tableau de bord.",
    me_routes_title: "Mes trajets",
    me_routes_empty: "Aucun trajet enregistré\u{202f}: cherchez un trajet, puis «\u{202f}Enregistrer ce trajet\u{202f}» sous les résultats.",
    me_routes_best: |s, p, c| {
        format!("Meilleur arrêt maintenant\u{202f}: {s}, à {p} le litre, {c} le plein détour compris.")
    },
    me_routes_none: "Aucune station de ce carburant le long du trajet en ce moment.",
    me_routes_open: "Voir le trajet",
    me_routes_delete: "Supprimer",
    me_routes_delete_label: |n| format!("Supprimer le trajet «\u{202f}{n}\u{202f}»"),
    me_routes_delete_alerts: "Supprimer un trajet supprime aussi les alertes de prix le long de ce trajet.",
    me_routes_full: |n| {
        format!("Vous avez enregistré {n} trajets, le maximum\u{202f}: supprimez-en un pour en enregistrer un autre.")
    },
    me_route_meta: |f, d| format!("{f} · {d}"),
    vehicle_title: "Mon véhicule",
    vehicle_help: "Ces valeurs remplissent le formulaire de trajet\u{202f}: le carburant, les litres à mettre (le réservoir) et la consommation.",
    vehicle_fuel: "Carburant",
    vehicle_tank: "Réservoir (litres, de 1 à 200)",
    vehicle_consumption: "Consommation (L/100 km, de 1 à 40)",
    vehicle_save: "Enregistrer le véhicule",
    vehicle_invalid_tank: "Indiquez un réservoir de 1 à 200 litres.",
    vehicle_invalid_consumption: "Indiquez une consommation de 1 à 40 L/100 km.",
    vehicle_saved: "Véhicule enregistré.",
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
    gpx_hint: "Apps can also send a route to the API: POST /api/v1/route (see /api).",
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
    gpx_offer: "Or choose a GPX track in the form above: it needs no route service.",
    gpx_label: "Or a GPX track (instead of from and to)",
    gpx_help: "A .gpx file (track or route, as OsmAnd, Garmin or Google export them), at most 5 MB and 50,000 points.",
    need_ends: "Give a start and an end, or choose a GPX track.",
    gpx_too_large: |mb| format!("The GPX track is larger than 5 MB ({mb} MB)."),
    gpx_empty: "The GPX file is empty.",
    gpx_not_xml: "This file is not an XML document: it is not a GPX track.",
    gpx_not_gpx: |root| format!("This file is not a GPX track: its root element is <{root}>, not <gpx>."),
    gpx_dtd: "GPX files with a document type declaration (DTD) are refused.",
    gpx_no_points: "The GPX file has no track nor route points (trkpt or rtept).",
    gpx_too_many: "The GPX file has more than 50,000 points.",
    gpx_too_few: "The GPX file needs at least 2 points.",
    gpx_point_missing: |n, a| format!("Point {n} of the GPX file: attribute {a} is missing."),
    gpx_point_value: |n, a, v| format!("Point {n} of the GPX file: {a}=“{v}” is not a number."),
    gpx_point_range: |n, a, v| {
        format!("Point {n} of the GPX file: {a} {v} is out of range (latitude -90 to 90, longitude -180 to 180).")
    },
    gpx_source: |f| format!("GPX track “{f}”"),
    my_position: "My position",
    map_pick_hint: "Or tap the map to choose the start, then the end.",
    map_pick_from: "Start here",
    map_pick_to: "End here",
    position_failed: "Position unavailable: allow location access or type a place.",
    save_title: "Save this route",
    save_name_label: "Name of the route",
    save_button: "Save",
    save_sign_in: "Sign in to save this route and see its best stop on your dashboard.",
    me_routes_title: "My routes",
    me_routes_empty: "No saved route: search a route, then “Save this route” under the results.",
    me_routes_best: |s, p, c| format!("Best stop now: {s}, at {p} a litre, {c} for the fill, detour included."),
    me_routes_none: "No station with this fuel along the route right now.",
    me_routes_open: "Show the route",
    me_routes_delete: "Delete",
    me_routes_delete_label: |n| format!("Delete the route “{n}”"),
    me_routes_delete_alerts: "Deleting a route also deletes the price alerts along it.",
    me_routes_full: |n| format!("You saved {n} routes, the most: delete one to save another."),
    me_route_meta: |f, d| format!("{f} · {d}"),
    vehicle_title: "My vehicle",
    vehicle_help: "These fill the route form: the fuel, the litres to buy (the tank) and the consumption.",
    vehicle_fuel: "Fuel",
    vehicle_tank: "Tank (litres, 1 to 200)",
    vehicle_consumption: "Consumption (L/100 km, 1 to 40)",
    vehicle_save: "Save the vehicle",
    vehicle_invalid_tank: "Give a tank of 1 to 200 litres.",
    vehicle_invalid_consumption: "Give a consumption of 1 to 40 L/100 km.",
    vehicle_saved: "Vehicle saved.",
};

/// The route search's table in `lang`.
pub fn strings(lang: Lang) -> &'static RouteStrings {
    match lang {
        Lang::Fr => &FR,
        Lang::En => &EN,
    }
}
