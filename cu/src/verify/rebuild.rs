//! Rebuilding a process's schedule from permanent storage alone: the Process item, every
//! Assignment its scheduler signed (found by GraphQL: `Process` tag, `Type: Assignment`,
//! owner = the `Scheduler` tag), and every assigned Message. Items are reassembled from the
//! GraphQL fields (owner key, signature, anchor, recipient, tags) and `GET /raw/{id}`, so any
//! Arweave gateway serves; each must verify and hash to its id. Owns: those lookups and the
//! checks (signatures, one assignment per nonce, nonces gap-free from 0, the hash chain).
//! Must never: trust a field it did not check, or quietly skip a missing message.

use std::collections::BTreeMap;

use ao_core::ao::Assignment;
use ao_core::hash_chain::ChainVerifier;
use ao_core::wire::{SuItem, SuMessage, SuProcess};
use ao_core::{DataItem, Id, SignatureType, Tag, b64};
use serde::Deserialize;
use serde_json::{Value as Json, json};

use super::VerifyError;

/// Items asked for per GraphQL page.
const PAGE_MAX: usize = 100;

/// A schedule rebuilt from the gateway, ready to serve as an SU would.
#[derive(Debug, Clone)]
pub struct Rebuilt {
    pub process: SuProcess,
    /// The scheduler's wallet address (the process's `Scheduler` tag).
    pub scheduler: String,
    /// Ordered by nonce, gap-free from 0.
    pub messages: Vec<SuMessage>,
}

#[derive(Debug, Deserialize)]
struct Node {
    id: String,
    #[serde(default)]
    anchor: Option<String>,
    signature: String,
    #[serde(default)]
    recipient: Option<String>,
    owner: NodeOwner,
    tags: Vec<Tag>,
    data: NodeData,
}

#[derive(Debug, Deserialize)]
struct NodeOwner {
    key: String,
}

#[derive(Debug, Deserialize)]
struct NodeData {
    size: Json,
}

const FIELDS: &str =
    "id anchor signature recipient owner { address key } tags { name value } data { size }";

pub struct Gateway {
    http: reqwest::Client,
    base: String,
}

impl Gateway {
    pub fn new(base: &str, http: reqwest::Client) -> Gateway {
        Gateway {
            http,
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    async fn graphql(&self, query: &str, variables: Json) -> Result<Json, VerifyError> {
        let url = format!("{}/graphql", self.base);
        let response = self
            .http
            .post(&url)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .map_err(|e| VerifyError::upstream(&url, e))?;
        let status = response.status();
        let body: Json = response
            .json()
            .await
            .map_err(|e| VerifyError::upstream(&url, e))?;
        if !status.is_success() || body.get("errors").is_some_and(|e| !e.is_null()) {
            return Err(VerifyError::Gateway {
                url,
                detail: format!("status {status}: {}", body.get("errors").unwrap_or(&body)),
            });
        }
        Ok(body["data"].clone())
    }

    async fn raw(&self, id: &str) -> Result<Vec<u8>, VerifyError> {
        let url = format!("{}/raw/{id}", self.base);
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| VerifyError::upstream(&url, e))?;
        if !response.status().is_success() {
            return Err(VerifyError::Gateway {
                detail: format!("status {}", response.status()),
                url,
            });
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| VerifyError::upstream(&url, e))?;
        Ok(bytes.to_vec())
    }

    /// The items with these ids, reassembled and verified, in any order.
    async fn items(&self, ids: &[String]) -> Result<Vec<DataItem>, VerifyError> {
        let mut items = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(PAGE_MAX) {
            let query = format!(
                "query ($ids: [ID!]!) {{ transactions(ids: $ids, first: {PAGE_MAX}) {{ edges {{ node {{ {FIELDS} }} }} }} }}"
            );
            let data = self.graphql(&query, json!({ "ids": chunk })).await?;
            for edge in edges(&data)? {
                let node: Node = serde_json::from_value(edge["node"].clone())
                    .map_err(|e| VerifyError::malformed("a GraphQL node", e))?;
                items.push(self.reassemble(node).await?);
            }
        }
        Ok(items)
    }

    async fn reassemble(&self, node: Node) -> Result<DataItem, VerifyError> {
        let bad = |what: &str| VerifyError::BadItem {
            id: node.id.clone(),
            problem: what.to_owned(),
        };
        let owner = b64::decode(&node.owner.key, "owner").map_err(|_| bad("owner key"))?;
        // The owner's length names the key type; 32 bytes is ed25519 over the deep hash or
        // over its hex text (Solana-style), told apart by which one verifies.
        let candidates: &[SignatureType] = match owner.len() {
            512 => &[SignatureType::Arweave],
            32 => &[SignatureType::Ed25519, SignatureType::Solana],
            65 => &[SignatureType::Ethereum],
            n => return Err(bad(&format!("owner key of {n} bytes"))),
        };
        let signature = b64::decode(&node.signature, "signature").map_err(|_| bad("signature"))?;
        let fixed = |text: &Option<String>, what: &str| -> Result<Option<[u8; 32]>, VerifyError> {
            match text.as_deref().filter(|t| !t.is_empty()) {
                None => Ok(None),
                Some(t) => b64::decode(t, "field")
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .map(Some)
                    .ok_or_else(|| bad(what)),
            }
        };
        let anchor = fixed(&node.anchor, "anchor")?;
        let target = fixed(&node.recipient, "recipient")?;
        let size = match &node.data.size {
            Json::String(s) => s.parse::<u64>().unwrap_or(0),
            other => other.as_u64().unwrap_or(0),
        };
        let data = if size == 0 {
            Vec::new()
        } else {
            self.raw(&node.id).await?
        };
        let mut last = String::new();
        let mut verified = None;
        for signature_type in candidates {
            let item = DataItem::from_parts(
                *signature_type,
                signature.clone(),
                owner.clone(),
                target,
                anchor,
                node.tags.clone(),
                data.clone(),
            )
            .map_err(|e| bad(&e.to_string()))?;
            match item.verify() {
                Ok(()) => {
                    verified = Some(item);
                    break;
                }
                Err(e) => last = e.to_string(),
            }
        }
        let item = verified.ok_or_else(|| bad(&format!("signature does not verify: {last}")))?;
        if item.id().to_string() != node.id {
            return Err(bad("reassembled item hashes to another id"));
        }
        Ok(item)
    }
}

fn edges(data: &Json) -> Result<&Vec<Json>, VerifyError> {
    data["transactions"]["edges"]
        .as_array()
        .ok_or_else(|| VerifyError::malformed("GraphQL transactions", "no edges"))
}

/// Reads the process's whole schedule from the gateway. `progress(done, total)` is called as
/// items arrive.
pub async fn rebuild(
    gateway: &Gateway,
    process: &Id,
    mut progress: impl FnMut(usize, usize),
) -> Result<Rebuilt, VerifyError> {
    let pid = process.to_string();
    let process_item = gateway
        .items(std::slice::from_ref(&pid))
        .await?
        .pop()
        .ok_or_else(|| VerifyError::NotOnGateway {
            what: "process",
            id: pid.clone(),
        })?;
    let scheduler = process_item
        .tag("Scheduler")
        .ok_or_else(|| VerifyError::BadItem {
            id: pid.clone(),
            problem: "no Scheduler tag".into(),
        })?
        .to_owned();

    // Every assignment id the scheduler signed for this process.
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let query = format!(
            "query ($owners: [String!]!, $tags: [TagFilter!]!, $after: String) {{ transactions(owners: $owners, tags: $tags, first: {PAGE_MAX}, after: $after, sort: HEIGHT_ASC) {{ pageInfo {{ hasNextPage }} edges {{ cursor node {{ id }} }} }} }}"
        );
        let tags = json!([
            { "name": "Process", "values": [pid] },
            { "name": "Type", "values": ["Assignment"] },
        ]);
        let data = gateway
            .graphql(
                &query,
                json!({ "owners": [scheduler], "tags": tags, "after": after }),
            )
            .await?;
        let page = edges(&data)?;
        for edge in page {
            if let Some(id) = edge["node"]["id"].as_str() {
                ids.push(id.to_owned());
            }
            after = edge["cursor"].as_str().map(str::to_owned);
        }
        let more = data["transactions"]["pageInfo"]["hasNextPage"] == Json::Bool(true);
        if !more || page.is_empty() {
            break;
        }
    }
    let total = ids.len();
    progress(0, total * 2);

    let mut by_nonce: BTreeMap<u64, (DataItem, Assignment)> = BTreeMap::new();
    for chunk in ids.chunks(PAGE_MAX) {
        for item in gateway.items(chunk).await? {
            let id = item.id().to_string();
            if item.owner_address() != scheduler {
                return Err(VerifyError::BadItem {
                    id,
                    problem: format!("signed by {}, not the scheduler", item.owner_address()),
                });
            }
            let assignment = Assignment::from_item(&item).map_err(|e| VerifyError::BadItem {
                id: id.clone(),
                problem: e.to_string(),
            })?;
            if assignment.process != *process {
                return Err(VerifyError::BadItem {
                    id,
                    problem: format!("assigns to process {}", assignment.process),
                });
            }
            let nonce = assignment.nonce;
            if let Some((other, _)) = by_nonce.insert(nonce, (item, assignment)) {
                return Err(VerifyError::Equivocation {
                    nonce,
                    first: other.id().to_string(),
                    second: id,
                });
            }
        }
        progress(by_nonce.len(), total * 2);
    }

    // Gap-free from 0 and chained: checked here, before anything is evaluated, so that the
    // report names the problem in the stored schedule itself.
    let mut chain = ChainVerifier::new(process);
    for (expected, (nonce, (item, a))) in (0u64..).zip(&by_nonce) {
        if *nonce != expected {
            return Err(VerifyError::Gap {
                expected,
                found: *nonce,
            });
        }
        chain
            .check(&item.id(), &a.hash_chain)
            .map_err(|e| VerifyError::Chain {
                nonce: *nonce,
                detail: e.to_string(),
            })?;
    }
    let first = by_nonce.get(&0).ok_or(VerifyError::NotOnGateway {
        what: "assignment of nonce 0 for",
        id: pid.clone(),
    })?;

    // The assigned messages (nonce 0 assigns the process itself).
    let wanted: Vec<String> = by_nonce
        .values()
        .filter_map(|(_, a)| a.message.map(|m| m.to_string()))
        .filter(|m| *m != pid)
        .collect();
    let mut found: BTreeMap<String, DataItem> = BTreeMap::new();
    for chunk in wanted.chunks(PAGE_MAX) {
        for item in gateway.items(chunk).await? {
            found.insert(item.id().to_string(), item);
        }
        progress(total + found.len().min(total), total * 2);
    }
    progress(total * 2, total * 2);

    let mut messages = Vec::with_capacity(by_nonce.len());
    for (item, a) in by_nonce.values() {
        let message = match a.message.map(|m| m.to_string()) {
            None => Some(&process_item),
            Some(m) if m == pid => Some(&process_item),
            Some(m) => Some(found.get(&m).ok_or_else(|| VerifyError::NotOnGateway {
                what: "message",
                id: m.clone(),
            })?),
        };
        messages.push(SuMessage {
            message: message.map(|m| SuItem::from_item(m, true)),
            assignment: SuItem::from_item(item, false),
        });
    }

    let process = SuProcess::from_item(&process_item, first.1.block_height, first.1.timestamp);
    Ok(Rebuilt {
        process,
        scheduler,
        messages,
    })
}
