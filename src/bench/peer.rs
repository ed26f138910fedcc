//! `carburoam bench --python-peer`: the first import of the snapshot beside a careful Python
//! loader (`scripts/peer_loader.py`: streaming `iterparse` with lxml, one transaction,
//! `executemany`, stations and current prices only, into a fresh SQLite file of its own schema).
//!
//! The script is compiled into the binary and written next to the bench's scratch databases, so
//! the comparison runs from any directory. It times itself from opening the file to the commit
//! (the interpreter's start is not counted, as our figure starts from the bytes in memory). When
//! Python is missing the bench prints the command to run instead of failing; when lxml is
//! missing the script falls back to the standard library's `ElementTree` and says so.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The peer loader's source, as in the repository.
const SCRIPT: &str = include_str!("../../scripts/peer_loader.py");

/// One run of the peer loader: its own time and the parser it used.
pub struct PeerRun {
    pub elapsed: Duration,
    pub parser: String,
}

/// The Python peer, ready to run, or the reason it cannot.
pub enum Peer {
    Ready { python: String, script: PathBuf },
    Missing(String),
}

impl Peer {
    /// Writes the script into `dir` and checks that `python3` runs.
    pub fn prepare(dir: &Path) -> anyhow::Result<Peer> {
        let script = dir.join("peer_loader.py");
        std::fs::write(&script, SCRIPT)?;
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        match Command::new(&python).arg("--version").output() {
            Ok(o) if o.status.success() => Ok(Peer::Ready { python, script }),
            _ => Ok(Peer::Missing(format!(
                "{python} is not available: install Python 3 and lxml (`apt-get install python3 python3-lxml` \
                 or `pip install lxml`), then run `python3 scripts/peer_loader.py FEED /tmp/peer.db`"
            ))),
        }
    }

    /// Runs the peer once on `feed` into the fresh SQLite file `db`.
    pub fn run(&self, feed: &Path, db: &Path) -> anyhow::Result<PeerRun> {
        let Peer::Ready { python, script } = self else { anyhow::bail!("the Python peer is not available") };
        let _ = std::fs::remove_file(db);
        let out = Command::new(python).arg(script).arg(feed).arg(db).output()?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            anyhow::bail!("the Python peer failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        parse_line(&stdout).ok_or_else(|| anyhow::anyhow!("the Python peer printed no figure: {stdout}"))
    }
}

/// Reads `peer: 452.9 ms, lxml, 10010 stations, 33631 prices`.
fn parse_line(stdout: &str) -> Option<PeerRun> {
    let line = stdout.lines().find_map(|l| l.strip_prefix("peer: "))?;
    let mut parts = line.split(", ");
    let ms: f64 = parts.next()?.strip_suffix(" ms")?.parse().ok()?;
    let parser = parts.next()?.to_owned();
    Some(PeerRun { elapsed: Duration::from_secs_f64(ms / 1000.0), parser })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_peers_line() {
        let run = parse_line("peer: 452.9 ms, lxml, 10010 stations, 33631 prices\n").expect("a figure");
        assert_eq!(run.elapsed, Duration::from_secs_f64(0.4529));
        assert_eq!(run.parser, "lxml");
        assert!(parse_line("Traceback").is_none());
    }
}
