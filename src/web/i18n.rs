//! The site's two languages: a [`Lang`], one [`Strings`] table per language, and the locale
//! formatting of prices, distances and times (always shown in Europe/Paris).
//!
//! French is the default. A visitor's choice is, in order: the `lang` cookie (set by the visible
//! switch, `/lang?to=en`), then the first of `fr`/`en` in `Accept-Language`, then French.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use chrono::{DateTime, Datelike, Timelike};
use chrono_tz::Europe::Paris;

/// The name of the cookie that remembers the language picked with the switch.
pub const LANG_COOKIE: &str = "lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Fr,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        let primary = s.trim().split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
        match primary.as_str() {
            "fr" => Some(Lang::Fr),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The other language, for the switch.
    pub fn other(self) -> Lang {
        match self {
            Lang::Fr => Lang::En,
            Lang::En => Lang::Fr,
        }
    }

    pub fn strings(self) -> &'static Strings {
        match self {
            Lang::Fr => &FR,
            Lang::En => &EN,
        }
    }

    /// From a `Cookie` header value and an `Accept-Language` header value.
    pub fn negotiate(cookie: Option<&str>, accept_language: Option<&str>) -> Lang {
        if let Some(lang) = cookie.and_then(|c| {
            c.split(';').filter_map(|kv| kv.trim().split_once('=')).find(|(k, _)| *k == LANG_COOKIE).map(|(_, v)| v)
        }) && let Some(l) = Lang::parse(lang)
        {
            return l;
        }
        if let Some(al) = accept_language {
            // Highest q first; ties keep the header's order.
            let mut ranked: Vec<(f32, usize, Lang)> = al
                .split(',')
                .enumerate()
                .filter_map(|(i, item)| {
                    let mut parts = item.split(';');
                    let lang = Lang::parse(parts.next()?)?;
                    let q = parts
                        .find_map(|p| p.trim().strip_prefix("q="))
                        .and_then(|q| q.trim().parse::<f32>().ok())
                        .unwrap_or(1.0);
                    (q > 0.0).then_some((q, i, lang))
                })
                .collect();
            ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            if let Some((_, _, l)) = ranked.first() {
                return *l;
            }
        }
        Lang::Fr
    }

    /// `1,739 €` in French, `€1.739` in English (prices are per litre, three decimals).
    pub fn price(self, milli: i32) -> String {
        let s = format!("{}.{:03}", milli / 1000, (milli % 1000).abs());
        match self {
            Lang::Fr => format!("{} €", s.replace('.', ",")),
            Lang::En => format!("€{s}"),
        }
    }

    /// Euros with two decimals (savings): `42,50 €` / `€42.50`.
    pub fn euros(self, v: f64) -> String {
        let s = format!("{v:.2}");
        match self {
            Lang::Fr => format!("{} €", s.replace('.', ",")),
            Lang::En => format!("€{s}"),
        }
    }

    /// `1,2 km` / `1.2 km`.
    pub fn km(self, km: f64) -> String {
        let s = if km < 10.0 { format!("{km:.1}") } else { format!("{km:.0}") };
        match self {
            Lang::Fr => format!("{} km", s.replace('.', ",")),
            Lang::En => format!("{s} km"),
        }
    }

    /// How long ago `ts` was, from `now` (both Unix seconds): `il y a 3 h` / `3 h ago`.
    pub fn ago(self, now: i64, ts: i64) -> String {
        let secs = (now - ts).max(0);
        let (n, unit_fr, unit_en) = if secs < 60 {
            return match self {
                Lang::Fr => "à l’instant".to_owned(),
                Lang::En => "just now".to_owned(),
            };
        } else if secs < 3600 {
            (secs / 60, "min", "min")
        } else if secs < 48 * 3600 {
            (secs / 3600, "h", "h")
        } else if secs < 60 * 86_400 {
            (secs / 86_400, "j", if secs / 86_400 == 1 { "day" } else { "days" })
        } else {
            (secs / (30 * 86_400), "mois", if secs / (30 * 86_400) == 1 { "month" } else { "months" })
        };
        match self {
            Lang::Fr => format!("il y a {n} {unit_fr}"),
            Lang::En => format!("{n} {unit_en} ago"),
        }
    }

    /// A date and time in Europe/Paris: `5 juin 2026 à 12:10` / `5 June 2026, 12:10`.
    pub fn datetime(self, ts: i64) -> String {
        let Some(t) = DateTime::from_timestamp(ts, 0) else {
            return String::new();
        };
        let t = t.with_timezone(&Paris);
        let m = t.month0() as usize;
        match self {
            Lang::Fr => format!("{} {} {} à {:02}:{:02}", t.day(), MONTHS_FR[m], t.year(), t.hour(), t.minute()),
            Lang::En => format!("{} {} {}, {:02}:{:02}", t.day(), MONTHS_EN[m], t.year(), t.hour(), t.minute()),
        }
    }

    /// Minutes after midnight as `06:20`.
    pub fn hhmm(minutes: u16) -> String {
        format!("{:02}:{:02}", (minutes / 60) % 24, minutes % 60)
    }

    /// Day 1 (Monday) to 7 (Sunday).
    pub fn day_name(self, day: u8) -> &'static str {
        let i = usize::from(day.clamp(1, 7) - 1);
        match self {
            Lang::Fr => ["Lundi", "Mardi", "Mercredi", "Jeudi", "Vendredi", "Samedi", "Dimanche"][i],
            Lang::En => ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"][i],
        }
    }
}

const MONTHS_FR: [&str; 12] =
    ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."];
const MONTHS_EN: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let h = |name| parts.headers.get(name).and_then(|v: &axum::http::HeaderValue| v.to_str().ok());
        Ok(Lang::negotiate(h(header::COOKIE), h(header::ACCEPT_LANGUAGE)))
    }
}

/// Every sentence of the site, in one language. Adding a field makes both tables fail to build
/// until it is translated.
#[derive(Debug)]
pub struct Strings {
    pub tagline: &'static str,
    pub skip_to_content: &'static str,
    pub nav_home: &'static str,
    pub nav_map: &'static str,
    pub nav_demo: &'static str,
    pub nav_about: &'static str,
    pub nav_login: &'static str,
    pub switch_to: &'static str,
    pub switch_label: &'static str,
    pub updated: &'static str,
    pub never_updated: &'static str,
    pub stale_warning: &'static str,
    pub search_label: &'static str,
    pub search_placeholder: &'static str,
    pub search_button: &'static str,
    pub locate_button: &'static str,
    pub locating: &'static str,
    pub locate_failed: &'static str,
    pub fuel_label: &'static str,
    pub cheapest_around: &'static str,
    pub no_place: &'static str,
    pub did_you_mean: &'static str,
    pub no_results: &'static str,
    pub see_map: &'static str,
    pub home_intro: &'static str,
    pub home_demo: &'static str,
    pub radius_label: &'static str,
    pub sort_label: &'static str,
    pub sort_price: &'static str,
    pub sort_distance: &'static str,
    pub filters: &'static str,
    pub only_24_24: &'static str,
    pub service_label: &'static str,
    pub any_service: &'static str,
    pub hide_shortages: &'static str,
    pub max_age_label: &'static str,
    pub apply: &'static str,
    pub results_title: &'static str,
    pub map_label: &'static str,
    pub distance: &'static str,
    pub price: &'static str,
    pub station: &'static str,
    pub updated_col: &'static str,
    pub shortage: &'static str,
    pub shortage_temporary: &'static str,
    pub shortage_permanent: &'static str,
    pub shortage_unknown: &'static str,
    pub since: &'static str,
    pub address: &'static str,
    pub prices_title: &'static str,
    pub no_prices: &'static str,
    pub hours_title: &'static str,
    pub open_now: &'static str,
    pub closed_now: &'static str,
    pub open_24_24: &'static str,
    pub closed: &'static str,
    pub hours_unknown: &'static str,
    pub services_title: &'static str,
    pub no_services: &'static str,
    pub history_title: &'static str,
    pub days_30: &'static str,
    pub days_90: &'static str,
    pub days_365: &'static str,
    pub history_nojs: &'static str,
    pub compare_title: &'static str,
    pub dept_avg: &'static str,
    pub national_avg: &'static str,
    pub this_station: &'static str,
    pub cheaper_by: &'static str,
    pub dearer_by: &'static str,
    pub motorway: &'static str,
    pub gone_since: &'static str,
    pub directions: &'static str,
    pub demo_title: &'static str,
    pub demo_intro: &'static str,
    pub demo_my_stations: &'static str,
    pub demo_add: &'static str,
    pub demo_remove: &'static str,
    pub demo_add_title: &'static str,
    pub demo_how: &'static str,
    pub demo_fuels: &'static str,
    pub demo_reset: &'static str,
    pub demo_empty: &'static str,
    pub cheapest: &'static str,
    pub about_title: &'static str,
    pub about_how_title: &'static str,
    pub about_how: &'static str,
    pub about_data_title: &'static str,
    pub about_data: &'static str,
    pub about_licence: &'static str,
    pub about_refresh_title: &'static str,
    pub about_savings_title: &'static str,
    pub about_savings: &'static str,
    pub about_api_title: &'static str,
    pub about_api: &'static str,
    pub about_source_title: &'static str,
    pub about_source: &'static str,
    pub not_found_title: &'static str,
    pub not_found_text: &'static str,
    pub bad_request_title: &'static str,
    pub error_title: &'static str,
    pub error_text: &'static str,
    pub back_home: &'static str,
    pub footer_data: &'static str,
    /// Accessibility (issue 14): the link over each map, the chart's text summary (`{days}`,
    /// `{min}`, `{max}`, `{last}` filled in by station.js), the cue beside the cheapest and dearest
    /// prices of a list, the footer's compliance line.
    pub skip_map: &'static str,
    pub chart_summary: &'static str,
    pub among_cheapest: &'static str,
    pub among_dearest: &'static str,
    pub a11y_footer: &'static str,
}

pub static FR: Strings = Strings {
    tagline: "Le carburant le moins cher près de chez vous, avec les prix officiels.",
    skip_to_content: "Aller au contenu",
    nav_home: "Accueil",
    nav_map: "Carte",
    nav_demo: "Démo",
    nav_about: "À propos",
    nav_login: "Connexion",
    switch_to: "English",
    switch_label: "Switch to English",
    updated: "Prix mis à jour",
    never_updated: "Aucun import de prix pour l’instant.",
    stale_warning: "Les prix ont plus d’une heure : le flux officiel ou l’import est peut-être en panne.",
    search_label: "Ville, code postal ou département",
    search_placeholder: "ex. Lyon, 92330, 29",
    search_button: "Chercher",
    locate_button: "Autour de moi",
    locating: "Localisation…",
    locate_failed: "Position indisponible.",
    fuel_label: "Carburant",
    cheapest_around: "Les moins chers autour de",
    no_place: "Aucun lieu connu ne correspond à",
    did_you_mean: "Autres lieux",
    no_results: "Aucune station avec ce carburant dans ce rayon.",
    see_map: "Voir sur la carte",
    home_intro: "Cherchez une ville, un code postal ou un département : les stations les moins chères s’affichent tout de suite.",
    home_demo: "Essayez le tableau de bord de démonstration",
    radius_label: "Rayon (km)",
    sort_label: "Trier par",
    sort_price: "prix",
    sort_distance: "distance",
    filters: "Filtres",
    only_24_24: "Ouvert 24/24 (automate)",
    service_label: "Service",
    any_service: "Tous",
    hide_shortages: "Masquer les ruptures",
    max_age_label: "Prix de moins de (jours)",
    apply: "Appliquer",
    results_title: "Stations",
    map_label: "Carte des stations",
    distance: "Distance",
    price: "Prix",
    station: "Station",
    updated_col: "Mis à jour",
    shortage: "Rupture",
    shortage_temporary: "rupture temporaire",
    shortage_permanent: "rupture définitive",
    shortage_unknown: "rupture",
    since: "depuis le",
    address: "Adresse",
    prices_title: "Prix",
    no_prices: "Aucun prix publié.",
    hours_title: "Horaires",
    open_now: "Ouvert maintenant",
    closed_now: "Fermé maintenant",
    open_24_24: "Automate 24/24",
    closed: "Fermé",
    hours_unknown: "Horaires non communiqués.",
    services_title: "Services",
    no_services: "Aucun service déclaré.",
    history_title: "Historique des prix",
    days_30: "30 jours",
    days_90: "90 jours",
    days_365: "1 an",
    history_nojs: "Le graphique a besoin de JavaScript ; les données sont dans l’API.",
    compare_title: "Comparaison avec les moyennes",
    dept_avg: "Moyenne du département",
    national_avg: "Moyenne nationale",
    this_station: "Cette station",
    cheaper_by: "moins cher de",
    dearer_by: "plus cher de",
    motorway: "Autoroute",
    gone_since: "Cette station n’apparaît plus dans le flux depuis",
    directions: "Itinéraire",
    demo_title: "Mon tableau de bord (démo)",
    demo_intro: "Sans compte : vos stations sont gardées dans ce navigateur. Ajoutez ou retirez des stations et comparez.",
    demo_my_stations: "Mes stations",
    demo_add: "Ajouter",
    demo_remove: "Retirer",
    demo_add_title: "Stations à proximité",
    demo_how: "(moyenne de mes stations − la moins chère) × 650 L par an",
    demo_fuels: "Carburants",
    demo_reset: "Réinitialiser",
    demo_empty: "Aucune station suivie.",
    cheapest: "la moins chère",
    about_title: "À propos de Carburoam",
    about_how_title: "Comment ça marche",
    about_how: "Toutes les dix minutes, Carburoam télécharge le flux officiel des prix des carburants, le vérifie et le charge dans sa base. Les pages affichent ces prix ; la carte et les graphiques les lisent dans l’API JSON.",
    about_data_title: "D’où viennent les données",
    about_data: "Les prix, horaires, services et ruptures viennent du site officiel prix-carburants.gouv.fr, publiés par le ministère de l’Économie. Ce sont les stations elles-mêmes qui déclarent leurs prix.",
    about_licence: "Données publiées sous la Licence Ouverte / Open Licence version 2.0 (Etalab).",
    about_refresh_title: "Dernière mise à jour",
    about_savings_title: "Comment l’économie est calculée",
    about_savings: "L’économie annuelle est la différence entre le prix moyen de vos stations et le prix de la moins chère, multipliée par 650 litres, la consommation annuelle d’une voiture moyenne en France (environ 13 000 km à 5 L/100 km).",
    about_api_title: "L’API",
    about_api: "Une API JSON en lecture seule, documentée, donne les mêmes données aux scripts et applications.",
    about_source_title: "Code source",
    about_source: "Carburoam est un logiciel libre (AGPL-3.0), que vous pouvez héberger vous-même.",
    not_found_title: "Page introuvable",
    not_found_text: "Cette page n’existe pas, ou plus.",
    bad_request_title: "Requête invalide",
    error_title: "Erreur du serveur",
    error_text: "Un problème est survenu de notre côté ; il a été enregistré. Réessayez dans un instant.",
    back_home: "Retour à l’accueil",
    footer_data: "Données : prix-carburants.gouv.fr, Licence Ouverte 2.0",
    skip_map: "Passer la carte",
    chart_summary: "Sur {days} jours : prix le plus bas {min}, le plus haut {max}, dernier prix {last}.",
    among_cheapest: "parmi les moins chers",
    among_dearest: "parmi les plus chers",
    a11y_footer: "Accessibilité : partiellement conforme",
};

pub static EN: Strings = Strings {
    tagline: "The cheapest fuel near you, from the official prices.",
    skip_to_content: "Skip to content",
    nav_home: "Home",
    nav_map: "Map",
    nav_demo: "Demo",
    nav_about: "About",
    nav_login: "Log in",
    switch_to: "Français",
    switch_label: "Passer en français",
    updated: "Prices updated",
    never_updated: "No prices imported yet.",
    stale_warning: "Prices are more than an hour old: the official feed or the import may be failing.",
    search_label: "Town, postcode or département",
    search_placeholder: "e.g. Lyon, 92330, 29",
    search_button: "Search",
    locate_button: "Around me",
    locating: "Locating…",
    locate_failed: "Location unavailable.",
    fuel_label: "Fuel",
    cheapest_around: "Cheapest around",
    no_place: "No known place matches",
    did_you_mean: "Other places",
    no_results: "No station sells this fuel within this radius.",
    see_map: "See on the map",
    home_intro: "Search a town, a postcode or a département: the cheapest stations show up at once.",
    home_demo: "Try the demo dashboard",
    radius_label: "Radius (km)",
    sort_label: "Sort by",
    sort_price: "price",
    sort_distance: "distance",
    filters: "Filters",
    only_24_24: "Open 24/7 (card machine)",
    service_label: "Service",
    any_service: "Any",
    hide_shortages: "Hide shortages",
    max_age_label: "Prices newer than (days)",
    apply: "Apply",
    results_title: "Stations",
    map_label: "Map of the stations",
    distance: "Distance",
    price: "Price",
    station: "Station",
    updated_col: "Updated",
    shortage: "Shortage",
    shortage_temporary: "temporary shortage",
    shortage_permanent: "permanent shortage",
    shortage_unknown: "shortage",
    since: "since",
    address: "Address",
    prices_title: "Prices",
    no_prices: "No price published.",
    hours_title: "Opening hours",
    open_now: "Open now",
    closed_now: "Closed now",
    open_24_24: "24/7 card machine",
    closed: "Closed",
    hours_unknown: "Opening hours not given.",
    services_title: "Services",
    no_services: "No service listed.",
    history_title: "Price history",
    days_30: "30 days",
    days_90: "90 days",
    days_365: "1 year",
    history_nojs: "The chart needs JavaScript; the data is in the API.",
    compare_title: "Compared with the averages",
    dept_avg: "Département average",
    national_avg: "National average",
    this_station: "This station",
    cheaper_by: "cheaper by",
    dearer_by: "dearer by",
    motorway: "Motorway",
    gone_since: "This station has not been in the feed since",
    directions: "Directions",
    demo_title: "My dashboard (demo)",
    demo_intro: "No account needed: your stations are kept in this browser. Add or remove stations and compare.",
    demo_my_stations: "My stations",
    demo_add: "Add",
    demo_remove: "Remove",
    demo_add_title: "Stations nearby",
    demo_how: "(average of my stations − the cheapest) × 650 L a year",
    demo_fuels: "Fuels",
    demo_reset: "Reset",
    demo_empty: "No station followed.",
    cheapest: "cheapest",
    about_title: "About Carburoam",
    about_how_title: "How it works",
    about_how: "Every ten minutes Carburoam downloads the official fuel price feed, checks it and loads it into its database. Pages show these prices; the map and charts read them from the JSON API.",
    about_data_title: "Where the data comes from",
    about_data: "Prices, opening hours, services and shortages come from the official prix-carburants.gouv.fr site, published by the French Ministry of the Economy. Stations declare their own prices.",
    about_licence: "Data published under the Licence Ouverte / Open Licence version 2.0 (Etalab).",
    about_refresh_title: "Last refresh",
    about_savings_title: "How savings are computed",
    about_savings: "Yearly savings are the difference between the average price of your stations and the price of the cheapest one, times 650 litres, the yearly consumption of an average car in France (about 13,000 km at 5 L/100 km).",
    about_api_title: "The API",
    about_api: "A documented, read-only JSON API gives scripts and apps the same data.",
    about_source_title: "Source code",
    about_source: "Carburoam is free software (AGPL-3.0) that you can host yourself.",
    not_found_title: "Page not found",
    not_found_text: "This page does not exist, or no longer does.",
    bad_request_title: "Invalid request",
    error_title: "Server error",
    error_text: "Something went wrong on our side; it has been logged. Try again in a moment.",
    back_home: "Back to the home page",
    footer_data: "Data: prix-carburants.gouv.fr, Licence Ouverte 2.0",
    skip_map: "Skip the map",
    chart_summary: "Over {days} days: lowest price {min}, highest {max}, latest {last}.",
    among_cheapest: "among the cheapest",
    among_dearest: "among the dearest",
    a11y_footer: "Accessibility: partially compliant",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        assert_eq!(Lang::negotiate(None, None), Lang::Fr);
        assert_eq!(Lang::negotiate(None, Some("en-GB,en;q=0.9")), Lang::En);
        assert_eq!(Lang::negotiate(None, Some("de, fr;q=0.5, en;q=0.8")), Lang::En);
        assert_eq!(Lang::negotiate(Some("a=b; lang=fr"), Some("en")), Lang::Fr);
        assert_eq!(Lang::negotiate(Some("lang=xx"), Some("en")), Lang::En);
        assert_eq!(Lang::negotiate(None, Some("en;q=0, fr")), Lang::Fr);
    }

    #[test]
    fn formats() {
        assert_eq!(Lang::Fr.price(1739), "1,739 €");
        assert_eq!(Lang::En.price(1739), "€1.739");
        assert_eq!(Lang::En.price(899), "€0.899");
        assert_eq!(Lang::Fr.ago(10_000, 10_000 - 3 * 3600 - 5), "il y a 3 h");
        assert_eq!(Lang::En.ago(10_000, 10_000 - 120), "2 min ago");
        assert_eq!(Lang::En.ago(1_000_000, 1_000_000 - 86_400 * 3), "3 days ago");
        assert_eq!(Lang::Fr.km(1.25), "1,2 km");
        // 2025-10-25T16:00:00Z is 18:00 in Paris (summer time).
        assert_eq!(Lang::Fr.datetime(1_761_408_000), "25 oct. 2025 à 18:00");
        assert_eq!(Lang::En.datetime(1_761_408_000), "25 Oct 2025, 18:00");
        assert_eq!(Lang::hhmm(380), "06:20");
        assert_eq!(Lang::Fr.euros(42.5), "42,50 €");
    }
}
