//! `carburoam backup` and `carburoam restore` (SQLite).

use super::*;

#[derive(Args, Debug)]
pub struct BackupArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// The file to write; it must not exist.
    pub path: PathBuf,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// A backup made by `carburoam backup` or the scheduled backups.
    pub path: PathBuf,
}

/// `carburoam backup PATH`: one summary line on stdout. Opens the database without migrating
/// it: a binary newer than the running server must not change the schema under it.
pub(super) async fn backup(args: BackupArgs) -> anyhow::Result<ExitCode> {
    use crate::backup::{self, BackupError};
    let url = args.db.url();
    let Some(file) = backup::sqlite_file(&url)? else {
        let command = backup::pg_dump_command_for_url(&url, &args.path);
        eprintln!("error: {}", BackupError::Postgres { command });
        return Ok(ExitCode::FAILURE);
    };
    if !file.is_file() {
        anyhow::bail!(BackupError::NoDatabase(file));
    }
    let started = std::time::Instant::now();
    let db = Db::connect_without_migrating(&url).await?;
    let written = backup::write_backup(&db, &args.path).await;
    db.close().await;
    let f = written?;
    println!(
        "backed up {} to {}: {} in {:.2} s (integrity ok, schema version {})",
        file.display(),
        f.path.display(),
        backup::human_size(f.size),
        started.elapsed().as_secs_f64(),
        crate::db::latest_migration(crate::db::Backend::Sqlite),
    );
    Ok(ExitCode::SUCCESS)
}

/// `carburoam restore PATH`: what it did, on stdout.
pub(super) async fn restore(args: RestoreArgs) -> anyhow::Result<ExitCode> {
    let report = crate::backup::restore(&args.path, &args.db.url()).await?;
    println!("{report}");
    Ok(ExitCode::SUCCESS)
}
