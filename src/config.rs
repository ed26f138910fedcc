//! Settings shared by the commands, from flags and `CARBUROAM_*` / `DATABASE_URL` variables.

use std::path::PathBuf;
use std::time::Duration;

/// The official feed with shortages, refreshed about every 10 minutes.
pub const DEFAULT_FEED_URL: &str = "https://donnees.roulez-eco.fr/opendata/instantane_ruptures";

/// The sender of mails when `CARBUROAM_SMTP_FROM` is not set.
pub const DEFAULT_MAIL_FROM: &str = "Carburoam <noreply@localhost>";

/// Where data lives by default: `./data` beside where the server is started.
pub fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}

/// The default database: a SQLite file in the data folder, created on first start.
pub fn default_database_url(data_dir: &std::path::Path) -> String {
    format!("sqlite://{}", data_dir.join("carburoam.db").display())
}

/// How often the scheduler imports the feed: a duration (`10m`, `90s`, `1h`) or `off`
/// ([`crate::domain::parse_every`]), at least 10 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EtlEvery(pub Option<Duration>);

impl std::str::FromStr for EtlEvery {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        crate::domain::parse_every(s, Duration::from_secs(10)).map(EtlEvery)
    }
}

/// How often `serve` refreshes the stations' names from Overpass: a duration (`7d`, `1d`) or
/// `off` ([`crate::domain::parse_every`]). At least an hour: the public Overpass instances are
/// shared, and names change slowly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamesEvery(pub Option<Duration>);

impl std::str::FromStr for NamesEvery {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        crate::domain::parse_every(s, Duration::from_secs(3600)).map(NamesEvery)
    }
}

/// A connection timeout of `serve` (`--header-timeout`, `--idle-timeout`): a duration from 1 s
/// to 1 h (`10s`, `2m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnTimeout(pub Duration);

impl std::str::FromStr for ConnTimeout {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let d = humantime::parse_duration(t).map_err(|e| format!("{t:?} is not a duration like 10s or 1m: {e}"))?;
        if d < Duration::from_secs(1) || d > Duration::from_secs(3600) {
            return Err(format!("{t:?} is out of range: from 1s to 1h"));
        }
        Ok(ConnTimeout(d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_every() {
        assert_eq!("off".parse::<NamesEvery>().unwrap(), NamesEvery(None));
        assert_eq!("7d".parse::<NamesEvery>().unwrap(), NamesEvery(Some(Duration::from_secs(7 * 86_400))));
        assert!("5m".parse::<NamesEvery>().is_err());
        assert!("weekly".parse::<NamesEvery>().is_err());
    }

    #[test]
    fn conn_timeout() {
        assert_eq!("10s".parse::<ConnTimeout>().unwrap(), ConnTimeout(Duration::from_secs(10)));
        assert_eq!("2m".parse::<ConnTimeout>().unwrap(), ConnTimeout(Duration::from_secs(120)));
        for bad in ["0s", "500ms", "2h", "off", ""] {
            assert!(bad.parse::<ConnTimeout>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn etl_every() {
        assert_eq!("off".parse::<EtlEvery>().unwrap(), EtlEvery(None));
        assert_eq!("10m".parse::<EtlEvery>().unwrap(), EtlEvery(Some(Duration::from_secs(600))));
        assert!("2s".parse::<EtlEvery>().is_err());
        assert!("soon".parse::<EtlEvery>().is_err());
    }
}

/// The configuration file: `--config FILE`, else `CARBUROAM_CONFIG`, else `carburoam.toml` in the
/// current folder when there is one.
pub const CONFIG_ENV: &str = "CARBUROAM_CONFIG";
pub const DEFAULT_CONFIG_FILE: &str = "carburoam.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("the configuration file {path} is not valid TOML: {message}")]
    Toml { path: String, message: String },
    #[error("{path}: unknown setting {key:?} (see `carburoam config --print-default` for the list)")]
    Unknown { path: String, key: String },
    #[error("{path}: {key} must be a string, a number or a boolean")]
    Type { path: String, key: String },
}

/// Which configuration file to read, from the raw arguments and the environment.
pub fn config_path(args: &[std::ffi::OsString]) -> Option<PathBuf> {
    let mut it = args.iter().map(|a| a.to_string_lossy().into_owned());
    while let Some(a) = it.next() {
        if a == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(v) = a.strip_prefix("--config=") {
            return Some(PathBuf::from(v));
        }
    }
    if let Some(p) = std::env::var_os(CONFIG_ENV).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let local = PathBuf::from(DEFAULT_CONFIG_FILE);
    local.is_file().then_some(local)
}

/// The long name of every flag of every subcommand (and theirs), `-` written `_`: the keys a
/// configuration file may hold.
fn known_keys(cmd: &clap::Command, out: &mut std::collections::BTreeSet<String>) {
    for a in cmd.get_arguments() {
        if let Some(long) = a.get_long() {
            out.insert(long.replace('-', "_"));
        }
    }
    for s in cmd.get_subcommands() {
        known_keys(s, out);
    }
}

/// Makes the file's values the defaults of the matching flags everywhere in `cmd`, so that the
/// command line, then the environment, still win over the file.
fn set_defaults(cmd: clap::Command, values: &[(String, String)]) -> clap::Command {
    let ids: Vec<(clap::Id, String)> = cmd
        .get_arguments()
        .filter_map(|a| {
            let key = a.get_long()?.replace('-', "_");
            let v = values.iter().find(|(k, _)| *k == key)?;
            Some((a.get_id().clone(), v.1.clone()))
        })
        .collect();
    let mut cmd = ids.into_iter().fold(cmd, |c, (id, v)| c.mut_arg(id, |a| a.default_value(v).required(false)));
    let subs: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_owned()).collect();
    for name in subs {
        cmd = cmd.mut_subcommand(name, |s| set_defaults(s, values));
    }
    cmd
}

/// Reads the configuration file (if any) into `cmd`. Unknown keys are errors, so a typo never
/// silently does nothing.
pub fn apply_file(cmd: clap::Command, path: &std::path::Path) -> Result<clap::Command, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: shown.clone(), source })?;
    let table: toml::Table =
        text.parse().map_err(|e: toml::de::Error| ConfigError::Toml { path: shown.clone(), message: e.to_string() })?;
    let mut known = std::collections::BTreeSet::new();
    known_keys(&cmd, &mut known);
    let mut values = Vec::new();
    for (key, value) in table {
        let v = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            _ => return Err(ConfigError::Type { path: shown, key }),
        };
        if known.contains(&key) {
            values.push((key, v));
        } else {
            return Err(ConfigError::Unknown { path: shown, key });
        }
    }
    Ok(set_defaults(cmd, &values))
}

/// `carburoam config --print-default`: every setting of `serve`, its default, its environment
/// variable and its help, as a TOML file to start from.
pub fn print_default(cmd: &clap::Command) -> String {
    use std::fmt::Write;
    let mut out = String::from(
        "# Carburoam configuration. Pass it with --config FILE (or CARBUROAM_CONFIG), or name it\n\
         # carburoam.toml in the folder the server starts from. Every key can also be given on the\n\
         # command line (--key-name) or in the environment variable shown; the command line wins,\n\
         # then the environment, then this file, then the built-in default.\n\n",
    );
    let Some(serve) = cmd.find_subcommand("serve") else {
        return out;
    };
    // The global settings (the log format) and those of `serve`; the file's own path is no key.
    for a in cmd.get_arguments().chain(serve.get_arguments()) {
        let Some(long) = a.get_long() else { continue };
        if matches!(long, "help" | "version" | "config") {
            continue;
        }
        let key = long.replace('-', "_");
        let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
        for line in help.lines() {
            let _ = writeln!(out, "# {line}");
        }
        if let Some(env) = a.get_env() {
            let _ = writeln!(out, "# env: {}", env.to_string_lossy());
        }
        let default = a.get_default_values().first().map(|v| v.to_string_lossy().into_owned());
        let is_flag = matches!(a.get_action(), clap::ArgAction::SetTrue);
        match (default, is_flag) {
            (_, true) => {
                let _ = writeln!(out, "# {key} = false\n");
            }
            (Some(d), false) => {
                let _ = writeln!(out, "# {key} = {}\n", toml_string(&d));
            }
            (None, false) => {
                let example = match key.as_str() {
                    "database" => "\"postgres://carburoam@localhost/carburoam\"",
                    "public_url" => "\"https://carburoam.example.org\"",
                    "webhook_url" => "\"https://discord.com/api/webhooks/ID/TOKEN\"",
                    "backup_dir" => "\"data/backups\"",
                    "smtp_host" => "\"smtp.example.org\"",
                    "smtp_port" => "587",
                    "smtp_user" => "\"carburoam@example.org\"",
                    "smtp_password" => "\"\"  # keep this file readable by the service user only",
                    "metrics_token" => "\"\"  # a long random string; the scrape sends it as a bearer token",
                    "metrics_bind" => "\"127.0.0.1:9100\"",
                    _ => "\"\"",
                };
                let _ = writeln!(out, "# (no default) for example:\n# {key} = {example}\n");
            }
        }
    }
    out
}

fn toml_string(s: &str) -> String {
    if s.parse::<i64>().is_ok() { s.to_owned() } else { format!("{s:?}") }
}

#[cfg(test)]
mod file_tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(cmd: clap::Command, args: &[&str]) -> crate::cli::Cli {
        use clap::FromArgMatches;
        let m = cmd.try_get_matches_from(args).expect("parse");
        crate::cli::Cli::from_arg_matches(&m).expect("cli")
    }

    #[test]
    fn file_values_are_defaults_below_flags() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "bind = \"0.0.0.0:9000\"\netl_every = \"1h\"\nbehind_proxy = true\nbackup_keep = 3\n")
            .expect("write");
        let cmd = apply_file(crate::cli::Cli::command(), &path).expect("apply");
        let crate::cli::Command::Serve(s) = parse(cmd.clone(), &["carburoam", "serve"]).command else {
            panic!("serve")
        };
        assert_eq!(s.bind, "0.0.0.0:9000");
        assert_eq!(s.etl_every, EtlEvery(Some(Duration::from_secs(3600))));
        assert!(s.behind_proxy);
        assert_eq!(s.backup_keep, 3);
        let crate::cli::Command::Serve(s) = parse(cmd, &["carburoam", "serve", "--bind", "127.0.0.1:1"]).command else {
            panic!("serve")
        };
        assert_eq!(s.bind, "127.0.0.1:1", "the command line wins");
    }

    #[test]
    fn secrets_and_site_settings_come_from_the_file_and_stay_hidden() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "smtp_host = \"smtp.example.org\"\nsmtp_user = \"me\"\nsmtp_password = \"hunter2-secret\"\n\
             metrics_token = \"tok-secret\"\nwebhook_url = \"https://hooks.example/s3cret\"\n\
             tile_url = \"http://127.0.0.1:9/{z}/{x}/{y}.png\"\nsource_url = \"https://git.example/carburoam\"\n",
        )
        .expect("write");
        let cmd = apply_file(crate::cli::Cli::command(), &path).expect("apply");
        let crate::cli::Command::Serve(s) = parse(cmd.clone(), &["carburoam", "serve"]).command else {
            panic!("serve")
        };
        let cfg = s.config();
        use secrecy::ExposeSecret;
        let smtp = cfg.mail.smtp.as_ref().expect("smtp");
        assert_eq!(smtp.password.as_ref().map(|p| p.expose_secret()), Some("hunter2-secret"));
        assert_eq!(cfg.metrics_token.as_ref().map(|p| p.expose_secret()), Some("tok-secret"));
        assert_eq!(cfg.site.tile_url, "http://127.0.0.1:9/{z}/{x}/{y}.png");
        assert_eq!(cfg.site.source_url, "https://git.example/carburoam");
        assert_eq!(cfg.site.tile_attribution, crate::web::state::DEFAULT_TILE_ATTRIBUTION);
        let debug = format!("{cfg:?}");
        for secret in ["hunter2", "tok-secret", "s3cret"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
        // Nor in the help, where file values show as defaults.
        let help = cmd.find_subcommand("serve").expect("serve").clone().render_long_help().to_string();
        assert!(help.contains("--metrics-bind"), "{help}");
        for secret in ["hunter2", "tok-secret", "s3cret"] {
            assert!(!help.contains(secret), "{secret} in {help}");
        }
    }

    #[test]
    fn unknown_keys_and_bad_toml_are_errors() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "bnid = \"x\"\n").expect("write");
        let e = apply_file(crate::cli::Cli::command(), &path).expect_err("typo");
        assert!(e.to_string().contains("unknown setting \"bnid\""), "{e}");
        std::fs::write(&path, "bind = \n").expect("write");
        assert!(matches!(apply_file(crate::cli::Cli::command(), &path), Err(ConfigError::Toml { .. })));
    }

    #[test]
    fn the_default_file_lists_every_setting_and_parses() {
        let cli = crate::cli::Cli::command();
        let text = print_default(&cli);
        // Every flag of `serve` and every global one but `--config`, with its environment variable.
        let serve = cli.find_subcommand("serve").expect("serve");
        for a in cli.get_arguments().chain(serve.get_arguments()) {
            let Some(long) = a.get_long().filter(|l| !matches!(*l, "help" | "version" | "config")) else {
                continue;
            };
            let key = long.replace('-', "_");
            assert!(text.contains(&format!("# {key} = ")), "{key} in:\n{text}");
            if let Some(env) = a.get_env() {
                assert!(text.contains(&format!("env: {}\n", env.to_string_lossy())), "{env:?} in:\n{text}");
            }
        }
        assert!(text.contains("# log_format = \"text\"\n"), "the global log format in:\n{text}");
        for key in [
            "bind",
            "feed_url",
            "etl_every",
            "public_url",
            "smtp_host",
            "smtp_password",
            "backup_keep",
            "webhook_url",
            "tile_url",
            "tile_attribution",
            "source_url",
            "metrics_token",
            "metrics_bind",
            "backfill_days",
            "archive_url",
            "names_every",
            "names_url",
            "alert_allow_hosts",
            "header_timeout",
            "idle_timeout",
            "max_connections",
            "max_connections_per_address",
            "router",
            "router_url",
        ] {
            assert!(text.contains(&format!("# {key} = ")), "{key} in:\n{text}");
        }
        assert!(text.contains("env: CARBUROAM_BIND"));
        for env in [
            "CARBUROAM_TILE_URL",
            "CARBUROAM_SOURCE_URL",
            "CARBUROAM_METRICS_TOKEN",
            "CARBUROAM_SMTP_PASSWORD",
            "CARBUROAM_HEADER_TIMEOUT",
            "CARBUROAM_IDLE_TIMEOUT",
            "CARBUROAM_MAX_CONNECTIONS",
            "CARBUROAM_MAX_CONNECTIONS_PER_ADDRESS",
        ] {
            assert!(text.contains(&format!("env: {env}\n")), "{env} in:\n{text}");
        }
        // Uncommented, it is a valid configuration file.
        let uncommented: String = text
            .lines()
            .filter_map(|l| l.strip_prefix("# ").filter(|l| l.contains(" = ")))
            .collect::<Vec<_>>()
            .join("\n");
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, uncommented).expect("write");
        apply_file(crate::cli::Cli::command(), &path).expect("the printed defaults are a valid file");
    }
}
