//! A whole AO network on one machine: the gateway, the SU, the CU and the MU, each the unit's
//! own `run` on its own listener, wired to one another by URL, with the default process library
//! published as a Module item. Owns: the data-directory layout (one subdirectory per unit, each
//! unit's wallet created there on first run), the start order, publishing the library, the
//! summary, and stopping the units in reverse order. Must never: let one unit reach another
//! except over HTTP (operators run them on separate machines with the same code), or hide a
//! unit that failed (the first failure stops the network and is returned).
//!
//! Starting again on the same data directory resumes every process: the units keep their own
//! state, and the library's Module item is signed by an ed25519 wallet (deterministic
//! signatures, no anchor), so the same library always has the same id.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ao_core::{DataItem, ItemBuilder, Signer};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The `Name` tag of the library's Module item, which the aos shell looks the module up by.
pub const MODULE_NAME: &str = "ao-rs process library";
/// The summary file written into the data directory once the network is up.
pub const SUMMARY_FILE: &str = "localnet.json";
/// How long start-up waits for a unit to answer its first request.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the units listen. Port 0 picks a free port (tests).
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub gateway: u16,
    pub su: u16,
    pub cu: u16,
    pub mu: u16,
}

impl Ports {
    /// The fixed local ports the aos shell and the README assume.
    pub const DEFAULT: Ports = Ports {
        gateway: 4000,
        su: 9000,
        cu: 6363,
        mu: 3004,
    };
    /// Free ports chosen by the system.
    pub const ANY: Ports = Ports {
        gateway: 0,
        su: 0,
        cu: 0,
        mu: 0,
    };
}

#[derive(Debug, Clone)]
pub struct Config {
    /// Holds `gateway/`, `su/`, `cu/`, `mu/` and `publisher/` (the library's signer).
    pub data_dir: PathBuf,
    pub host: IpAddr,
    pub ports: Ports,
    /// How often the gateway mines a block.
    pub block_interval: Duration,
}

impl Config {
    pub fn new(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            data_dir: data_dir.into(),
            host: IpAddr::from([127, 0, 0, 1]),
            ports: Ports::DEFAULT,
            block_interval: Duration::from_secs(1),
        }
    }
}

/// What a user of the network needs to know, printed at start and written to
/// [`SUMMARY_FILE`].
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub gateway_url: String,
    pub su_url: String,
    pub cu_url: String,
    pub mu_url: String,
    /// The SU's wallet address: a process's `Scheduler` tag.
    pub scheduler: String,
    /// The MU's wallet address: the `Authority` a process trusts for pushed messages.
    pub authority: String,
    /// The id of the default process library's Module item.
    pub module: String,
    pub data_dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum LocalnetError {
    #[error(
        "cannot listen on {address} for the {unit}: {source} (another network running? stop it, or choose other ports with --gateway-port, --su-port, --cu-port, --mu-port)"
    )]
    Bind {
        unit: &'static str,
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("gateway: {0}")]
    Gateway(#[from] gateway::GatewayError),
    #[error("SU: {0}")]
    Su(#[from] su::SuError),
    #[error("CU: {0}")]
    Cu(#[from] cu::CuError),
    #[error("MU: {0}")]
    Mu(#[from] mu::MuError),
    #[error("the {0} stopped unexpectedly")]
    Stopped(&'static str),
    #[error("the {unit} at {url} did not answer within {READY_TIMEOUT:?}: {detail}")]
    NotReady {
        unit: &'static str,
        url: String,
        detail: String,
    },
    #[error("cannot build an HTTP client: {0}")]
    HttpClient(reqwest::Error),
    #[error("the {unit} answered without its {field}")]
    Answer {
        unit: &'static str,
        field: &'static str,
    },
    #[error("publisher wallet: {0}")]
    Wallet(#[from] ao_unit::wallet::KeyError),
    #[error("cannot sign the library's Module item: {0}")]
    Sign(#[from] ao_core::item::BuildError),
    #[error("publishing the library to {url}: {detail}")]
    Publish { url: String, detail: String },
    #[error("cannot write {path}: {source}")]
    Summary {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// How the units of a local network are configured to reach one another: the one place that
/// says it, for [`Localnet`] and for benchmarks that run each unit in its own process.
pub mod wiring {
    use std::path::Path;
    use std::time::Duration;

    /// The gateway, mining a block every `block_interval`.
    pub fn gateway(dir: &Path, block_interval: Duration) -> gateway::Config {
        let mut config = gateway::Config::new(dir);
        config.block_interval = Some(block_interval);
        config
    }

    /// The SU, reading items from and uploading its outbox to the gateway.
    pub fn su(dir: &Path, gateway_url: &str) -> su::Config {
        let mut config = su::Config::new(dir);
        config.gateway = Some(su::config::GatewayConfig {
            url: gateway_url.to_owned(),
            item_path: "/item/{id}".into(),
            height_refresh: Duration::from_secs(1),
        });
        config.storage = su::StorageConfig::Http {
            url: gateway_url.to_owned(),
            path: "/tx".into(),
        };
        config
    }

    /// The CU, scheduled by the SU, modules from the gateway.
    pub fn cu(dir: &Path, su_url: &str, gateway_url: &str) -> cu::Config {
        cu::Config::new(dir, su_url, gateway_url)
    }

    /// The MU, knowing the CU, the gateway and the one SU.
    pub fn mu(dir: &Path, cu_url: &str, gateway_url: &str, su_url: &str) -> mu::Config {
        let mut config = mu::Config::new(dir, cu_url);
        config.gateway_url = Some(gateway_url.to_owned());
        config.su_urls = vec![su_url.to_owned()];
        config
    }
}

/// One running unit: its shutdown token and its task.
struct Unit {
    name: &'static str,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), LocalnetError>>,
}

/// A running network. [`Localnet::stop`] shuts it down; dropping it leaves the units running
/// until the runtime ends.
pub struct Localnet {
    summary: Summary,
    /// In start order: gateway, SU, CU, MU.
    units: Vec<Unit>,
    /// Cancelled when any unit's `run` returns.
    unit_stopped: CancellationToken,
}

impl Localnet {
    /// Starts every unit, publishes the library, writes the summary file, and returns once the
    /// network answers.
    pub async fn start(config: Config) -> Result<Localnet, LocalnetError> {
        let dir = &config.data_dir;
        create_dir(dir)?;
        let mut net = Localnet {
            summary: Summary {
                gateway_url: String::new(),
                su_url: String::new(),
                cu_url: String::new(),
                mu_url: String::new(),
                scheduler: String::new(),
                authority: String::new(),
                module: String::new(),
                data_dir: dir.clone(),
            },
            units: Vec::new(),
            unit_stopped: CancellationToken::new(),
        };
        match net.start_units(&config).await {
            Ok(()) => Ok(net),
            Err(e) => {
                net.stop().await.ok();
                Err(e)
            }
        }
    }

    async fn start_units(&mut self, config: &Config) -> Result<(), LocalnetError> {
        let dir = &config.data_dir;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(LocalnetError::HttpClient)?;

        let (listener, gateway_url) = bind("gateway", config.host, config.ports.gateway).await?;
        let gateway_config = wiring::gateway(&dir.join("gateway"), config.block_interval);
        self.spawn("gateway", |s| async move {
            Ok(gateway::run(gateway_config, listener, s).await?)
        });
        ready(&client, "gateway", &format!("{gateway_url}/info")).await?;

        let (listener, su_url) = bind("SU", config.host, config.ports.su).await?;
        let su_config = wiring::su(&dir.join("su"), &gateway_url);
        self.spawn("SU", |s| async move {
            Ok(su::run(su_config, listener, s).await?)
        });
        let su_info = ready(&client, "SU", &format!("{su_url}/")).await?;

        let (listener, cu_url) = bind("CU", config.host, config.ports.cu).await?;
        let cu_config = wiring::cu(&dir.join("cu"), &su_url, &gateway_url);
        self.spawn("CU", |s| async move {
            Ok(cu::run(cu_config, listener, s).await?)
        });
        ready(&client, "CU", &format!("{cu_url}/")).await?;

        let (listener, mu_url) = bind("MU", config.host, config.ports.mu).await?;
        let mu_config = wiring::mu(&dir.join("mu"), &cu_url, &gateway_url, &su_url);
        self.spawn("MU", |s| async move {
            Ok(mu::run(mu_config, listener, s).await?)
        });
        let mu_health = ready(&client, "MU", &format!("{mu_url}/health")).await?;

        let publisher = ao_unit::wallet::load_or_create(None, &dir.join("publisher"))?;
        let module = publish_library(&client, &gateway_url, &publisher).await?;
        self.summary = Summary {
            gateway_url,
            su_url,
            cu_url,
            mu_url,
            scheduler: string_field(&su_info, "SU", "address")?,
            authority: string_field(&mu_health, "MU", "address")?,
            module: module.to_string(),
            data_dir: dir.clone(),
        };
        let path = dir.join(SUMMARY_FILE);
        let json = serde_json::to_vec_pretty(&self.summary).expect("a summary serializes");
        std::fs::write(&path, json).map_err(|source| LocalnetError::Summary { path, source })?;
        Ok(())
    }

    fn spawn<F>(&mut self, name: &'static str, run: impl FnOnce(CancellationToken) -> F)
    where
        F: Future<Output = Result<(), LocalnetError>> + Send + 'static,
    {
        let shutdown = CancellationToken::new();
        let unit = run(shutdown.clone());
        let stopped = self.unit_stopped.clone();
        let task = tokio::spawn(async move {
            let result = unit.await;
            stopped.cancel();
            result
        });
        self.units.push(Unit {
            name,
            shutdown,
            task,
        });
    }

    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Runs until `shutdown` is cancelled or a unit stops on its own (which only an error
    /// does), then stops every unit and returns the first error.
    pub async fn run_until(self, shutdown: CancellationToken) -> Result<(), LocalnetError> {
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = self.unit_stopped.cancelled() => {}
        }
        self.stop().await
    }

    /// Stops the units in reverse start order (MU, CU, SU, gateway), each finishing its work
    /// in hand, and returns the first error any of them reported.
    pub async fn stop(mut self) -> Result<(), LocalnetError> {
        let mut first = None;
        while let Some(unit) = self.units.pop() {
            let stopped_early = !unit.shutdown.is_cancelled() && unit.task.is_finished();
            unit.shutdown.cancel();
            let result = match unit.task.await {
                Ok(Ok(())) if stopped_early => Err(LocalnetError::Stopped(unit.name)),
                Ok(result) => result,
                Err(_) => Err(LocalnetError::Stopped(unit.name)),
            };
            if let Err(e) = result {
                tracing::warn!(unit = unit.name, error = %e, "unit stopped with an error");
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

fn create_dir(path: &Path) -> Result<(), LocalnetError> {
    std::fs::create_dir_all(path).map_err(|source| LocalnetError::DataDir {
        path: path.to_owned(),
        source,
    })
}

async fn bind(
    unit: &'static str,
    host: IpAddr,
    port: u16,
) -> Result<(TcpListener, String), LocalnetError> {
    let address = SocketAddr::new(host, port);
    let listener = TcpListener::bind(address)
        .await
        .map_err(|source| LocalnetError::Bind {
            unit,
            address,
            source,
        })?;
    let bound = listener
        .local_addr()
        .map_err(|source| LocalnetError::Bind {
            unit,
            address,
            source,
        })?;
    Ok((listener, format!("http://{bound}")))
}

/// Waits until `url` answers 2xx with JSON, and returns that JSON.
async fn ready(
    client: &reqwest::Client,
    unit: &'static str,
    url: &str,
) -> Result<serde_json::Value, LocalnetError> {
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    loop {
        let detail = match client.get(url).send().await {
            Ok(r) if r.status().is_success() => match r.json().await {
                Ok(json) => return Ok(json),
                Err(e) => e.to_string(),
            },
            Ok(r) => format!("status {}", r.status()),
            Err(e) => e.to_string(),
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(LocalnetError::NotReady {
                unit,
                url: url.to_owned(),
                detail,
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn string_field(
    json: &serde_json::Value,
    unit: &'static str,
    field: &'static str,
) -> Result<String, LocalnetError> {
    json[field]
        .as_str()
        .map(str::to_owned)
        .ok_or(LocalnetError::Answer { unit, field })
}

/// The default process library as a Module item signed by `signer`.
pub fn library_item(signer: &Signer) -> Result<DataItem, ao_core::item::BuildError> {
    let mut builder = ItemBuilder::new()
        .tag("Data-Protocol", "ao")
        .tag("Variant", "ao.TN.1")
        .tag("Type", "Module")
        .tag("Name", MODULE_NAME);
    for (name, value) in cu::library::MODULE_TAGS {
        builder = builder.tag(name, value);
    }
    builder.data(cu::library::bundle()).sign(signer)
}

/// Uploads the library, signed by `signer`, to the gateway and returns its id. Uploading the
/// same item again is harmless.
pub async fn publish_library(
    client: &reqwest::Client,
    gateway_url: &str,
    signer: &Signer,
) -> Result<ao_core::Id, LocalnetError> {
    let item = library_item(signer)?;
    let url = format!("{gateway_url}/tx");
    let failed = |detail: String| LocalnetError::Publish {
        url: url.clone(),
        detail,
    };
    let response = client
        .post(&url)
        .header("content-type", "application/octet-stream")
        .body(item.encode())
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        return Err(failed(format!("status {status}: {text}")));
    }
    Ok(item.id())
}
