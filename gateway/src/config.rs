//! The gateway's configuration: every flag (each with a `GATEWAY_*` environment variable) parsed
//! once into a plain [`Config`] that is passed down. Must never be read again below this
//! module: nothing else in the crate touches `std::env`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// 64 MiB: the largest upload (a data item, bundles included) accepted by default.
pub const UPLOAD_BYTES_MAX_DEFAULT: usize = 64 * 1024 * 1024;
/// 1 MiB: the largest GraphQL request body.
pub const GRAPHQL_BYTES_MAX_DEFAULT: usize = 1024 * 1024;
/// Uploads waiting for the writer before new ones get 503.
pub const PENDING_WRITES_MAX_DEFAULT: usize = 4096;

/// Everything the gateway needs to know, decided before it starts.
#[derive(Debug, Clone)]
pub struct Config {
    /// Holds the database, `gateway.redb`.
    pub data_dir: PathBuf,
    /// How often a block is mined; `None` mines only on `GET /mine`.
    pub block_interval: Option<Duration>,
    pub upload_bytes_max: usize,
    pub graphql_bytes_max: usize,
    /// Uploads queued for the writer; past it an upload gets 503.
    pub pending_writes_max: usize,
    /// Name reported as `network` by `GET /info`.
    pub network: String,
}

impl Config {
    /// The defaults, with the database in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            data_dir: data_dir.into(),
            block_interval: Some(Duration::from_secs(1)),
            upload_bytes_max: UPLOAD_BYTES_MAX_DEFAULT,
            graphql_bytes_max: GRAPHQL_BYTES_MAX_DEFAULT,
            pending_writes_max: PENDING_WRITES_MAX_DEFAULT,
            network: "ao-local".to_owned(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} must be at least 1")]
    Zero { name: &'static str },
}

/// The `ao-gateway` command line; every flag also reads a `GATEWAY_*` environment variable.
#[derive(Debug, Parser)]
#[command(
    name = "ao-gateway",
    version,
    about = "Local Arweave stand-in: GraphQL, raw data, uploads"
)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "GATEWAY_LISTEN", default_value = "127.0.0.1:4000")]
    pub listen: SocketAddr,
    /// Directory for the database.
    #[arg(long, env = "GATEWAY_DATA_DIR", default_value = "./gateway-data")]
    pub data_dir: PathBuf,
    /// Milliseconds between mined blocks; 0 mines only on `GET /mine`.
    #[arg(long, env = "GATEWAY_BLOCK_INTERVAL_MS", default_value_t = 1000)]
    pub block_interval_ms: u64,
    /// Largest upload body, bytes.
    #[arg(long, env = "GATEWAY_UPLOAD_BYTES_MAX", default_value_t = UPLOAD_BYTES_MAX_DEFAULT)]
    pub upload_bytes_max: usize,
    /// Largest GraphQL request body, bytes.
    #[arg(long, env = "GATEWAY_GRAPHQL_BYTES_MAX", default_value_t = GRAPHQL_BYTES_MAX_DEFAULT)]
    pub graphql_bytes_max: usize,
    /// Uploads queued for the writer before new ones are refused with 503.
    #[arg(long, env = "GATEWAY_PENDING_WRITES_MAX", default_value_t = PENDING_WRITES_MAX_DEFAULT)]
    pub pending_writes_max: usize,
    /// Network name reported by `GET /info`.
    #[arg(long, env = "GATEWAY_NETWORK", default_value = "ao-local")]
    pub network: String,
}

impl Args {
    /// The listen address and the [`Config`], checked.
    pub fn into_config(self) -> Result<(SocketAddr, Config), ConfigError> {
        for (name, value) in [
            ("--upload-bytes-max", self.upload_bytes_max),
            ("--graphql-bytes-max", self.graphql_bytes_max),
            ("--pending-writes-max", self.pending_writes_max),
        ] {
            if value == 0 {
                return Err(ConfigError::Zero { name });
            }
        }
        let config = Config {
            data_dir: self.data_dir,
            block_interval: (self.block_interval_ms > 0)
                .then(|| Duration::from_millis(self.block_interval_ms)),
            upload_bytes_max: self.upload_bytes_max,
            graphql_bytes_max: self.graphql_bytes_max,
            pending_writes_max: self.pending_writes_max,
            network: self.network,
        };
        Ok((self.listen, config))
    }
}
