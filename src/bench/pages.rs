//! `carburoam bench pages`: the pages under load on a database holding history.
//!
//! Builds the database from the shared feed files (`../shared/data` by default: the real
//! 2022 January–March archive, the 2025 snapshots, the 2026 ruptures snapshot, OpenStreetMap
//! names) with the real binary (`carburoam import`, `carburoam names import`), starts
//! `carburoam serve` on it as a child process, measures each page with `wrk -t2 -cN -dS
//! --latency`, then a mix of all of them, and prints the table with the server's RSS at the
//! end. SQLite always; PostgreSQL too with `--postgres URL` (a scratch database, dropped after).
//!
//! `--years FROM..TO` first imports synthetic yearly archives of the same stations as the real
//! 2026 snapshot ([`crate::feed::synth::year::sites_of`]: their ids, postcodes, positions and
//! addresses), their past from FROM to TO, then the real files as without it: the pages with
//! twenty years of history behind the same stations.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::Args;

use super::Scratch;
use crate::db::Backend;

#[derive(Args, Debug)]
pub struct PagesArgs {
    /// Where the feed files are (see the module documentation for the ones used).
    #[arg(long, default_value = "../shared/data")]
    pub data: PathBuf,
    /// Folder for the SQLite database (kept between runs: built once; default a temporary one).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Also measure on this PostgreSQL server (a scratch database is created and dropped).
    #[arg(long, env = "BENCH_POSTGRES_URL")]
    pub postgres: Option<String>,
    /// Seconds of wrk per page.
    #[arg(long, default_value_t = 5)]
    pub seconds: u32,
    /// Connections per page.
    #[arg(long, default_value_t = 32)]
    pub connections: u32,
    /// Seconds of the mix of every page.
    #[arg(long, default_value_t = 60)]
    pub mix_seconds: u32,
    /// Connections of the mix.
    #[arg(long, default_value_t = 64)]
    pub mix_connections: u32,
    /// `Accept-Encoding` sent by wrk (none by default, as the table).
    #[arg(long)]
    pub accept_encoding: Option<String>,
    /// The `carburoam` binary to serve with (another build, to compare; default: this one).
    #[arg(long)]
    pub server: Option<PathBuf>,
    /// Synthetic years of the real stations' past imported first, `FROM..TO` (both included,
    /// e.g. `2002..2021`: twenty years up to the real 2022 archive).
    #[arg(long, value_parser = parse_years)]
    pub years: Option<(i32, i32)>,
}

/// `FROM..TO`, both included, FROM ≤ TO.
fn parse_years(v: &str) -> Result<(i32, i32), String> {
    let (from, to) = v.split_once("..").ok_or_else(|| format!("`{v}`: expected FROM..TO, e.g. 2002..2021"))?;
    let year = |y: &str| {
        y.trim().parse::<i32>().ok().filter(|y| (1990..=2100).contains(y)).ok_or_else(|| format!("`{y}`: not a year"))
    };
    let (from, to) = (year(from)?, year(to)?);
    if from > to {
        return Err(format!("`{v}`: {from} is after {to}"));
    }
    Ok((from, to))
}

/// The files the database is built from, in import order, and whether each is required.
const SNAPSHOTS: [&str; 5] = [
    "instantane_2025-02-07T0200.zip",
    "instantane_2025-02-07T0220.zip",
    "instantane_2025-02-07T0730.zip",
    "instantane_2025-02-07T0740.zip",
    "instantane_ruptures_2026-06-05T1010.zip",
];
const ARCHIVE: &str = "archive_2022-01-01_2022-03-31_etalab.zip";

/// One measured URL.
struct Row {
    label: String,
    rps: f64,
    p99_ms: f64,
    errors: u64,
}

pub async fn run(a: PagesArgs) -> anyhow::Result<ExitCode> {
    if Command::new("wrk").arg("--version").output().is_err() {
        anyhow::bail!("wrk is not installed: `apt-get install -y wrk` (Debian, Ubuntu) or `brew install wrk`");
    }
    let files = feed_files(&a.data)?;
    let keep = a.dir.is_some();
    let tmp = tempfile::tempdir()?;
    let dir = a.dir.clone().unwrap_or_else(|| tmp.path().to_owned());
    std::fs::create_dir_all(&dir)?;
    println!("# bench pages: {} cores, load average {}", num_cpus(), load_average());
    let mut backends = vec![(Backend::Sqlite, format!("sqlite://{}", dir.join("pages.db").display()), None)];
    if let Some(pg) = &a.postgres {
        let scratch = Scratch::open(pg, 0).await?;
        let url = scratch.url();
        scratch.db.close().await;
        backends.push((Backend::Postgres, url, Some(scratch)));
    }
    let years = match a.years {
        Some((from, to)) => synth_years(&a.data, &dir, from, to)?,
        None => Vec::new(),
    };
    for (backend, url, scratch) in backends {
        let built = dir.join("pages.db").exists() && backend == Backend::Sqlite && keep;
        if built {
            println!("{backend}: database kept from a previous run ({})", dir.join("pages.db").display());
        } else {
            let t = Instant::now();
            import_years(&url, &years).await?;
            build(&url, &files)?;
            println!("{backend}: database built in {:.0} s, {}", t.elapsed().as_secs_f64(), size_of(&url).await?);
        }
        let result = measure(&a, backend, &url).await;
        if let Some(s) = scratch {
            s.close().await;
        }
        result?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The feed files found in `data`, in import order; says which are missing.
fn feed_files(data: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for name in std::iter::once(ARCHIVE).chain(SNAPSHOTS) {
        let p = data.join(name);
        if p.exists() {
            files.push(p);
        } else {
            println!("missing: {} (the database is built without it)", p.display());
        }
    }
    println!("not in the shared data: the 2022 April–October archive (the issue's database also held it)");
    let names = std::fs::read_dir(data)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("osm_fuel_names")))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    if names.is_empty() {
        println!("missing: osm_fuel_names_*.csv in {} (no station names)", data.display());
    }
    if files.is_empty() {
        anyhow::bail!("no feed file in {}: the shared data is needed (see its README)", data.display());
    }
    files.extend(names);
    Ok(files)
}

/// The synthetic yearly archives `from..=to` of the stations of the real 2026 snapshot in
/// `data`, made in `dir/years` (kept and reused).
fn synth_years(data: &Path, dir: &Path, from: i32, to: i32) -> anyhow::Result<Vec<PathBuf>> {
    let real = data.join(SNAPSHOTS[SNAPSHOTS.len() - 1]);
    let sites = crate::feed::synth::year::sites_of(&std::fs::read(&real)?)
        .map_err(|e| anyhow::anyhow!("{}: {e}", real.display()))?;
    println!("synthetic years {from}–{to} of the {} stations of {}", sites.len(), real.display());
    let sites: std::sync::Arc<[_]> = sites.into();
    let out = dir.join("years");
    std::fs::create_dir_all(&out)?;
    (from..=to)
        .map(|year| super::yearly::synth_file(&out, &crate::feed::synth::YearSpec::of_sites(year, sites.clone(), 1)))
        .collect()
}

/// Imports the synthetic `years` into `url`, in order (in this process: a year is larger than
/// `carburoam import` takes by default).
async fn import_years(url: &str, years: &[PathBuf]) -> anyhow::Result<()> {
    if years.is_empty() {
        return Ok(());
    }
    let db = crate::db::Db::connect(url).await?;
    let t = Instant::now();
    for file in years {
        let report = super::yearly::import(&db, file, bytes::Bytes::from(std::fs::read(file)?)).await?;
        println!("imported {}: {} <prix>", file.display(), report.price_elements);
    }
    crate::etl::AfterImport::default().refresh_statistics().run(&db).await?;
    db.close().await;
    println!("synthetic years imported in {:.0} s", t.elapsed().as_secs_f64());
    Ok(())
}

/// The database's size on disk: SQLite's file with its WAL, PostgreSQL's `pg_database_size`.
async fn size_of(url: &str) -> anyhow::Result<String> {
    let db = crate::db::Db::connect(url).await?;
    let bytes = crate::db::bench::size_bytes(&db).await?;
    let points = crate::db::bench::history_points(&db).await?;
    db.close().await;
    Ok(format!("{:.0} MB, {points} history points", bytes as f64 / 1e6))
}

/// Imports `files` into `url` with the real binary (feed files, then names).
fn build(url: &str, files: &[PathBuf]) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let (names, feeds): (Vec<&PathBuf>, Vec<&PathBuf>) =
        files.iter().partition(|p| p.extension().is_some_and(|e| e == "csv"));
    for f in feeds {
        let status = Command::new(&exe).args(["import", "--database", url]).arg(f).stdout(Stdio::null()).status()?;
        anyhow::ensure!(status.success(), "import of {} failed", f.display());
    }
    for f in names {
        let status = Command::new(&exe)
            .args(["names", "import", "--force", "--database", url])
            .arg(f)
            .stdout(Stdio::null())
            .status()?;
        anyhow::ensure!(status.success(), "names import of {} failed", f.display());
    }
    Ok(())
}

/// Kills the server when the bench ends, whatever happens.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn measure(a: &PagesArgs, backend: Backend, url: &str) -> anyhow::Result<()> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let base = format!("http://127.0.0.1:{port}");
    let server = Server(
        Command::new(a.server.clone().map_or_else(std::env::current_exe, Ok)?)
            .args(["serve", "--database", url, "--bind", &format!("127.0.0.1:{port}")])
            .args(["--etl-every", "off", "--names-every", "off", "--backfill-days", "0"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let client = reqwest::Client::new();
    let started = Instant::now();
    while client.get(format!("{base}/healthz")).send().await.map(|r| r.status().is_success()).ok() != Some(true) {
        anyhow::ensure!(started.elapsed() < Duration::from_secs(300), "the server did not start");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A station of Rouen with a price of Gazole: the nearest one to the town hall.
    let near = client
        .get(format!("{base}/api/v1/stations?lat=49.4431&lon=1.0993&fuel=Gazole&limit=1&max_age_days=3650"))
        .send()
        .await?
        .bytes()
        .await?;
    let near: serde_json::Value = serde_json::from_slice(&near)?;
    let id = near["stations"][0]["id"].as_i64().unwrap_or(76_000_001);
    let urls = pages(id);
    for u in &urls {
        // Warm: the first answer of each page builds its cache entries.
        client.get(format!("{base}{u}")).send().await?.bytes().await?;
    }
    let mut rows = Vec::new();
    for u in &urls {
        rows.push(wrk(a, &base, std::slice::from_ref(u), a.connections, a.seconds, u)?);
    }
    let mix = wrk(a, &base, &urls, a.mix_connections, a.mix_seconds, &format!("mix of the {} URLs", urls.len()))?;
    let rss = rss_of(server.0.id());
    println!("\n{backend}: `wrk -t2 -c{} -d{}s --latency`, station {id}", a.connections, a.seconds);
    println!("| page | req/s | p99 |\n|---|---|---|");
    for r in rows.iter().chain([&mix]) {
        let errors = if r.errors > 0 { format!(" ({} errors)", r.errors) } else { String::new() };
        println!("| `{}` | {:.0} | {:.1} ms{errors} |", r.label, r.rps, r.p99_ms);
    }
    println!("{backend}: mix at -c{} for {} s; server RSS at the end {rss}", a.mix_connections, a.mix_seconds);
    drop(server);
    Ok(())
}

/// The URLs measured: the table and the rest of the public pages and API.
fn pages(station: i64) -> Vec<String> {
    vec![
        "/tendances".to_owned(),
        "/tendances?fuel=E10&dept=76&period=1y".to_owned(),
        format!("/stations/{station}"),
        "/stations?q=Rouen&fuel=Gazole".to_owned(),
        format!("/api/v1/stations/{station}/history?fuel=Gazole&step=day"),
        "/".to_owned(),
        format!("/api/v1/stations/{station}"),
        "/api/v1/stations?lat=49.4431&lon=1.0993&fuel=Gazole".to_owned(),
        "/api/v1/trends?fuel=Gazole".to_owned(),
    ]
}

/// One wrk run over `paths` (several: each connection takes them in turn, by a Lua script).
fn wrk(a: &PagesArgs, base: &str, paths: &[String], conns: u32, secs: u32, label: &str) -> anyhow::Result<Row> {
    let script = tempfile::NamedTempFile::new()?;
    let list: Vec<String> = paths.iter().map(|p| format!("{p:?}")).collect();
    let header = a.accept_encoding.as_deref().map(|e| format!("wrk.headers[\"Accept-Encoding\"] = {e:?}\n"));
    std::fs::write(
        script.path(),
        format!(
            "{}local paths = {{ {} }}\nlocal i = 0\nrequest = function()\n  i = i + 1\n  return wrk.format(\"GET\", paths[(i % #paths) + 1])\nend\n",
            header.unwrap_or_default(),
            list.join(", ")
        ),
    )?;
    let out = Command::new("wrk")
        .args(["-t2", &format!("-c{conns}"), &format!("-d{secs}s"), "--latency", "-s"])
        .arg(script.path())
        .arg(base)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let rps = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0);
    let p99_ms = text.lines().find_map(|l| l.trim().strip_prefix("99%")).and_then(duration_ms).unwrap_or(f64::NAN);
    let errors = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    eprintln!("{label}: {rps:.0} req/s, p99 {p99_ms:.1} ms");
    Ok(Row { label: label.to_owned(), rps, p99_ms, errors })
}

/// `12.34ms`, `850.00us`, `1.02s` in milliseconds.
fn duration_ms(v: &str) -> Option<f64> {
    let v = v.trim();
    let (num, factor) = if let Some(n) = v.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    num.parse::<f64>().ok().map(|n| n * factor)
}

fn rss_of(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("VmRSS:")).map(|v| v.trim().to_owned()))
        .unwrap_or_else(|| "unknown".to_owned())
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map(usize::from).unwrap_or(1)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn wrk_durations() {
        assert_eq!(super::duration_ms("12.50ms"), Some(12.5));
        assert_eq!(super::duration_ms("850.00us"), Some(0.85));
        assert_eq!(super::duration_ms("1.50s"), Some(1500.0));
        assert_eq!(super::duration_ms("n/a"), None);
    }
}
