//! `carburoam bench route`: the corridor and the ranking of a trip across France (Paris → Lyon →
//! Marseille, ~2,000 points, 3 km corridor) on the national feed, as server time per request
//! (no routing engine: the path is given, as `POST /api/v1/route` with points takes it).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use chrono::Utc;

use super::rank::{self, RankQuery, Sort};
use super::{LatLon, Path, Source, Trip};
use crate::db::Db;
use crate::domain::Fuel;
use crate::index::PriceIndex;

/// Paris → Lyon → Marseille as `per_leg` points per leg (meandering ±2 km like a road).
pub fn paris_marseille(per_leg: usize) -> Vec<LatLon> {
    let stops = [(48.8566, 2.3522), (47.32, 5.04), (45.764, 4.8357), (44.93, 4.89), (43.2965, 5.3698)];
    let mut out = Vec::new();
    for w in stops.windows(2) {
        for k in 0..per_leg {
            let t = k as f64 / per_leg as f64;
            let wiggle = (k as f64 * 0.05).sin() * 0.02;
            out.push(LatLon { lat: w[0].0 + (w[1].0 - w[0].0) * t + wiggle, lon: w[0].1 + (w[1].1 - w[0].1) * t });
        }
    }
    out.push(LatLon { lat: stops[4].0, lon: stops[4].1 });
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Imports `file` (or a generated national feed) into a scratch SQLite database, builds the
/// price index, and times [`rank::candidates`] `runs` times (at least 200).
pub async fn run_cli(file: Option<PathBuf>, runs: usize, stations: usize) -> anyhow::Result<ExitCode> {
    let dir = tempfile::tempdir()?;
    let db = Db::connect(&format!("sqlite://{}", dir.path().join("bench.db").display())).await?;
    let feed = match file {
        Some(p) => p,
        None => {
            let p = dir.path().join("synthetic.zip");
            std::fs::write(&p, crate::feed::synth::generate_zip(stations, 1))?;
            p
        }
    };
    crate::feed::import_file(&db, &feed, &Default::default()).await?;
    let index = PriceIndex::load(&db).await?;
    let points = paris_marseille(500);
    let path = Path::new(points)?;
    let mut trip = Trip::bare(path, Source::Points);
    // As if routed: arrival times for "open on arrival".
    trip.duration_min = Some(trip.distance_km / 90.0 * 60.0);
    let q = RankQuery::defaults(Fuel::Gazole, Utc::now());
    println!(
        "# {}: {} stations; path of {} points, {:.0} km, corridor 3 km",
        feed.display(),
        index.stats().stations,
        trip.path.points().len(),
        trip.distance_km
    );
    let found = rank::candidates(&index, &trip, &q).len();
    let mut times = Vec::with_capacity(runs.max(200));
    for _ in 0..runs.max(200) {
        let t = Instant::now();
        let mut stops = rank::candidates(&index, &trip, &q);
        rank::sort(&mut stops, Sort::Net);
        std::hint::black_box(&stops);
        times.push(t.elapsed());
    }
    times.sort();
    let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1000.0);
    println!(
        "corridor + ranking: {found} stations; median {}, p99 {}, max {} ({} runs)",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99)),
        ms(times[times.len() - 1]),
        times.len()
    );
    db.close().await;
    Ok(ExitCode::SUCCESS)
}
