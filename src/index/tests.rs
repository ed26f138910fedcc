//! The index against hand-made rows.

use super::*;
use crate::db::stations::{CurrentPriceRow, CurrentShortageRow, CurrentStationRow};

fn sid(n: i64) -> StationId {
    StationId::new(n).expect("a station id")
}

fn station(id: i64, lat: f64, lon: f64, dept: &str, services: &str) -> CurrentStationRow {
    CurrentStationRow {
        id: sid(id),
        latitude: lat,
        longitude: lon,
        address: format!("{id} rue"),
        city: "VILLE".into(),
        postcode: format!("{dept}000"),
        department: dept.into(),
        automate_24_24: id % 2 == 0,
        services: services.into(),
        road_type: RoadType::Road,
        opening_hours: None,
    }
}

fn price(station_id: i64, fuel: i16, price: i32, updated_at: i64) -> CurrentPriceRow {
    CurrentPriceRow { station_id: sid(station_id), fuel, price, updated_at }
}

fn sample() -> PriceIndex {
    PriceIndex::build(CurrentData {
        version: Some(7),
        latest_snapshot_at: Some(1_000_000),
        stations: vec![
            station(3, 48.86, 2.35, "75", r#"["Toilettes publiques"]"#),
            station(1, 48.85, 2.35, "75", "[]"),
            station(2, 48.87, 2.36, "92", r#"["Boutique alimentaire","Toilettes publiques"]"#),
            station(4, 43.30, 5.38, "13", "not json"),
        ],
        prices: vec![
            price(1, 1, 1700, 1_000_000),
            price(2, 1, 1700, 1_000_000),
            price(3, 1, 1650, 1_000_000),
            price(3, 5, 1750, 500_000),
            price(4, 1, 1600, 1_000_000),
            // Unknown fuel, unknown station: dropped.
            price(1, 9, 1, 1),
            price(99, 1, 1, 1),
        ],
        shortages: vec![
            CurrentShortageRow { station_id: sid(3), fuel: 1, kind: ShortageKind::Temporary, since: Some(5) },
            CurrentShortageRow { station_id: sid(1), fuel: 3, kind: ShortageKind::Permanent, since: None },
        ],
    })
}

fn query(fuel: Fuel) -> NearbyQuery<'static> {
    NearbyQuery {
        latitude: 48.85,
        longitude: 2.35,
        radius_km: 10.0,
        fuel,
        updated_since: 0,
        hide_shortages: false,
        only_24_24: false,
        service: None,
        brands: &[],
        words: &[],
        order: Order::Price,
        limit: 10,
    }
}

fn ids(hits: &[Hit<'_>]) -> Vec<i64> {
    hits.iter().map(|h| h.station.id.get()).collect()
}

#[test]
fn nearby_filters_and_orders() {
    let idx = sample();
    assert_eq!(idx.version(), Some(7));
    assert_eq!(idx.stats().stations, 4);
    assert_eq!(idx.stats().prices, 5);
    let q = query(Fuel::Gazole);
    // 3 is cheapest; 1 and 2 share a price, 1 is nearer.
    assert_eq!(ids(&idx.nearby(&q)), [3, 1, 2]);
    assert_eq!(idx.nearby(&q)[0].offer.shortage, Some(ShortageKind::Temporary));
    assert_eq!(ids(&idx.nearby(&NearbyQuery { hide_shortages: true, ..q })), [1, 2]);
    assert_eq!(ids(&idx.nearby(&NearbyQuery { order: Order::Distance, ..q })), [1, 3, 2]);
    assert_eq!(ids(&idx.nearby(&NearbyQuery { only_24_24: true, ..q })), [2]);
    assert_eq!(ids(&idx.nearby(&NearbyQuery { service: Some("Toilettes publiques"), ..q })), [3, 2]);
    assert!(idx.nearby(&NearbyQuery { service: Some("Toilettes"), ..q }).is_empty());
    assert_eq!(ids(&idx.nearby(&NearbyQuery { limit: 2, ..q })), [3, 1]);
    assert!(idx.nearby(&NearbyQuery { limit: 0, ..q }).is_empty());
    assert_eq!(ids(&idx.nearby(&NearbyQuery { radius_km: 0.0, ..q })), [1]);
    assert!(idx.nearby(&NearbyQuery { updated_since: 1_000_001, ..q }).is_empty());
    assert_eq!(ids(&idx.nearby(&NearbyQuery { radius_km: 700.0, ..q })), [4, 3, 1, 2]);
    let e10 = query(Fuel::E10);
    assert_eq!(ids(&idx.nearby(&e10)), [3]);
    assert!(idx.nearby(&NearbyQuery { updated_since: 500_001, ..e10 }).is_empty());
    assert!(idx.nearby(&query(Fuel::SP98)).is_empty());
}

#[test]
fn nearest_and_lookup() {
    let idx = sample();
    let near: Vec<i64> = idx.nearest(48.85, 2.35, 2, 50.0).iter().map(|(s, _)| s.id.get()).collect();
    assert_eq!(near, [1, 3]);
    assert_eq!(idx.nearest(48.85, 2.35, 10, 50.0).len(), 3);
    assert_eq!(idx.station(sid(4)).map(|s| s.prices.len()), Some(1));
    assert!(idx.station(sid(99)).is_none());
    assert_eq!(idx.station(sid(3)).and_then(|s| s.price_of(Fuel::E10)).map(|o| o.price), Some(1750));
    // A shortage of a fuel without a price is kept for the station page.
    assert_eq!(
        idx.station(sid(1)).map(|s| &*s.shortages),
        Some(&[Shortage { fuel: Fuel::E85, kind: ShortageKind::Permanent, since: None }][..])
    );
}

#[test]
fn averages_precomputed_or_not() {
    let idx = sample();
    let since = 1_000_000 - AVERAGE_WINDOW_SECS;
    let national = idx.averages(None, since);
    assert!(matches!(national, Cow::Borrowed(_)));
    assert_eq!(
        &*national,
        [FuelAverage { fuel: 1, average: 1662.5, stations: 4 }, FuelAverage { fuel: 5, average: 1750.0, stations: 1 }]
    );
    // Only the prices of the window: the old E10 is out.
    let recent = idx.averages(None, 600_000);
    assert!(matches!(recent, Cow::Owned(_)));
    assert_eq!(&*recent, [FuelAverage { fuel: 1, average: 1662.5, stations: 4 }]);
    assert_eq!(&*idx.averages(Some("92"), since), [FuelAverage { fuel: 1, average: 1700.0, stations: 1 }]);
    assert_eq!(&*idx.averages(Some("92"), 600_000), [FuelAverage { fuel: 1, average: 1700.0, stations: 1 }]);
    assert!(idx.averages(Some("2A"), since).is_empty());
    assert!(PriceIndex::empty().averages(None, 0).is_empty());
}
