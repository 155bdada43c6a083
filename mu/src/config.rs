//! The MU's configuration: every flag (each with an environment variable) parsed once into a
//! plain [`Config`] that is passed down. Must never be read again below this module: nothing
//! else in the crate touches `std::env`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// 10 MiB: the largest item the MU accepts (PROTOCOL.md §5).
pub const ITEM_BYTES_MAX_DEFAULT: usize = 10 * 1024 * 1024;
/// How many pushes deep one user message may go before the MU stops pushing its outboxes.
pub const PUSH_DEPTH_MAX_DEFAULT: u32 = 64;

/// Everything the MU needs to know, decided before it starts.
#[derive(Debug, Clone)]
pub struct Config {
    /// Holds the database (`mu.redb`) and, unless `wallet` is given, `wallet.json`.
    pub data_dir: PathBuf,
    /// A JWK wallet file (Arweave RSA or ed25519). Without it the MU uses (or creates) an
    /// ed25519 wallet in `data_dir`. Pushed items are signed with it.
    pub wallet: Option<PathBuf>,
    /// The CU results are pulled from.
    pub cu_url: String,
    /// The gateway: GraphQL for processes and Scheduler-Location items, uploads of messages
    /// addressed to wallets.
    pub gateway_url: Option<String>,
    /// Path uploads are POSTed to on the gateway (a raw data item).
    pub upload_path: String,
    /// SUs known without a look-up; each is asked for its address at start.
    pub su_urls: Vec<String>,
    /// Scheduler address → URL pairs that override Scheduler-Location items.
    pub schedulers: Vec<(String, String)>,
    /// How long a Scheduler-Location without `Time-To-Live` stays cached.
    pub location_ttl_default: Duration,
    pub item_bytes_max: usize,
    /// Pushes deeper than this (counted from the user's message) are not made.
    pub push_depth_max: u32,
    /// Tasks run at once (each is one HTTP exchange with an SU, the CU or the gateway).
    pub workers: usize,
    /// First delay after a failed task; it doubles up to `retry_max`.
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// A task that failed this many times in a row is set aside (kept on disk, counted).
    pub attempts_max: u32,
    /// How often monitored processes are asked for new cron results.
    pub monitor_interval: Duration,
    /// Every upstream request gives up after this long.
    pub request_timeout: Duration,
}

impl Config {
    /// The defaults, with the database in `data_dir`, results from `cu_url`.
    pub fn new(data_dir: impl Into<PathBuf>, cu_url: impl Into<String>) -> Config {
        Config {
            data_dir: data_dir.into(),
            wallet: None,
            cu_url: trim(cu_url.into()),
            gateway_url: None,
            upload_path: "/tx".to_owned(),
            su_urls: Vec::new(),
            schedulers: Vec::new(),
            location_ttl_default: Duration::from_secs(3600),
            item_bytes_max: ITEM_BYTES_MAX_DEFAULT,
            push_depth_max: PUSH_DEPTH_MAX_DEFAULT,
            workers: 64,
            retry_initial: Duration::from_millis(250),
            retry_max: Duration::from_secs(60),
            attempts_max: 40,
            monitor_interval: Duration::from_secs(1),
            request_timeout: Duration::from_secs(60),
        }
    }
}

fn trim(url: String) -> String {
    url.trim_end_matches('/').to_owned()
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--scheduler must be ADDRESS=URL, not {0:?}")]
    BadScheduler(String),
    #[error("{name} must be at least 1")]
    Zero { name: &'static str },
}

/// The `ao-mu` command line; every flag also reads an `MU_*` environment variable.
#[derive(Debug, Parser)]
#[command(name = "ao-mu", version, about = "AO messenger unit")]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "MU_LISTEN", default_value = "127.0.0.1:3004")]
    pub listen: SocketAddr,
    /// Directory for the database and the generated wallet.
    #[arg(long, env = "MU_DATA_DIR", default_value = "./mu-data")]
    pub data_dir: PathBuf,
    /// JWK wallet file (Arweave RSA or ed25519 OKP). Default: `<data-dir>/wallet.json`,
    /// an ed25519 key created on first run.
    #[arg(long, env = "MU_WALLET")]
    pub wallet: Option<PathBuf>,
    /// The CU results are read from.
    #[arg(long, env = "MU_CU_URL", default_value = "http://127.0.0.1:6363")]
    pub cu_url: String,
    /// Gateway base URL (GraphQL look-ups, uploads of messages to wallets).
    #[arg(long, env = "MU_GATEWAY_URL")]
    pub gateway_url: Option<String>,
    /// Path on the gateway a raw data item is uploaded to.
    #[arg(long, env = "MU_UPLOAD_PATH", default_value = "/tx")]
    pub upload_path: String,
    /// A known SU (repeatable, or comma-separated in the env); asked for its address at start.
    #[arg(long = "su-url", env = "MU_SU_URLS", value_delimiter = ',')]
    pub su_urls: Vec<String>,
    /// ADDRESS=URL: the SU of a scheduler address, overriding its Scheduler-Location (repeatable).
    #[arg(long = "scheduler", env = "MU_SCHEDULERS", value_delimiter = ',')]
    pub schedulers: Vec<String>,
    /// Largest accepted item, bytes.
    #[arg(long, env = "MU_ITEM_BYTES_MAX", default_value_t = ITEM_BYTES_MAX_DEFAULT)]
    pub item_bytes_max: usize,
    /// Pushes deeper than this below a user's message are not made (message-storm bound).
    #[arg(long, env = "MU_PUSH_DEPTH_MAX", default_value_t = PUSH_DEPTH_MAX_DEFAULT)]
    pub push_depth_max: u32,
    /// Push tasks run at once.
    #[arg(long, env = "MU_WORKERS", default_value_t = 64)]
    pub workers: usize,
    /// First retry delay of a failed push, ms (doubles up to --retry-max-ms).
    #[arg(long, env = "MU_RETRY_MS", default_value_t = 250)]
    pub retry_ms: u64,
    #[arg(long, env = "MU_RETRY_MAX_MS", default_value_t = 60_000)]
    pub retry_max_ms: u64,
    /// Failures in a row after which a push is set aside (kept on disk).
    #[arg(long, env = "MU_ATTEMPTS_MAX", default_value_t = 40)]
    pub attempts_max: u32,
    /// How often monitored processes are polled for cron results, ms.
    #[arg(long, env = "MU_MONITOR_INTERVAL_MS", default_value_t = 1000)]
    pub monitor_interval_ms: u64,
    /// Time limit of every request to an SU, the CU or the gateway, ms.
    #[arg(long, env = "MU_REQUEST_TIMEOUT_MS", default_value_t = 60_000)]
    pub request_timeout_ms: u64,
}

impl Args {
    /// The listen address and the configuration.
    pub fn into_config(self) -> Result<(SocketAddr, Config), ConfigError> {
        for (name, value) in [
            ("--workers", self.workers as u64),
            ("--attempts-max", u64::from(self.attempts_max)),
            ("--monitor-interval-ms", self.monitor_interval_ms),
            ("--request-timeout-ms", self.request_timeout_ms),
            ("--item-bytes-max", self.item_bytes_max as u64),
        ] {
            if value == 0 {
                return Err(ConfigError::Zero { name });
            }
        }
        let schedulers = self
            .schedulers
            .iter()
            .filter(|s| !s.is_empty())
            .map(|pair| match pair.split_once('=') {
                Some((address, url)) if !address.is_empty() && !url.is_empty() => {
                    Ok((address.to_owned(), trim(url.to_owned())))
                }
                _ => Err(ConfigError::BadScheduler(pair.clone())),
            })
            .collect::<Result<_, _>>()?;
        let mut config = Config::new(self.data_dir, self.cu_url);
        config.wallet = self.wallet;
        config.gateway_url = self.gateway_url.map(trim);
        config.upload_path = self.upload_path;
        config.su_urls = self
            .su_urls
            .into_iter()
            .filter(|s| !s.is_empty())
            .map(trim)
            .collect();
        config.schedulers = schedulers;
        config.item_bytes_max = self.item_bytes_max;
        config.push_depth_max = self.push_depth_max;
        config.workers = self.workers;
        config.retry_initial = Duration::from_millis(self.retry_ms.max(1));
        config.retry_max = Duration::from_millis(self.retry_max_ms.max(self.retry_ms));
        config.attempts_max = self.attempts_max;
        config.monitor_interval = Duration::from_millis(self.monitor_interval_ms);
        config.request_timeout = Duration::from_millis(self.request_timeout_ms);
        Ok((self.listen, config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, ConfigError> {
        let mut all = vec!["ao-mu"];
        all.extend_from_slice(args);
        Args::try_parse_from(all)
            .unwrap()
            .into_config()
            .map(|(_, c)| c)
    }

    #[test]
    fn schedulers_and_su_urls_parse() {
        let config = parse(&[
            "--su-url",
            "http://a:1/,http://b:2",
            "--scheduler",
            "addr1=http://c:3/",
        ])
        .unwrap();
        assert_eq!(config.su_urls, ["http://a:1", "http://b:2"]);
        assert_eq!(
            config.schedulers,
            [("addr1".to_owned(), "http://c:3".to_owned())]
        );
    }

    #[test]
    fn bad_values_are_named() {
        let err = parse(&["--scheduler", "nourl"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--scheduler must be ADDRESS=URL, not \"nourl\""
        );
        let err = parse(&["--workers", "0"]).unwrap_err();
        assert_eq!(err.to_string(), "--workers must be at least 1");
    }
}
