//! The user's side of a process: the wallet (`~/.aos.json`, created on first use), finding a
//! process by name on the gateway or spawning it, and the signed items the shell sends
//! (`Eval`, spawns, monitor requests). Owns: the tags those items carry, as aos sends them.
//! Must never: overwrite an existing wallet, or spawn when the lookup failed (only when it
//! found nothing).

use std::path::Path;

use ao_core::wallet::Jwk;
use ao_core::{DataItem, ItemBuilder, Signer};
use serde_json::{Value as Json, json};

use crate::client::{Client, ShellError};

/// The `Name` tag of the default library's Module item (`localnet::MODULE_NAME`).
pub const LIBRARY_NAME: &str = "ao-rs process library";
/// The `SDK` tag on what the shell sends.
const SDK: &str = "aos";

/// Reads the wallet at `path`, creating an Arweave RSA-4096 wallet there if it is missing.
pub fn wallet(path: &Path) -> Result<(Signer, bool), ShellError> {
    let setup = |what: &str, e: &dyn std::fmt::Display| {
        ShellError::Setup(format!("{what} {}: {e}", path.display()))
    };
    let created = !path.exists();
    if created {
        let jwk = Jwk::generate_rsa4096().map_err(|e| setup("cannot create wallet", &e))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| setup("cannot create wallet", &e))?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(path)
            .map_err(|e| setup("cannot create wallet", &e))?;
        std::io::Write::write_all(&mut file, jwk.to_json().as_bytes())
            .map_err(|e| setup("cannot write wallet", &e))?;
    }
    let text = std::fs::read_to_string(path).map_err(|e| setup("cannot read wallet", &e))?;
    let signer = Jwk::from_json(&text)
        .and_then(|jwk| jwk.signer())
        .map_err(|e| setup("invalid wallet", &e))?;
    Ok((signer, created))
}

/// What a new process is spawned with.
#[derive(Debug, Clone, Default)]
pub struct SpawnOptions {
    pub module: Option<String>,
    pub scheduler: Option<String>,
    pub cron: Option<String>,
    pub tags: Vec<(String, String)>,
    pub data: Option<Vec<u8>>,
}

/// A process the user owns, with its `Name`.
#[derive(Debug, Clone)]
pub struct Found {
    pub id: String,
    pub name: String,
}

const PROCESSES_QUERY: &str = "query ($owners: [String!]!, $tags: [TagFilter!]!) { transactions(owners: $owners, tags: $tags, first: 100, sort: HEIGHT_DESC) { edges { node { id tags { name value } } } } }";

/// The user's processes, newest first; only those named `name` when given.
pub fn processes(
    client: &Client,
    owner: &str,
    name: Option<&str>,
) -> Result<Vec<Found>, ShellError> {
    let mut tags = vec![
        json!({ "name": "Data-Protocol", "values": ["ao"] }),
        json!({ "name": "Type", "values": ["Process"] }),
    ];
    if let Some(name) = name {
        tags.push(json!({ "name": "Name", "values": [name] }));
    }
    let data = client.graphql(PROCESSES_QUERY, json!({ "owners": [owner], "tags": tags }))?;
    let edges = data["transactions"]["edges"].as_array().cloned();
    Ok(edges
        .unwrap_or_default()
        .iter()
        .filter_map(|edge| {
            let node = &edge["node"];
            Some(Found {
                id: node["id"].as_str()?.to_owned(),
                name: tag(&node["tags"], "Name").unwrap_or_default(),
            })
        })
        .collect())
}

fn tag(tags: &Json, name: &str) -> Option<String> {
    tags.as_array()?
        .iter()
        .find(|t| t["name"] == name)
        .and_then(|t| t["value"].as_str())
        .map(str::to_owned)
}

/// The newest module named [`LIBRARY_NAME`] on the gateway.
pub fn default_module(client: &Client) -> Result<String, ShellError> {
    let data = client.graphql(
        "query ($name: String!) { transactions(tags: [{name: \"Type\", values: [\"Module\"]}, {name: \"Name\", values: [$name]}], first: 1, sort: HEIGHT_DESC) { edges { node { id } } } }",
        json!({ "name": LIBRARY_NAME }),
    )?;
    data["transactions"]["edges"][0]["node"]["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| {
            ShellError::Setup(format!(
                "the gateway at {} has no module named {LIBRARY_NAME:?}; pass --module <id> (or start the localnet, which publishes it)",
                client.gateway_url
            ))
        })
}

/// The owner of the newest `Scheduler-Location` item on the gateway.
pub fn default_scheduler(client: &Client) -> Result<String, ShellError> {
    let data = client.graphql(
        "{ transactions(tags: [{name: \"Type\", values: [\"Scheduler-Location\"]}], first: 1, sort: HEIGHT_DESC) { edges { node { owner { address } } } } }",
        Json::Null,
    )?;
    data["transactions"]["edges"][0]["node"]["owner"]["address"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| {
            ShellError::Setup(format!(
                "the gateway at {} knows no scheduler (no Scheduler-Location item); pass --scheduler <address>",
                client.gateway_url
            ))
        })
}

/// Spawns a process named `name` and waits until its spawn message has a result.
pub fn spawn(
    client: &Client,
    signer: &Signer,
    name: &str,
    options: &SpawnOptions,
) -> Result<String, ShellError> {
    let module = match &options.module {
        Some(m) => m.clone(),
        None => default_module(client)?,
    };
    let scheduler = match &options.scheduler {
        Some(s) => s.clone(),
        None => default_scheduler(client)?,
    };
    let mut builder = base()
        .tag("Type", "Process")
        .tag("Module", module)
        .tag("Scheduler", scheduler)
        .tag("SDK", SDK)
        .tag("Name", name);
    if let Some(authority) = client.mu_address()? {
        builder = builder.tag("Authority", authority);
    }
    if let Some(cron) = &options.cron {
        builder = builder
            .tag("Cron-Interval", cron.as_str())
            .tag("Cron-Tag-Action", "Cron");
    }
    for (name, value) in &options.tags {
        builder = builder.tag(name.as_str(), value.as_str());
    }
    let data = options.data.clone().unwrap_or_else(|| b"1984".to_vec());
    let item = sign(builder.data(data), signer)?;
    client.send(&item)?;
    let id = item.id().to_string();
    // The CU waits for nothing: the MU answered once the SU had ordered the spawn.
    client.result(&id, &id)?;
    Ok(id)
}

/// Every item the shell sends carries a fresh anchor, so the same line evaluated twice is two
/// messages even when the wallet's signatures are deterministic (ed25519).
fn base() -> ItemBuilder {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SENT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let text = format!(
        "{nanos:029}{:03}",
        SENT.fetch_add(1, Ordering::Relaxed) % 1000
    );
    let mut anchor = [b'0'; 32];
    let bytes = text.as_bytes();
    anchor.copy_from_slice(&bytes[bytes.len() - 32..]);
    ItemBuilder::new()
        .anchor(anchor)
        .tag("Data-Protocol", "ao")
        .tag("Variant", "ao.TN.1")
}

fn sign(builder: ItemBuilder, signer: &Signer) -> Result<DataItem, ShellError> {
    builder
        .sign(signer)
        .map_err(|e| ShellError::Setup(format!("cannot sign: {e}")))
}

fn target(process: &str) -> Result<ao_core::Id, ShellError> {
    process
        .parse()
        .map_err(|_| ShellError::Setup(format!("{process:?} is not a process id")))
}

/// An `Eval` of `code` for `process`.
pub fn eval_item(signer: &Signer, process: &str, code: &str) -> Result<DataItem, ShellError> {
    let builder = base()
        .target(target(process)?)
        .tag("Type", "Message")
        .tag("Action", "Eval")
        .tag("SDK", SDK)
        .data(code);
    sign(builder, signer)
}

/// The body of a dry-run `Eval` of `code`, as aoconnect's `dryrun` sends it.
pub fn eval_dry_run(owner: &str, process: &str, code: &str) -> Json {
    json!({
        "Id": "0000000000000000000000000000000000000000001",
        "Owner": owner,
        "Target": process,
        "Data": code,
        "Tags": [
            { "name": "Data-Protocol", "value": "ao" },
            { "name": "Variant", "value": "ao.TN.1" },
            { "name": "Type", "value": "Message" },
            { "name": "Action", "value": "Eval" },
        ],
    })
}

/// The signed body of a monitor request for `process`.
pub fn monitor_item(signer: &Signer, process: &str) -> Result<DataItem, ShellError> {
    let builder = base()
        .target(target(process)?)
        .tag("Type", "Message")
        .tag("SDK", SDK)
        .data("1984");
    sign(builder, signer)
}
