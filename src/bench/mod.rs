//! `carburoam bench`: the import speed and memory figures of docs/benchmarks.md.
//!
//! Runs on real feed files when given, else on a generated national-size feed
//! ([`crate::feed::synth`]). Also measures building the in-memory price index of the web pages
//! ([`crate::index`]) from the imported database. Each figure is the median of several runs, on a fresh database each
//! time where it says "first import". Peak RSS is measured in a child process (`carburoam
//! import`), so the bench's own allocations do not count.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Args;

use crate::db::{Backend, Db};
use crate::feed::archive::{self, Limits};
use crate::feed::{self, ImportOptions};
use crate::feed::{FeedError, parse, synth};
use crate::index::PriceIndex;

mod pages;
mod peer;
mod yearly;

pub use yearly::BenchCommand;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Yearly archives (`synth`, `archive`, `years`) and the price alerts (`alerts`); without it, the snapshot figures below.
    #[command(subcommand)]
    pub command: Option<BenchCommand>,
    /// A feed file (ZIP or XML) to measure with; without it, a generated national-size feed.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// A second, later snapshot of the same feed, to measure an incremental import.
    #[arg(long)]
    pub next: Option<PathBuf>,
    /// Also measure on this PostgreSQL server (a scratch database is created and dropped).
    #[arg(long, env = "BENCH_POSTGRES_URL")]
    pub postgres: Option<String>,
    /// Runs per figure (the median is reported).
    #[arg(long, default_value_t = 7)]
    pub runs: usize,
    /// Stations in the generated feed.
    #[arg(long, default_value_t = 10_000)]
    pub stations: usize,
    /// Also run the careful Python loader (`scripts/peer_loader.py`) on the same file after each
    /// first import on SQLite, and print both medians and the ratio.
    #[arg(long)]
    pub python_peer: bool,
}

/// Database URL for the run number `i`.
type UrlFor = Box<dyn Fn(usize) -> String>;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

pub async fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let runs = args.runs.max(1);
    match args.command {
        // The price alerts' evaluation on a generated population (src/alerts/bench.rs).
        Some(BenchCommand::Alerts) => return crate::alerts::bench::run_cli(args.postgres, runs, args.stations).await,
        Some(BenchCommand::Route) => return crate::route::bench::run_cli(args.file, runs, args.stations).await,
        Some(BenchCommand::Pages(a)) => return pages::run(a).await,
        Some(command) => return yearly::run(command).await,
        None => {}
    }
    let (name, bytes) = match &args.file {
        Some(p) => (p.display().to_string(), Bytes::from(std::fs::read(p)?)),
        None => {
            (format!("synthetic feed, {} stations", args.stations), Bytes::from(synth::generate_zip(args.stations, 1)))
        }
    };
    let next = match (&args.next, &args.file) {
        (Some(p), _) => Some(Bytes::from(std::fs::read(p)?)),
        (None, None) => Some(Bytes::from(synth::generate_zip_with(args.stations, 1, 1))),
        (None, Some(_)) => None,
    };
    println!("# {name}: {} bytes", bytes.len());

    // 1. Unzip alone, and parse alone (from decompressed XML in memory).
    let limits = Limits::default();
    let mut xml = Vec::new();
    let mut unzip_times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        xml.clear();
        let mut r = archive::open(&bytes, &limits)?;
        std::io::Read::read_to_end(&mut r, &mut xml).map_err(FeedError::from_io)?;
        unzip_times.push(t.elapsed());
    }
    let unzip = median(unzip_times);
    let mut parse_times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let out = parse::parse_stream(std::io::Cursor::new(&xml), |_| {})?;
        std::hint::black_box(out);
        parse_times.push(t.elapsed());
    }
    let parse_t = median(parse_times);
    let mbps = xml.len() as f64 / 1e6 / parse_t.as_secs_f64();
    println!("unzip: {} ({:.1} MB of XML)", ms(unzip), xml.len() as f64 / 1e6);
    println!("parse: {} = {mbps:.0} MB/s", ms(parse_t));
    drop(xml);

    // 2. Imports on SQLite (a fresh file each run) and PostgreSQL.
    let dir = tempfile::tempdir()?;
    let file = match &args.file {
        Some(p) => p.clone(),
        None => {
            let p = dir.path().join("synthetic.zip");
            std::fs::write(&p, &bytes)?;
            p
        }
    };
    let peer = if args.python_peer { Some(peer::Peer::prepare(dir.path())?) } else { None };
    if let Some(peer::Peer::Missing(how)) = &peer {
        println!("python peer: {how}");
    }
    let mut peer_runs = Vec::new();
    let mut backends: Vec<(Backend, UrlFor)> = Vec::new();
    let base = dir.path().to_owned();
    backends
        .push((Backend::Sqlite, Box::new(move |i| format!("sqlite://{}", base.join(format!("b{i}.db")).display()))));
    if let Some(pg) = args.postgres.clone() {
        backends.push((Backend::Postgres, Box::new(move |_| pg.clone())));
    }
    for (backend, url_for) in &backends {
        let mut first = Vec::new();
        let mut again = Vec::new();
        let mut identical = Vec::new();
        let mut incremental = Vec::new();
        let mut next_skipped = None;
        let (mut index_read, mut index_build, mut index_size) = (Vec::new(), Vec::new(), None);
        for i in 0..runs {
            let url = url_for(i);
            let scratch = Scratch::open(&url, i).await?;
            let db = &scratch.db;
            let opts = ImportOptions { trigger: crate::domain::Trigger::Bench, ..ImportOptions::default() };
            let t = Instant::now();
            feed::import_bytes(db, "bench", bytes.clone(), &opts).await?;
            first.push(t.elapsed());
            // The peer right after, on the same file: side by side under the same load.
            if let (Some(p @ peer::Peer::Ready { .. }), true) = (&peer, scratch.pg.is_none()) {
                peer_runs.push(p.run(&file, &dir.path().join("peer.db"))?);
            }
            // Same content, bytes re-read: the content-diff path (forced past the hash check).
            let forced = ImportOptions { force: true, ..opts.clone() };
            let t = Instant::now();
            feed::import_bytes(db, "bench", bytes.clone(), &forced).await?;
            again.push(t.elapsed());
            let t = Instant::now();
            feed::import_bytes(db, "bench", bytes.clone(), &opts).await?;
            identical.push(t.elapsed());
            if let Some(next) = &next {
                let t = Instant::now();
                let r = feed::import_bytes(db, "bench", next.clone(), &opts).await?;
                incremental.push(t.elapsed());
                next_skipped = Some((r.elements_skipped, r.stations_in_file));
            }
            let index = PriceIndex::load(db).await?;
            let s = index.stats();
            index_read.push(s.read);
            index_build.push(s.build);
            index_size = Some(s);
            scratch.close().await;
        }
        let first = median(first);
        println!("{backend}: first import (unzip to commit): {}", ms(first));
        if *backend == Backend::Sqlite && !peer_runs.is_empty() {
            let parser = peer_runs[0].parser.clone();
            let theirs = median(peer_runs.drain(..).map(|r| r.elapsed).collect());
            println!("python peer ({parser}): first import (open to commit): {}", ms(theirs));
            println!("python peer / carburoam: {:.2}x", theirs.as_secs_f64() / first.as_secs_f64());
        }
        println!("{backend}: re-import, same content (content diff): {}", ms(median(again)));
        println!("{backend}: re-import, identical file (hash check): {}", ms(median(identical)));
        if !incremental.is_empty() {
            let (skipped, listed) = next_skipped.unwrap_or_default();
            println!(
                "{backend}: next snapshot: {} ({skipped} of {listed} stations' elements dropped unparsed)",
                ms(median(incremental))
            );
        }
        if let Some(s) = index_size {
            println!(
                "{backend}: price index: read {} + build {} ({} stations, {} prices, {:.1} MB of heap)",
                ms(median(index_read)),
                ms(median(index_build)),
                s.stations,
                s.prices,
                s.heap_bytes as f64 / 1e6
            );
        }
    }

    // 3. Peak RSS of a real `carburoam import` of the file into a fresh SQLite database.
    let rss = import_peak_rss(&file, &dir.path().join("rss.db"))?;
    println!("sqlite: peak RSS of `carburoam import` (first import): {rss}");
    Ok(ExitCode::SUCCESS)
}

/// Peak RSS (`VmHWM`) of a real `carburoam import` of `file` into the SQLite file `db`, run as a
/// child process so that the bench's own memory does not count.
fn import_peak_rss(file: &std::path::Path, db: &std::path::Path) -> anyhow::Result<String> {
    let out = std::process::Command::new(std::env::current_exe()?)
        .args(["import", "--report-peak-rss", "--database"])
        .arg(format!("sqlite://{}", db.display()))
        .arg(file)
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    Ok(stderr.lines().find_map(|l| l.strip_prefix("peak RSS: ")).unwrap_or("unknown").to_owned())
}

/// A database for one bench run: a fresh SQLite file, or a scratch PostgreSQL database.
struct Scratch {
    db: Db,
    pg: Option<(String, String)>,
}

impl Scratch {
    async fn open(url: &str, i: usize) -> anyhow::Result<Scratch> {
        if url.starts_with("sqlite:") {
            return Ok(Scratch { db: Db::connect(url).await?, pg: None });
        }
        let name = format!("carburoam_bench_{}_{i}", std::process::id());
        let admin = Db::connect_without_migrating(url).await?;
        crate::db::bench::create_database(&admin, &name, true).await?;
        admin.close().await;
        let mut u = url::Url::parse(url)?;
        u.set_path(&format!("/{name}"));
        Ok(Scratch { db: Db::connect(u.as_str()).await?, pg: Some((url.to_owned(), name)) })
    }

    /// The database's URL (a PostgreSQL scratch database's own).
    fn url(&self) -> String {
        match &self.pg {
            Some((admin, name)) => match url::Url::parse(admin) {
                Ok(mut u) => {
                    u.set_path(&format!("/{name}"));
                    u.to_string()
                }
                Err(_) => admin.clone(),
            },
            None => String::new(),
        }
    }

    async fn close(self) {
        self.db.close().await;
        if let Some((admin, name)) = self.pg
            && let Ok(admin) = Db::connect_without_migrating(&admin).await
        {
            let _ = crate::db::bench::drop_database(&admin, &name).await;
            admin.close().await;
        }
    }
}

/// `VmHWM` of this process (Linux), for `import --report-peak-rss`.
pub fn peak_rss() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmHWM:")).map(|v| v.trim().to_owned())
}
