//! The CU's configuration: every flag (each with a `CU_*` environment variable) parsed once into
//! a plain [`Config`] that is passed down. Must never be read again below this module: nothing
//! else in the crate touches `std::env`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Messages between two stored checkpoints of a process.
pub const CHECKPOINT_EVERY_DEFAULT: u64 = 100;
/// Schedule entries asked of the SU per page (the SU honours at most 1000).
pub const SCHEDULE_PAGE_DEFAULT: usize = 500;
/// `/results` page size when the client gives no `limit`.
pub const RESULTS_LIMIT_DEFAULT: usize = 25;
/// The largest `limit` a `/results` page honours.
pub const RESULTS_LIMIT_MAX: usize = 1000;
/// How far behind the SU's clock cron catches up, ms (see [`Config::cron_settle`]).
pub const CRON_SETTLE_MS_DEFAULT: u64 = 1000;
/// Cron ticks one catch-up evaluates at most (see [`Config::cron_catch_up_max`]).
pub const CRON_CATCH_UP_MAX_DEFAULT: u64 = 10_000;
/// Processes in memory at once by default (see [`Config::processes_max`]): the memory budget
/// is the usual bound (8 GiB holds about 40,000 idle library processes).
pub const PROCESSES_MAX_DEFAULT: usize = 100_000;
/// Evaluation threads by default: four per core (a process waiting on a long message of a
/// neighbour is the cost of sharing a thread), at least 4, at most 64.
pub fn eval_threads_default() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores * 4).clamp(4, 64)
}
/// The most `--eval-threads` accepts. Each is an OS thread with an 8 MiB stack.
pub const EVAL_THREADS_MAX: usize = 1024;
/// Resident Lua memory of all processes together, MiB (see [`Config::memory_budget_bytes`]).
pub const MEMORY_BUDGET_MB_DEFAULT: usize = 8192;
/// How long a `Scheduler-Location` is trusted when its item has no `Time-To-Live`, ms.
pub const LOCATION_TTL_MS_DEFAULT: u64 = 3_600_000;

/// Everything the CU needs to know, decided before it starts.
#[derive(Debug, Clone)]
pub struct Config {
    /// Holds the database (`cu.redb`) and, unless `wallet` is given, `wallet.json`.
    pub data_dir: PathBuf,
    /// A JWK wallet file (Arweave RSA or ed25519). Without it the CU uses (or creates) an
    /// ed25519 wallet in `data_dir`.
    pub wallet: Option<PathBuf>,
    /// Base URL of this CU's own SU, without a trailing slash: processes it schedules are read
    /// from it; other processes from the SU their `Scheduler` names, found by its
    /// `Scheduler-Location` item on the gateway.
    pub su_url: String,
    /// Base URL of the gateway modules are read from, without a trailing slash.
    pub gateway_url: String,
    /// Messages between two stored checkpoints of a process (at least 1).
    pub checkpoint_every: u64,
    /// Schedule entries asked of the SU per page.
    pub schedule_page: usize,
    /// Processes held in memory at once. At the limit the least recently used idle process is
    /// evicted (checkpointed, then unloaded); only when every process has
    /// work in progress is a new one answered 503.
    pub processes_max: usize,
    /// Resident Lua memory of all processes together, bytes. When loading another process would
    /// pass it, idle processes are evicted, least recently used first, as for `processes_max`.
    pub memory_budget_bytes: usize,
    /// OS threads that evaluate processes; every resident process lives on one of them.
    pub eval_threads: usize,
    /// How long a `Scheduler-Location` without a `Time-To-Live` is trusted.
    pub location_ttl: Duration,
    /// Requests queued on one process; more are answered 503.
    pub mailbox_max: usize,
    /// A process unused this long is checkpointed and unloaded.
    pub idle_timeout: Duration,
    /// Timeout of every request to the SU and the gateway.
    pub upstream_timeout: Duration,
    /// The largest module accepted from the gateway, bytes.
    pub module_bytes_max: usize,
    /// The largest `POST /dry-run` body, bytes.
    pub dry_run_bytes_max: usize,
    /// Catching up on cron ticks after the last scheduled message stops this far before the
    /// time the SU vouches for. The SU takes that time outside its per-process commit, so a
    /// message ordered a moment earlier may not be readable yet; its timestamp must not fall
    /// behind a tick already evaluated (the process would stop). This covers the SU's commit
    /// latency; it delays cron results by as much.
    pub cron_settle: Duration,
    /// Cron ticks one catch-up (a `/cron`, `/dry-run` or `/state` request) evaluates at most;
    /// the next request goes on. Ticks due before a scheduled message are never cut short.
    pub cron_catch_up_max: u64,
}

impl Config {
    /// The defaults, with the database in `data_dir`, reading from `su_url` and `gateway_url`.
    pub fn new(
        data_dir: impl Into<PathBuf>,
        su_url: impl Into<String>,
        gateway_url: impl Into<String>,
    ) -> Config {
        Config {
            data_dir: data_dir.into(),
            wallet: None,
            su_url: trim_slash(su_url.into()),
            gateway_url: trim_slash(gateway_url.into()),
            checkpoint_every: CHECKPOINT_EVERY_DEFAULT,
            schedule_page: SCHEDULE_PAGE_DEFAULT,
            processes_max: PROCESSES_MAX_DEFAULT,
            memory_budget_bytes: MEMORY_BUDGET_MB_DEFAULT << 20,
            eval_threads: eval_threads_default(),
            location_ttl: Duration::from_millis(LOCATION_TTL_MS_DEFAULT),
            mailbox_max: 1024,
            idle_timeout: Duration::from_secs(600),
            upstream_timeout: Duration::from_secs(30),
            module_bytes_max: 64 << 20,
            dry_run_bytes_max: 1 << 20,
            cron_settle: Duration::from_millis(CRON_SETTLE_MS_DEFAULT),
            cron_catch_up_max: CRON_CATCH_UP_MAX_DEFAULT,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} must be at least 1")]
    Zero { name: &'static str },
    #[error("{name} is {value}, more than {max}")]
    TooLarge {
        name: &'static str,
        value: usize,
        max: usize,
    },
}

/// The `ao-cu` command line; every flag also reads a `CU_*` environment variable.
#[derive(Debug, Parser)]
#[command(name = "ao-cu", version, about = "AO compute unit")]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "CU_LISTEN", default_value = "127.0.0.1:6363")]
    pub listen: SocketAddr,
    /// Directory for the database and the generated wallet.
    #[arg(long, env = "CU_DATA_DIR", default_value = "./cu-data")]
    pub data_dir: PathBuf,
    /// JWK wallet file (Arweave RSA or ed25519 OKP). Default: `<data-dir>/wallet.json`,
    /// an ed25519 key created on first run.
    #[arg(long, env = "CU_WALLET")]
    pub wallet: Option<PathBuf>,
    /// Base URL of this CU's SU. Processes scheduled elsewhere are read from the SU their
    /// `Scheduler` names (its `Scheduler-Location` item on the gateway).
    #[arg(long, env = "CU_SU_URL", default_value = "http://127.0.0.1:9000")]
    pub su_url: String,
    /// Base URL of the gateway modules are read from (`/raw/{id}`, `/graphql`).
    #[arg(long, env = "CU_GATEWAY_URL", default_value = "http://127.0.0.1:4000")]
    pub gateway_url: String,
    /// Messages between two stored checkpoints of a process.
    #[arg(long, env = "CU_CHECKPOINT_EVERY", default_value_t = CHECKPOINT_EVERY_DEFAULT)]
    pub checkpoint_every: u64,
    /// Schedule entries asked of the SU per page.
    #[arg(long, env = "CU_SCHEDULE_PAGE", default_value_t = SCHEDULE_PAGE_DEFAULT)]
    pub schedule_page: usize,
    /// Processes held in memory at once; past it the least recently used idle process is
    /// evicted.
    #[arg(long, env = "CU_PROCESSES_MAX", default_value_t = PROCESSES_MAX_DEFAULT)]
    pub processes_max: usize,
    /// Resident Lua memory of all processes together, MiB; past it the least recently used
    /// idle processes are evicted.
    #[arg(long, env = "CU_MEMORY_BUDGET_MB", default_value_t = MEMORY_BUDGET_MB_DEFAULT)]
    pub memory_budget_mb: usize,
    /// OS threads evaluating processes [default: 4 per core, 4 to 64].
    #[arg(long, env = "CU_EVAL_THREADS")]
    pub eval_threads: Option<usize>,
    /// Milliseconds a `Scheduler-Location` without a `Time-To-Live` is trusted.
    #[arg(long, env = "CU_LOCATION_TTL_MS", default_value_t = LOCATION_TTL_MS_DEFAULT)]
    pub location_ttl_ms: u64,
    /// Requests queued per process.
    #[arg(long, env = "CU_MAILBOX_MAX", default_value_t = 1024)]
    pub mailbox_max: usize,
    /// Seconds a process may stay unused before it is unloaded.
    #[arg(long, env = "CU_IDLE_TIMEOUT_SECS", default_value_t = 600)]
    pub idle_timeout_secs: u64,
    /// Seconds any request to the SU or the gateway may take.
    #[arg(long, env = "CU_UPSTREAM_TIMEOUT_SECS", default_value_t = 30)]
    pub upstream_timeout_secs: u64,
    /// Largest module, bytes.
    #[arg(long, env = "CU_MODULE_BYTES_MAX", default_value_t = 64 << 20)]
    pub module_bytes_max: usize,
    /// Largest dry-run body, bytes.
    #[arg(long, env = "CU_DRY_RUN_BYTES_MAX", default_value_t = 1 << 20)]
    pub dry_run_bytes_max: usize,
    /// Milliseconds behind the SU's clock that cron catch-up stops (covers the SU's commit
    /// latency).
    #[arg(long, env = "CU_CRON_SETTLE_MS", default_value_t = CRON_SETTLE_MS_DEFAULT)]
    pub cron_settle_ms: u64,
    /// Cron ticks one request catches up at most.
    #[arg(long, env = "CU_CRON_CATCH_UP_MAX", default_value_t = CRON_CATCH_UP_MAX_DEFAULT)]
    pub cron_catch_up_max: u64,
}

impl Args {
    /// The listen address and the configuration.
    pub fn into_config(self) -> Result<(SocketAddr, Config), ConfigError> {
        for (name, value) in [
            ("--checkpoint-every", self.checkpoint_every as usize),
            ("--schedule-page", self.schedule_page),
            ("--processes-max", self.processes_max),
            ("--memory-budget-mb", self.memory_budget_mb),
            ("--mailbox-max", self.mailbox_max),
            ("--module-bytes-max", self.module_bytes_max),
            ("--dry-run-bytes-max", self.dry_run_bytes_max),
            ("--cron-catch-up-max", self.cron_catch_up_max as usize),
            ("--eval-threads", self.eval_threads.unwrap_or(1)),
        ] {
            if value == 0 {
                return Err(ConfigError::Zero { name });
            }
        }
        if let Some(threads) = self.eval_threads
            && threads > EVAL_THREADS_MAX
        {
            return Err(ConfigError::TooLarge {
                name: "--eval-threads",
                value: threads,
                max: EVAL_THREADS_MAX,
            });
        }
        let mut config = Config::new(self.data_dir, self.su_url, self.gateway_url);
        config.wallet = self.wallet;
        config.checkpoint_every = self.checkpoint_every;
        config.schedule_page = self.schedule_page;
        config.processes_max = self.processes_max;
        config.memory_budget_bytes = self.memory_budget_mb.saturating_mul(1 << 20);
        config.eval_threads = self.eval_threads.unwrap_or_else(eval_threads_default);
        config.location_ttl = Duration::from_millis(self.location_ttl_ms);
        config.mailbox_max = self.mailbox_max;
        config.idle_timeout = Duration::from_secs(self.idle_timeout_secs.max(1));
        config.upstream_timeout = Duration::from_secs(self.upstream_timeout_secs.max(1));
        config.module_bytes_max = self.module_bytes_max;
        config.dry_run_bytes_max = self.dry_run_bytes_max;
        config.cron_settle = Duration::from_millis(self.cron_settle_ms);
        config.cron_catch_up_max = self.cron_catch_up_max;
        Ok((self.listen, config))
    }
}

fn trim_slash(url: String) -> String {
    url.trim_end_matches('/').to_owned()
}
