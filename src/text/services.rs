//! The station services of the feed, which names them in French only.
//!
//! [`FEED_NAMES`] is every name the official feed used from 2019 to 2026 (the same 27 in every
//! file checked). English pages show [`Lang::service`]'s translation; a name the feed adds later
//! is shown as given until it is added here.

use crate::domain::Lang;

/// Every service name the feed uses, and its English translation.
const SERVICES: [(&str, &str); 27] = [
    ("Aire de camping-cars", "Motorhome service area"),
    ("Automate CB 24/24", "24/7 card payment machine"),
    ("Bar", "Bar"),
    ("Bornes électriques", "Electric charging points"),
    ("Boutique alimentaire", "Food shop"),
    ("Boutique non alimentaire", "Non-food shop"),
    ("Carburant additivé", "Premium (additive) fuel"),
    ("DAB (Distributeur automatique de billets)", "Cash machine (ATM)"),
    ("Douches", "Showers"),
    ("Espace bébé", "Baby changing area"),
    ("GNV", "Natural gas for vehicles (CNG)"),
    ("Lavage automatique", "Automatic car wash"),
    ("Lavage manuel", "Hand car wash"),
    ("Laverie", "Launderette"),
    ("Location de véhicule", "Vehicle hire"),
    ("Piste poids lourds", "HGV lane"),
    ("Relais colis", "Parcel pick-up point"),
    ("Restauration sur place", "Restaurant (eat in)"),
    ("Restauration à emporter", "Takeaway food"),
    ("Services réparation / entretien", "Repairs and servicing"),
    ("Station de gonflage", "Tyre inflation"),
    ("Toilettes publiques", "Public toilets"),
    ("Vente d'additifs carburants", "Fuel additives for sale"),
    ("Vente de fioul domestique", "Heating oil for sale"),
    ("Vente de gaz domestique (Butane, Propane)", "Bottled gas for sale (butane, propane)"),
    ("Vente de pétrole lampant", "Paraffin for sale"),
    ("Wifi", "Wi-Fi"),
];

/// The service names as the feed spells them.
pub const FEED_NAMES: [&str; 27] = {
    let mut names = [""; 27];
    let mut i = 0;
    while i < SERVICES.len() {
        names[i] = SERVICES[i].0;
        i += 1;
    }
    names
};

impl Lang {
    /// A service of the feed (`Boutique alimentaire`) in this language (`Food shop`); an unknown
    /// name as given.
    pub fn service(self, feed_name: &str) -> &str {
        match self {
            Lang::Fr => feed_name,
            Lang::En => {
                let wanted = feed_name.trim();
                SERVICES
                    .iter()
                    .find(|(fr, _)| *fr == wanted || fr.replace('\'', "’") == wanted)
                    .map_or(feed_name, |(_, en)| en)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_are_translated_and_unknown_ones_kept() {
        assert_eq!(Lang::En.service("Boutique alimentaire"), "Food shop");
        assert_eq!(Lang::En.service("DAB (Distributeur automatique de billets)"), "Cash machine (ATM)");
        assert_eq!(Lang::En.service("Vente d’additifs carburants"), "Fuel additives for sale");
        assert_eq!(Lang::Fr.service("Boutique alimentaire"), "Boutique alimentaire");
        assert_eq!(Lang::En.service("Téléphérique"), "Téléphérique");
        let mut names = FEED_NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SERVICES.len(), "no name twice");
    }

    /// Every service of the real feed has a translation (skipped when the shared data is absent).
    #[test]
    fn every_service_of_the_real_feed_is_translated() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/data/instantane_ruptures_2026-06-05T1010.zip");
        let Ok(file) = std::fs::File::open(&path) else {
            eprintln!("skipped: {} is absent", path.display());
            return;
        };
        let mut zip = zip::ZipArchive::new(file).expect("zip");
        let mut xml = Vec::new();
        std::io::copy(&mut zip.by_index(0).expect("entry"), &mut xml).expect("read");
        let text: String = xml.iter().map(|&b| char::from(b)).collect(); // ISO-8859-1
        let mut seen = std::collections::BTreeSet::new();
        for part in text.split("<service>").skip(1) {
            seen.insert(part.split('<').next().unwrap_or_default().to_owned());
        }
        assert!(seen.len() >= 20, "services read: {seen:?}");
        for name in &seen {
            assert!(FEED_NAMES.contains(&name.as_str()), "{name} has no English translation");
        }
    }
}
