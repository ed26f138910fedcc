//! `carburoam bench alerts` generates the same population on both backends: on PostgreSQL, a
//! bulk insert of several batches of the same SQL must bind the place rules' coordinates with
//! their own type, or they come out as garbage (see `Value::NF` in src/alerts/bench.rs).

use carburoam::alerts::bench::{Sizes, populate};
use carburoam::feed::synth;
use carburoam::feed::{self, ImportOptions};

use crate::db_test;

db_test!(bench_population_is_sound_on_both_backends, |t| {
    let opts = ImportOptions { trigger: carburoam::domain::Trigger::Bench, ..ImportOptions::default() };
    feed::import_bytes(&t.db, "bench", synth::generate_zip(300, 1).into(), &opts).await.expect("feed");
    // 12,000 rules: three batches of the rules' INSERT on PostgreSQL (4,095 rows of 16 columns each).
    let sizes = Sizes { stations: 300, users: 6_000, follows_per_user: 3, rules_per_user: 2 };
    populate(&t.db, &sizes, 1_700_000_000).await.expect("populate");
    type Row = (f64, f64, f64, f64, f64, f64, f64);
    let rows: Vec<Row> = carburoam::on_db!(&t.db, p => sqlx::query_as(
        "SELECT latitude, longitude, radius_km, min_lat, max_lat, min_lon, max_lon FROM alert_rules \
         WHERE latitude IS NOT NULL ORDER BY id",
    )
    .fetch_all(p)
    .await)
    .expect("place rules");
    assert!(rows.len() > 1_000, "about a tenth of the rules are around a place: {}", rows.len());
    for (lat, lon, r, min_lat, max_lat, min_lon, max_lon) in rows {
        assert!((41.0..52.0).contains(&lat) && (-6.0..10.0).contains(&lon), "a place in France: {lat}, {lon}");
        assert!((5.0..25.0).contains(&r), "radius {r}");
        assert!(min_lat < lat && lat < max_lat && min_lon < lon && lon < max_lon, "the box holds its centre");
    }
    let (other,): (i64,) = carburoam::on_db!(&t.db, p => sqlx::query_as(
        "SELECT COUNT(*) FROM alert_rules WHERE latitude IS NULL AND (longitude IS NOT NULL OR radius_km IS NOT NULL \
         OR min_lat IS NOT NULL OR max_lon IS NOT NULL)",
    )
    .fetch_one(p)
    .await)
    .expect("count");
    assert_eq!(other, 0, "the other rules have no place");
});
