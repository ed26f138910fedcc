//! `carburoam bench alerts`: the cost of evaluating one import's price changes against many
//! rules (the target: ≤ 1 s on SQLite with 100,000 users, 300,000 followed stations and
//! 200,000 rules). A synthetic national feed is imported, the users, follows, rules and email
//! channels are generated (deterministic), then each "next snapshot" is imported (its changes
//! recorded by the loader) and evaluated; the median is reported.

use std::time::{Duration, Instant};

use crate::db::bench::{self as rows, Generated, Value};
use crate::db::{Backend, Db};
use crate::domain::{ChannelKind, RuleKind};
use crate::feed::synth;
use crate::feed::{self, ImportOptions};

/// The sizes of the generated population.
pub struct Sizes {
    pub stations: usize,
    pub users: usize,
    pub follows_per_user: usize,
    pub rules_per_user: usize,
}

impl Default for Sizes {
    fn default() -> Self {
        Sizes { stations: 10_000, users: 100_000, follows_per_user: 3, rules_per_user: 2 }
    }
}

/// SplitMix64, as the feed generator: deterministic data.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n.max(1)
    }
}

/// Generates the population over the stations loaded in `db`.
pub async fn populate(db: &Db, sizes: &Sizes, now: i64) -> anyhow::Result<()> {
    use Value::*;
    let stations = rows::station_points(db).await?;
    anyhow::ensure!(!stations.is_empty(), "no stations loaded");
    let mut rng = Rng(42);
    let users: Vec<[Value; 10]> = (0..sizes.users)
        .map(|i| {
            [
                S(format!("user{i}")),
                S(format!("user{i}")),
                S(format!("User {i}")),
                S(format!("user{i}@example.org")),
                S(format!("user{i}@example.org")),
                B(true),
                S("x".into()),
                S(if i % 5 == 0 { "en" } else { "fr" }.into()),
                I(now),
                I(now),
            ]
        })
        .collect();
    rows::insert_rows(db, Generated::Users, &users).await?;
    let ids = rows::user_ids(db).await?;
    let mut follows = Vec::with_capacity(ids.len() * sizes.follows_per_user);
    let mut rules = Vec::with_capacity(ids.len() * sizes.rules_per_user);
    let mut channels = Vec::with_capacity(ids.len());
    for uid in &ids {
        let mut mine: Vec<usize> = Vec::new();
        while mine.len() < sizes.follows_per_user.min(stations.len()) {
            let s = rng.below(stations.len() as u64) as usize;
            if !mine.contains(&s) {
                mine.push(s);
            }
        }
        for (pos, s) in mine.iter().enumerate() {
            follows.push([I(*uid), I(stations[*s].0), I(pos as i64 + 1), I(now)]);
        }
        for _ in 0..sizes.rules_per_user {
            let fuel = 1 + rng.below(6) as i64;
            let (kind, price, drop_by, place) = match rng.below(10) {
                0..=3 => (RuleKind::Threshold, I(1500 + rng.below(400) as i64), N, None),
                4..=5 => (RuleKind::Drop, N, I(10 * (1 + rng.below(5) as i64)), None),
                6..=7 => (RuleKind::Cheapest, N, N, None),
                8 => (RuleKind::Threshold, I(1500 + rng.below(400) as i64), N, Some(&stations[mine[0]])),
                _ => (RuleKind::Digest, N, N, None),
            };
            let (lat, lon, r, bbox) = match place {
                Some(&(_, la, lo)) => {
                    let r = 5.0 + rng.below(20) as f64;
                    let (dlat, dlon) = (r / 111.0, r / (111.0 * la.to_radians().cos().max(0.05)));
                    (F(la), F(lo), F(r), [F(la - dlat), F(la + dlat), F(lo - dlon), F(lo + dlon)])
                }
                None => (NF, NF, NF, [NF, NF, NF, NF]),
            };
            let fuel = if kind == RuleKind::Digest { N } else { I(fuel) };
            let [a, b, c, d] = bbox;
            let (wd, hour, next) =
                if kind == RuleKind::Digest { (I(1 + rng.below(7) as i64), I(8), I(now + 86_400)) } else { (N, N, N) };
            rules.push([
                I(*uid),
                S(kind.as_str().into()),
                fuel,
                price,
                drop_by,
                lat,
                lon,
                r,
                a,
                b,
                c,
                d,
                wd,
                hour,
                next,
                I(now),
            ]);
        }
        channels.push([I(*uid), S(ChannelKind::Email.as_str().into()), I(now)]);
    }
    rows::insert_rows(db, Generated::Follows, &follows).await?;
    rows::insert_rows(db, Generated::Rules, &rules).await?;
    rows::insert_rows(db, Generated::Channels, &channels).await?;
    rows::analyze_all(db).await?;
    Ok(())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// The bench: prints its figures.
pub async fn run(url: &str, sizes: Sizes, runs: usize) -> anyhow::Result<()> {
    let db = Db::connect(url).await?;
    let opts = ImportOptions { trigger: crate::domain::Trigger::Bench, ..ImportOptions::default() };
    feed::import_bytes(&db, "bench", synth::generate_zip(sizes.stations, 1).into(), &opts).await?;
    let now = crate::db::now();
    let t = Instant::now();
    populate(&db, &sizes, now).await?;
    let counts = rows::population(&db).await?;
    println!(
        "# alerts: {} stations, {} users, {} followed stations, {} rules (generated in {})",
        sizes.stations,
        counts.0,
        counts.1,
        counts.2,
        ms(t.elapsed())
    );
    let mut evals = Vec::new();
    for revision in 1..=runs.max(1) as u32 {
        let zip = synth::generate_zip_with(sizes.stations, 1, revision);
        let t = Instant::now();
        feed::import_bytes(&db, "bench", zip.into(), &opts).await?;
        let import = t.elapsed();
        let t = Instant::now();
        let e = super::engine::evaluate_pending(&db, now).await?;
        let took = t.elapsed();
        println!(
            "revision {revision}: import {} ; evaluate {} changes -> {} triggers, {} messages, {} merged, {} capped: {}",
            ms(import),
            e.changes,
            e.triggers,
            e.stored.messages,
            e.stored.merged,
            e.stored.capped,
            ms(took)
        );
        evals.push(took);
    }
    evals.sort();
    println!(
        "{}: evaluate one import's changes (median of {}): {}",
        db_name(&db),
        evals.len(),
        ms(evals[evals.len() / 2])
    );
    db.close().await;
    Ok(())
}

fn db_name(db: &Db) -> &'static str {
    match db.backend() {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

/// `carburoam bench alerts`: on a fresh SQLite file (and `--postgres` when given).
pub async fn run_cli(postgres: Option<String>, runs: usize, stations: usize) -> anyhow::Result<std::process::ExitCode> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("alerts.db").display());
    run(&url, Sizes { stations, ..Sizes::default() }, runs).await?;
    if let Some(pg) = postgres {
        let name = format!("carburoam_bench_alerts_{}", std::process::id());
        let admin = Db::connect_without_migrating(&pg).await?;
        rows::create_database(&admin, &name, false).await?;
        let mut u = url::Url::parse(&pg)?;
        u.set_path(&format!("/{name}"));
        let result = run(u.as_str(), Sizes { stations, ..Sizes::default() }, runs).await;
        let _ = rows::drop_database(&admin, &name).await;
        admin.close().await;
        result?;
    }
    Ok(std::process::ExitCode::SUCCESS)
}
