//! Web Push and the installable app: the "notifications on this device" block, the offline page,
//! the manifest, the test notification, and the answers of the subscribe endpoints.

use crate::domain::Lang;
use crate::text::table;

table! {
/// Adding a field makes both tables fail to build until it is translated.
#[derive(Debug)]
pub struct PushStrings {
    pub block_title: &'static str,
    pub intro: &'static str,
    /// Shown until the script runs (and so always without JavaScript).
    pub needs_js: &'static str,
    /// The browser has no Push API (or no service worker).
    pub unsupported: &'static str,
    pub enable: &'static str,
    pub disable: &'static str,
    pub status_on: &'static str,
    pub status_off: &'static str,
    pub denied: &'static str,
    pub failed: &'static str,
    pub working: &'static str,
    pub devices_title: &'static str,
    pub no_devices: &'static str,
    /// With the date the device was added.
    pub added_on: fn(&str) -> String,
    /// With the date of the last notification the push service took.
    pub last_success: fn(&str) -> String,
    /// With the date and the reason.
    pub last_error: fn(&str, &str) -> String,
    /// The reasons of a last error (see `alerts::push::PushError::code`): an HTTP status.
    pub err_status: fn(u64) -> String,
    pub err_unreachable: &'static str,
    pub err_refused: &'static str,
    pub err_keys: &'static str,
    pub err_server: &'static str,
    pub remove: &'static str,
    /// With the device's description.
    pub remove_label: fn(&str) -> String,
    pub unknown_device: &'static str,
    pub test_button: &'static str,
    pub test_title: &'static str,
    pub test_body: &'static str,
    pub test_sent: fn(u64) -> String,
    pub test_none: &'static str,
    pub removed: &'static str,
    pub page_title: &'static str,
    pub offline_title: &'static str,
    pub offline_text: &'static str,
    pub offline_link: &'static str,
    pub app_description: &'static str,
    pub bad_subscription: &'static str,
    pub endpoint_refused: &'static str,
    pub too_many_devices: fn(u64) -> String,
    /// With the bound in bytes.
    pub endpoint_too_long: fn(u64) -> String,
    /// The device is another account's.
    pub endpoint_taken: &'static str,
    /// With the number of tests a channel may send in an hour.
    pub test_limit_hour: fn(u64) -> String,
    /// With the number of tests a user may send in a day.
    pub test_limit_day: fn(u64) -> String,
    pub login_required: &'static str,
}
}

pub static FR: PushStrings = PushStrings {
    block_title: "Notifications sur cet appareil",
    intro: "Recevez vos alertes de prix sur ce téléphone ou cet ordinateur, même quand le site est fermé.",
    needs_js: "Activer les notifications sur cet appareil demande JavaScript et un navigateur qui les gère. Vos alertes par e-mail et ntfy fonctionnent sans.",
    unsupported: "Ce navigateur ne gère pas les notifications push. Sur iPhone et iPad, ajoutez d’abord le site à l’écran d’accueil.",
    enable: "Activer sur cet appareil",
    disable: "Désactiver sur cet appareil",
    status_on: "Les notifications sont activées sur cet appareil.",
    status_off: "Les notifications ne sont pas activées sur cet appareil.",
    denied: "Les notifications sont bloquées pour ce site dans les réglages du navigateur.",
    failed: "L’opération a échoué. Réessayez plus tard.",
    working: "Un instant…",
    devices_title: "Appareils abonnés",
    no_devices: "Aucun appareil n’est abonné.",
    added_on: |d| format!("ajouté le {d}"),
    last_success: |d| format!("dernier envoi réussi le {d}"),
    last_error: |d, why| format!("dernière erreur le {d}\u{202f}: {why}"),
    err_status: |s| format!("le service de notification a répondu HTTP {s}"),
    err_unreachable: "le service de notification était injoignable",
    err_refused: "l’adresse du service de notification est refusée",
    err_keys: "les clés de l’appareil sont inutilisables",
    err_server: "erreur du serveur",
    remove: "Retirer",
    remove_label: |d| format!("Retirer l’appareil {d}"),
    unknown_device: "Navigateur inconnu",
    test_button: "Envoyer une notification de test",
    test_title: "Carburoam",
    test_body: "Les notifications fonctionnent sur cet appareil.",
    test_sent: |n| format!("Notification de test envoyée à {}.", Lang::Fr.count(n, "appareil", "appareils")),
    test_none: "Aucun appareil n’est abonné\u{202f}: activez d’abord les notifications sur cet appareil.",
    removed: "L’appareil est retiré.",
    page_title: "Notifications",
    offline_title: "Hors ligne",
    offline_text: "Pas de connexion pour l’instant. Les derniers prix que vous avez consultés restent disponibles.",
    offline_link: "Mes stations (dernière version consultée)",
    app_description: "Le carburant le moins cher près de chez vous, avec les prix officiels.",
    bad_subscription: "Abonnement invalide.",
    endpoint_refused: "Ce service de notifications n’est pas autorisé sur ce serveur.",
    too_many_devices: |n| format!("Au plus {n} appareils par compte\u{202f}: retirez-en un d’abord."),
    endpoint_too_long: |n| {
        format!("L’adresse du service de notification dépasse {n} octets\u{202f}: elle est refusée.")
    },
    endpoint_taken: "Cet appareil reçoit déjà les notifications d’un autre compte. Connectez-vous à ce compte pour les y désactiver d’abord.",
    test_limit_hour: |n| format!("Pas plus de {n} notifications de test par heure\u{202f}: réessayez dans une heure."),
    test_limit_day: |n| {
        format!("Pas plus de {n} messages de test par jour, tous moyens confondus\u{202f}: réessayez demain.")
    },
    login_required: "Connectez-vous d’abord.",
};

pub static EN: PushStrings = PushStrings {
    block_title: "Notifications on this device",
    intro: "Get your price alerts on this phone or computer, even when the site is closed.",
    needs_js: "Turning notifications on for this device needs JavaScript and a browser that supports them. Your email and ntfy alerts work without.",
    unsupported: "This browser does not support push notifications. On iPhone and iPad, add the site to the Home Screen first.",
    enable: "Turn on for this device",
    disable: "Turn off for this device",
    status_on: "Notifications are on for this device.",
    status_off: "Notifications are off for this device.",
    denied: "Notifications are blocked for this site in the browser's settings.",
    failed: "That did not work. Please try again later.",
    working: "One moment…",
    devices_title: "Subscribed devices",
    no_devices: "No device is subscribed.",
    added_on: |d| format!("added on {d}"),
    last_success: |d| format!("last delivered on {d}"),
    last_error: |d, why| format!("last error on {d}: {why}"),
    err_status: |s| format!("the push service answered HTTP {s}"),
    err_unreachable: "the push service could not be reached",
    err_refused: "the push service's address is refused",
    err_keys: "the device's keys are unusable",
    err_server: "server error",
    remove: "Remove",
    remove_label: |d| format!("Remove the device {d}"),
    unknown_device: "Unknown browser",
    test_button: "Send a test notification",
    test_title: "Carburoam",
    test_body: "Notifications work on this device.",
    test_sent: |n| format!("Test notification sent to {}.", Lang::En.count(n, "device", "devices")),
    test_none: "No device is subscribed: turn notifications on for this device first.",
    removed: "The device is removed.",
    page_title: "Notifications",
    offline_title: "Offline",
    offline_text: "No connection right now. The last prices you looked at are still available.",
    offline_link: "My stations (last version seen)",
    app_description: "The cheapest fuel near you, from the official prices.",
    bad_subscription: "Invalid subscription.",
    endpoint_refused: "This push service is not allowed on this server.",
    too_many_devices: |n| format!("At most {n} devices per account: remove one first."),
    endpoint_too_long: |n| format!("The push service's address is longer than {n} bytes: it is refused."),
    endpoint_taken: "This device already gets the notifications of another account. Log in to that account to turn them off there first.",
    test_limit_hour: |n| format!("No more than {n} test notifications an hour: try again in an hour."),
    test_limit_day: |n| format!("No more than {n} test messages a day, all channels together: try again tomorrow."),
    login_required: "Please log in first.",
};

/// The table of `lang`.
pub fn strings(lang: Lang) -> &'static PushStrings {
    match lang {
        Lang::Fr => &FR,
        Lang::En => &EN,
    }
}
