//! The SU's configuration: every flag (each with an environment variable) parsed once into a
//! plain [`Config`] that is passed down. Must never be read again below this module: nothing
//! else in the crate touches `std::env`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::outbox::UPLOAD_BATCH_MAX;

/// 10 MiB: the largest Process item accepted by default (the MU's limit too).
pub const PROCESS_BYTES_MAX_DEFAULT: usize = 10 * 1024 * 1024;
/// Items per schedule page when the client gives no `limit`.
pub const PAGE_LIMIT_DEFAULT: usize = 100;
/// The largest `limit` a schedule page honours.
pub const PAGE_LIMIT_MAX: usize = 1000;

/// Where ordered items and assignments go for permanent storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageConfig {
    /// No permanent storage: the durable outbox keeps every entry until one is configured.
    None,
    /// POST each raw data item to `{url}{path}` (`application/octet-stream`); 2xx confirms.
    Http { url: String, path: String },
    /// Bundle items into Arweave transactions signed by an Arweave wallet and post them to a
    /// node (or arlocal).
    Arweave(ArweaveConfig),
}

/// An Arweave node and the wallet that pays for the transactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArweaveConfig {
    /// Base URL of a node, e.g. `https://arweave.net`, without a trailing slash.
    pub url: String,
    /// An Arweave RSA JWK; ed25519 wallets are refused at start.
    pub wallet: PathBuf,
    /// Items per bundle transaction (at most the drain's batch, 64).
    pub bundle_items_max: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayConfig {
    /// Base URL, e.g. `https://arweave.net`, without a trailing slash.
    pub url: String,
    /// Path of a raw data item, `{id}` replaced by the item id (default `/raw/{id}`).
    pub item_path: String,
    /// How often `/info` is read for the block height.
    pub height_refresh: Duration,
}

/// Everything the SU needs to know, decided before it starts.
#[derive(Debug, Clone)]
pub struct Config {
    /// Holds the database (`su.redb`) and, unless `wallet` is given, `wallet.json`.
    pub data_dir: PathBuf,
    /// A JWK wallet file (Arweave RSA or ed25519). Without it the SU uses (or creates) an
    /// ed25519 wallet in `data_dir`.
    pub wallet: Option<PathBuf>,
    /// The URL published in the `Scheduler-Location` item; default `http://{listen address}`.
    pub public_url: Option<String>,
    /// `Time-To-Live` of the `Scheduler-Location` item, in ms.
    pub location_ttl_ms: u64,
    pub gateway: Option<GatewayConfig>,
    pub storage: StorageConfig,
    /// First delay after a failed upload; it doubles up to `upload_retry_max`.
    pub upload_retry_initial: Duration,
    pub upload_retry_max: Duration,
    pub process_bytes_max: usize,
    pub message_bytes_max: usize,
    pub connections_max: usize,
    /// Ordered items waiting for the writer; past it requests get 503.
    pub pending_writes_max: usize,
}

impl Config {
    /// The defaults, with the database in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            data_dir: data_dir.into(),
            wallet: None,
            public_url: None,
            location_ttl_ms: 86_400_000,
            gateway: None,
            storage: StorageConfig::None,
            upload_retry_initial: Duration::from_millis(500),
            upload_retry_max: Duration::from_secs(60),
            process_bytes_max: PROCESS_BYTES_MAX_DEFAULT,
            message_bytes_max: PROCESS_BYTES_MAX_DEFAULT,
            connections_max: 4096,
            pending_writes_max: 8192,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--storage http needs --upload-url")]
    UploadUrlMissing,
    #[error("--storage arweave needs --arweave-url")]
    ArweaveUrlMissing,
    #[error(
        "--storage arweave needs --arweave-wallet (an Arweave RSA JWK that pays for the uploads)"
    )]
    ArweaveWalletMissing,
    #[error("--storage must be `none`, `http` or `arweave`, not {0:?}")]
    UnknownStorage(String),
    #[error("{name} must be at least 1")]
    Zero { name: &'static str },
}

/// The `ao-su` command line; every flag also reads an `SU_*` environment variable.
#[derive(Debug, Parser)]
#[command(name = "ao-su", version, about = "AO scheduler unit")]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "SU_LISTEN", default_value = "127.0.0.1:9000")]
    pub listen: SocketAddr,
    /// Directory for the database and the generated wallet.
    #[arg(long, env = "SU_DATA_DIR", default_value = "./su-data")]
    pub data_dir: PathBuf,
    /// JWK wallet file (Arweave RSA or ed25519 OKP). Default: `<data-dir>/wallet.json`,
    /// an ed25519 key created on first run.
    #[arg(long, env = "SU_WALLET")]
    pub wallet: Option<PathBuf>,
    /// Public URL published in the Scheduler-Location item.
    #[arg(long, env = "SU_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Time-To-Live of the Scheduler-Location item, ms.
    #[arg(long, env = "SU_LOCATION_TTL_MS", default_value_t = 86_400_000)]
    pub location_ttl_ms: u64,
    /// Gateway base URL (block height from /info; items to assign from --gateway-item-path).
    #[arg(long, env = "SU_GATEWAY_URL")]
    pub gateway_url: Option<String>,
    /// Path of a raw data item on the gateway; `{id}` is replaced.
    #[arg(long, env = "SU_GATEWAY_ITEM_PATH", default_value = "/raw/{id}")]
    pub gateway_item_path: String,
    /// Seconds between block-height refreshes.
    #[arg(long, env = "SU_HEIGHT_REFRESH_SECS", default_value_t = 30)]
    pub height_refresh_secs: u64,
    /// Permanent storage adapter: `none` (keep the outbox), `http` (a bundler-style URL) or
    /// `arweave` (bundle transactions posted to an Arweave node).
    #[arg(long, env = "SU_STORAGE", default_value = "none")]
    pub storage: String,
    /// Base URL of the upload target (bundler or gateway) for `--storage http`.
    #[arg(long, env = "SU_UPLOAD_URL")]
    pub upload_url: Option<String>,
    /// Path each raw item is POSTed to.
    #[arg(long, env = "SU_UPLOAD_PATH", default_value = "/tx")]
    pub upload_path: String,
    /// Arweave node (or arlocal) for `--storage arweave`.
    #[arg(long, env = "SU_ARWEAVE_URL")]
    pub arweave_url: Option<String>,
    /// Arweave RSA JWK wallet that signs and pays for the bundle transactions.
    #[arg(long, env = "SU_ARWEAVE_WALLET")]
    pub arweave_wallet: Option<PathBuf>,
    /// Items per bundle transaction (1 to 64).
    #[arg(long, env = "SU_ARWEAVE_BUNDLE_ITEMS_MAX", default_value_t = UPLOAD_BATCH_MAX)]
    pub arweave_bundle_items_max: usize,
    /// First retry delay after a failed upload, ms (doubles up to --upload-retry-max-ms).
    #[arg(long, env = "SU_UPLOAD_RETRY_MS", default_value_t = 500)]
    pub upload_retry_ms: u64,
    #[arg(long, env = "SU_UPLOAD_RETRY_MAX_MS", default_value_t = 60_000)]
    pub upload_retry_max_ms: u64,
    /// Largest Process item, bytes.
    #[arg(long, env = "SU_PROCESS_BYTES_MAX", default_value_t = PROCESS_BYTES_MAX_DEFAULT)]
    pub process_bytes_max: usize,
    /// Largest Message item, bytes.
    #[arg(long, env = "SU_MESSAGE_BYTES_MAX", default_value_t = PROCESS_BYTES_MAX_DEFAULT)]
    pub message_bytes_max: usize,
    /// Open connections; more are answered 503 and closed.
    #[arg(long, env = "SU_CONNECTIONS_MAX", default_value_t = 4096)]
    pub connections_max: usize,
    /// Ordered items waiting to be written; more are answered 503.
    #[arg(long, env = "SU_PENDING_WRITES_MAX", default_value_t = 8192)]
    pub pending_writes_max: usize,
}

impl Args {
    /// The listen address and the configuration.
    pub fn into_config(self) -> Result<(SocketAddr, Config), ConfigError> {
        let storage = match self.storage.as_str() {
            "none" => StorageConfig::None,
            "http" => StorageConfig::Http {
                url: trim_slash(self.upload_url.ok_or(ConfigError::UploadUrlMissing)?),
                path: self.upload_path,
            },
            "arweave" => StorageConfig::Arweave(ArweaveConfig {
                url: trim_slash(self.arweave_url.ok_or(ConfigError::ArweaveUrlMissing)?),
                wallet: self
                    .arweave_wallet
                    .ok_or(ConfigError::ArweaveWalletMissing)?,
                bundle_items_max: self.arweave_bundle_items_max.min(UPLOAD_BATCH_MAX),
            }),
            other => return Err(ConfigError::UnknownStorage(other.to_owned())),
        };
        for (name, value) in [
            ("--connections-max", self.connections_max),
            ("--pending-writes-max", self.pending_writes_max),
            ("--process-bytes-max", self.process_bytes_max),
            ("--message-bytes-max", self.message_bytes_max),
            ("--arweave-bundle-items-max", self.arweave_bundle_items_max),
        ] {
            if value == 0 {
                return Err(ConfigError::Zero { name });
            }
        }
        let config = Config {
            data_dir: self.data_dir,
            wallet: self.wallet,
            public_url: self.public_url,
            location_ttl_ms: self.location_ttl_ms,
            gateway: self.gateway_url.map(|url| GatewayConfig {
                url: trim_slash(url),
                item_path: self.gateway_item_path,
                height_refresh: Duration::from_secs(self.height_refresh_secs.max(1)),
            }),
            storage,
            upload_retry_initial: Duration::from_millis(self.upload_retry_ms.max(1)),
            upload_retry_max: Duration::from_millis(self.upload_retry_max_ms.max(1)),
            process_bytes_max: self.process_bytes_max,
            message_bytes_max: self.message_bytes_max,
            connections_max: self.connections_max,
            pending_writes_max: self.pending_writes_max,
        };
        Ok((self.listen, config))
    }
}

fn trim_slash(url: String) -> String {
    url.trim_end_matches('/').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, ConfigError> {
        let args = Args::try_parse_from(std::iter::once("ao-su").chain(args.iter().copied()))
            .expect("flags parse");
        args.into_config().map(|(_, config)| config)
    }

    #[test]
    fn arweave_storage_needs_a_node_and_a_wallet() {
        assert!(matches!(
            parse(&["--storage", "arweave", "--arweave-wallet", "w.json"]),
            Err(ConfigError::ArweaveUrlMissing)
        ));
        assert!(matches!(
            parse(&["--storage", "arweave", "--arweave-url", "http://n"]),
            Err(ConfigError::ArweaveWalletMissing)
        ));
        let config = parse(&[
            "--storage",
            "arweave",
            "--arweave-url",
            "http://127.0.0.1:1984/",
            "--arweave-wallet",
            "w.json",
            "--arweave-bundle-items-max",
            "500",
        ])
        .unwrap();
        assert_eq!(
            config.storage,
            StorageConfig::Arweave(ArweaveConfig {
                url: "http://127.0.0.1:1984".into(),
                wallet: "w.json".into(),
                bundle_items_max: UPLOAD_BATCH_MAX,
            })
        );
        assert!(matches!(
            parse(&["--storage", "s3"]),
            Err(ConfigError::UnknownStorage(_))
        ));
    }
}
