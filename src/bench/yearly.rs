//! `carburoam bench synth|archive|years`: yearly archives.
//!
//! - `synth` writes one synthetic yearly archive ([`crate::feed::synth::year`]) to a file;
//! - `archive` measures one yearly archive (a file, or a synthetic one): unzip alone, unzip and
//!   parse, and the whole import (unzip → parse → load → commit) into a fresh database, plus the
//!   same file merged into a database that already holds the following year (every row older
//!   than the current prices: the history-only merge of a backfill);
//! - `years` imports twenty synthetic years into one SQLite file, in order, and reports the
//!   time per year, the rows and the file size.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{Args, Subcommand};

use super::{Scratch, import_peak_rss, median, peak_rss};
use crate::db::{Backend, Db};
use crate::feed::archive::{self, Limits};
use crate::feed::synth::{YearSpec, write_year_zip};
use crate::feed::{self, ImportOptions, ImportReport};
use crate::feed::{FeedError, parse};

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Write a synthetic yearly archive (a ZIP as the publisher serves it) to a file.
    Synth(SynthArgs),
    /// Measure the import of one yearly archive (a file, or a synthetic year).
    Archive(ArchiveArgs),
    /// Import synthetic years one after the other into one SQLite file.
    Years(YearsArgs),
    /// The price alerts' evaluation of one import's changes, for 100,000 generated users (takes
    /// `--runs`, `--stations` and `--postgres` before the word `alerts`).
    Alerts,
    /// The pages under wrk on a database with history, names and trends: builds it
    /// from `--data` (../shared/data), serves it, prints req/s and p99 per page and of a mix.
    Pages(super::pages::PagesArgs),
    /// The route search's corridor and ranking on a trip across France (Paris → Marseille, ~2,000
    /// points, 3 km corridor); takes `--file` (the national feed) and `--runs` before the word `route`.
    Route,
}

#[derive(Args, Debug, Clone)]
pub struct SynthSpec {
    /// Year of the synthetic archive (before 2015: the old schema, prices in thousandths).
    #[arg(long, default_value_t = 2022)]
    pub year: i32,
    /// Station sites (about the number of stations in the file).
    #[arg(long, default_value_t = 10_000)]
    pub stations: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

impl SynthSpec {
    fn spec(&self, year: i32) -> YearSpec {
        YearSpec::new(year, self.stations, self.seed)
    }
}

#[derive(Args, Debug)]
pub struct SynthArgs {
    #[command(flatten)]
    pub spec: SynthSpec,
    /// Where to write the ZIP.
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct ArchiveArgs {
    /// A yearly archive (ZIP or XML); without it, a synthetic year.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// A file imported first, so that the archive is also measured into a live instance (issue
    /// 21's row: a recent snapshot, such as `instantane_ruptures_2026-06-05T1010.zip`). Without
    /// it, a synthetic year goes into the next synthetic year, and a real file only into an
    /// empty database.
    #[arg(long)]
    pub into: Option<PathBuf>,
    #[command(flatten)]
    pub spec: SynthSpec,
    /// Also measure on this PostgreSQL server (a scratch database is created and dropped).
    #[arg(long, env = "BENCH_POSTGRES_URL")]
    pub postgres: Option<String>,
    /// Runs per figure (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Folder for the generated files and databases (default: a temporary one).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct YearsArgs {
    #[arg(long, default_value_t = 2007)]
    pub from: i32,
    #[arg(long, default_value_t = 2026)]
    pub to: i32,
    #[arg(long, default_value_t = 10_000)]
    pub stations: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Folder for the yearly files (kept and reused when present) and the database `years.db`.
    #[arg(long)]
    pub dir: PathBuf,
}

pub async fn run(command: BenchCommand) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Alerts | BenchCommand::Route | BenchCommand::Pages(_) => {
            anyhow::bail!("`bench alerts` and `bench route` are run by bench::run")
        }
        BenchCommand::Synth(a) => {
            let t = Instant::now();
            let st = write_year_zip(&a.out, &a.spec.spec(a.spec.year))?;
            println!(
                "{}: {} stations, {} <prix> ({} placeholders), {:.1} MB of XML, {:.1} MB zipped, {:.1} s",
                a.out.display(),
                st.stations,
                st.prices,
                st.invalid_prices,
                st.xml_bytes as f64 / 1e6,
                file_mb(&a.out),
                t.elapsed().as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Archive(a) => archive_bench(a).await,
        BenchCommand::Years(a) => years(a).await,
    }
}

fn file_mb(p: &Path) -> f64 {
    std::fs::metadata(p).map(|m| m.len() as f64 / 1e6).unwrap_or(0.0)
}

/// The size of a SQLite database with its WAL.
fn sqlite_mb(db: &Path) -> f64 {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    file_mb(db) + file_mb(Path::new(&wal))
}

fn rate(rows: u64, d: Duration) -> String {
    format!("{:.2} M rows/s", rows as f64 / 1e6 / d.as_secs_f64())
}

/// Makes the synthetic year (cached in `dir`) and returns its path.
pub(super) fn synth_file(dir: &Path, spec: &YearSpec) -> anyhow::Result<PathBuf> {
    // Real sites (`bench pages --years`) are named apart from generated ones.
    let sites = if spec.sites.is_some() { "sites" } else { "" };
    let path = dir.join(format!("annuel_{}_{sites}{}_{}.zip", spec.year, spec.stations, spec.seed));
    if !path.exists() {
        let t = Instant::now();
        let tmp = path.with_extension("part");
        let st = write_year_zip(&tmp, spec)?;
        std::fs::rename(&tmp, &path)?;
        println!(
            "generated {}: {} stations, {} <prix>, {:.0} MB of XML, {:.1} MB zipped, {:.1} s",
            path.display(),
            st.stations,
            st.prices,
            st.xml_bytes as f64 / 1e6,
            file_mb(&path),
            t.elapsed().as_secs_f64()
        );
    }
    Ok(path)
}

async fn archive_bench(a: ArchiveArgs) -> anyhow::Result<ExitCode> {
    let runs = a.runs.max(1);
    let tmp = tempfile::tempdir()?;
    let dir = a.dir.clone().unwrap_or_else(|| tmp.path().to_owned());
    std::fs::create_dir_all(&dir)?;
    let (file, next) = match &a.file {
        Some(f) => (f.clone(), a.into.clone()),
        None => {
            let f = synth_file(&dir, &a.spec.spec(a.spec.year))?;
            let n = match &a.into {
                Some(into) => into.clone(),
                None => synth_file(&dir, &a.spec.spec(a.spec.year + 1))?,
            };
            (f, Some(n))
        }
    };
    // What the archive goes into after the empty database, as the lines below name it.
    let live = match &a.into {
        Some(into) => {
            let name =
                into.file_name().map_or_else(|| into.display().to_string(), |n| n.to_string_lossy().into_owned());
            format!("into a live instance ({name} imported first)")
        }
        None => "merged into the history of a newer year".to_owned(),
    };
    let bytes = Bytes::from(std::fs::read(&file)?);
    println!("# {}: {:.1} MB", file.display(), bytes.len() as f64 / 1e6);

    // Unzip alone, then unzip and parse (no database): what the parsing thread can give.
    let limits = Limits { max_input_bytes: u64::MAX, ..Limits::default() };
    let mut times = Vec::new();
    let mut xml_bytes = 0u64;
    for _ in 0..runs {
        let t = Instant::now();
        let mut r = archive::open(&bytes, &limits)?;
        xml_bytes = std::io::copy(&mut r, &mut std::io::sink()).map_err(FeedError::from_io)?;
        times.push(t.elapsed());
    }
    let unzip = median(times);
    println!(
        "unzip alone: {:.0} ms, {:.0} MB/s",
        unzip.as_secs_f64() * 1e3,
        xml_bytes as f64 / 1e6 / unzip.as_secs_f64()
    );
    let mut times = Vec::new();
    let mut rows = 0u64;
    for _ in 0..runs {
        let t = Instant::now();
        let r = archive::open(&bytes, &limits)?;
        let o = parse::parse_stream(r, |s| {
            std::hint::black_box(s);
        })?;
        rows = o.price_elements as u64;
        times.push(t.elapsed());
    }
    let parsed = median(times);
    println!("unzip + parse: {:.0} ms, {} ({rows} <prix>)", parsed.as_secs_f64() * 1e3, rate(rows, parsed));

    let mut backends: Vec<(Backend, String)> = Vec::new();
    backends.push((Backend::Sqlite, String::new()));
    if let Some(pg) = &a.postgres {
        backends.push((Backend::Postgres, pg.clone()));
    }
    for (backend, pg) in backends {
        let mut first = Vec::new();
        let mut series = Vec::new();
        let mut merged = Vec::new();
        let mut report: Option<ImportReport> = None;
        for i in 0..runs {
            let db_path = dir.join(format!("archive_{i}.db"));
            remove_sqlite(&db_path);
            let url = if backend == Backend::Sqlite { format!("sqlite://{}", db_path.display()) } else { pg.clone() };
            let scratch = Scratch::open(&url, i).await?;
            let t = Instant::now();
            let r = import(&scratch.db, &file, bytes.clone()).await?;
            first.push(t.elapsed());
            series.push(r.series_elapsed);
            report = Some(r);
            if backend == Backend::Sqlite && i == 0 {
                println!("sqlite: database after the first import: {:.0} MB", sqlite_mb(&db_path));
            }
            scratch.close().await;
            if let Some(next) = &next {
                remove_sqlite(&db_path);
                let scratch = Scratch::open(&url, i).await?;
                import(&scratch.db, next, Bytes::from(std::fs::read(next)?)).await?;
                let t = Instant::now();
                import(&scratch.db, &file, bytes.clone()).await?;
                merged.push(t.elapsed());
                scratch.close().await;
            }
            remove_sqlite(&db_path);
        }
        let without: Vec<Duration> = first.iter().zip(&series).map(|(f, s)| f.saturating_sub(*s)).collect();
        let (first, series, without) = (median(first), median(series), median(without));
        if let Some(r) = &report {
            println!(
                "{backend}: first import (unzip → commit): {:.0} ms, {} ({} stations, history +{}, rejected {})",
                first.as_secs_f64() * 1e3,
                rate(rows, first),
                r.stations_in_file,
                r.counts.history_added,
                r.counts.rejected
            );
            println!(
                "{backend}:   of which the daily averages: {:.0} ms; unzip → parse → load → commit without them: {:.0} ms, {}",
                series.as_secs_f64() * 1e3,
                without.as_secs_f64() * 1e3,
                rate(rows, without)
            );
        }
        if !merged.is_empty() {
            let m = median(merged);
            println!("{backend}: {live}: {:.0} ms, {}", m.as_secs_f64() * 1e3, rate(rows, m));
        }
    }

    // Peak RSS of a real `carburoam import` of the file into a fresh SQLite database.
    let db_path = dir.join("rss.db");
    remove_sqlite(&db_path);
    let rss = import_peak_rss(&file, &db_path)?;
    println!("sqlite: peak RSS of `carburoam import` (first import): {rss}");
    remove_sqlite(&db_path);
    // And of the archive's import into the live instance.
    if let Some(next) = &next {
        import_peak_rss(next, &db_path)?;
        let rss = import_peak_rss(&file, &db_path)?;
        println!("sqlite: peak RSS of `carburoam import` ({live}): {rss}");
        remove_sqlite(&db_path);
    }
    Ok(ExitCode::SUCCESS)
}

fn remove_sqlite(p: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut f = p.as_os_str().to_owned();
        f.push(suffix);
        let _ = std::fs::remove_file(Path::new(&f));
    }
}

pub(super) async fn import(db: &Db, file: &Path, bytes: Bytes) -> anyhow::Result<ImportReport> {
    let opts = ImportOptions {
        trigger: crate::domain::Trigger::Bench,
        limits: Limits { max_input_bytes: u64::MAX, ..Limits::default() },
        ..ImportOptions::default()
    };
    Ok(feed::import_bytes(db, &file.display().to_string(), bytes, &opts).await?)
}

async fn years(a: YearsArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&a.dir)?;
    let db_path = a.dir.join("years.db");
    remove_sqlite(&db_path);
    let db = Db::connect(&format!("sqlite://{}", db_path.display())).await?;
    let spec = SynthSpec { year: a.from, stations: a.stations, seed: a.seed };
    let (mut total_rows, mut total_time) = (0u64, Duration::ZERO);
    println!("| year | <prix> | history added | import | of which daily averages | rows/s | database |");
    println!("|---|---|---|---|---|---|---|");
    for year in a.from..=a.to {
        let file = synth_file(&a.dir, &spec.spec(year))?;
        let bytes = Bytes::from(std::fs::read(&file)?);
        let t = Instant::now();
        let r = import(&db, &file, bytes).await?;
        let took = t.elapsed();
        let rows = r.price_elements as u64;
        total_rows += rows;
        total_time += took;
        println!(
            "| {year} | {rows} | {} | {:.2} s | {:.2} s | {} | {:.0} MB |",
            r.counts.history_added,
            took.as_secs_f64(),
            r.series_elapsed.as_secs_f64(),
            rate(rows, took),
            sqlite_mb(&db_path)
        );
    }
    crate::etl::AfterImport::default().refresh_statistics().run(&db).await?;
    // Counted on the SQLite file only; a PostgreSQL run prints zeros.
    let (points, stations) = match &db {
        Db::Sqlite(_) => crate::db::bench::history_and_stations(&db).await?,
        Db::Postgres(_) => (0, 0),
    };
    let busiest = match &db {
        Db::Sqlite(_) => crate::db::bench::busiest_gazole_chart(&db).await?,
        Db::Postgres(_) => None,
    };
    db.close().await;
    println!(
        "total: {total_rows} <prix> in {:.1} s ({}), {points} history points, {stations} stations, {:.0} MB",
        total_time.as_secs_f64(),
        rate(total_rows, total_time),
        sqlite_mb(&db_path)
    );
    if let Some((s, f, n)) = busiest {
        println!("busiest Gazole chart: station {s} fuel {f}, {n} points");
    }
    println!("peak RSS of this process: {}", peak_rss().unwrap_or_else(|| "unknown".into()));
    Ok(ExitCode::SUCCESS)
}
