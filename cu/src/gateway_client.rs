//! The CU's view of a gateway (PROTOCOL.md §7): an item's owner and tags by GraphQL (a module,
//! or a process scheduled on another SU), a module's data by `GET /raw/{id}`, and the newest
//! `Scheduler-Location` item of an SU address. Owns: those requests and their shapes. Must never: parse
//! or run a module (the worker and the engine do), or cache (the server's module cache does).

use std::time::Duration;

use ao_core::{Id, Tag};
use serde::Deserialize;
use serde_json::json;

use crate::schedule::ModuleInfo;
use ao_unit::location::LOCATION_QUERY;

use crate::su_client::{UpstreamError, decode, fetch};

const GRAPHQL_BYTES_MAX: usize = 1 << 20;
const MODULE_QUERY: &str = "query GetTransactions($ids: [ID!]!) { transactions(ids: $ids) { \
    edges { node { id owner { address } tags { name value } } } } }";

#[derive(Debug, Clone)]
pub struct GatewayClient {
    http: reqwest::Client,
    base: String,
    module_bytes_max: usize,
}

#[derive(Deserialize)]
struct GqlData {
    transactions: GqlConnection,
}
#[derive(Deserialize)]
struct GqlConnection {
    edges: Vec<GqlEdge>,
}
#[derive(Deserialize)]
struct GqlEdge {
    node: GqlNode,
}
#[derive(Deserialize)]
struct GqlNode {
    id: String,
    owner: GqlOwner,
    tags: Vec<Tag>,
}
#[derive(Deserialize)]
struct GraphQl<T> {
    data: Option<T>,
}
#[derive(Deserialize)]
struct TagsData {
    transactions: TagsConnection,
}
#[derive(Deserialize)]
struct TagsConnection {
    edges: Vec<TagsEdge>,
}
#[derive(Deserialize)]
struct TagsEdge {
    node: TagsNode,
}
#[derive(Deserialize)]
struct TagsNode {
    tags: Vec<Tag>,
}
#[derive(Deserialize)]
struct GqlOwner {
    address: String,
}

impl GatewayClient {
    /// A client of the gateway at `base` (no trailing slash).
    pub fn new(base: &str, timeout: Duration, module_bytes_max: usize) -> GatewayClient {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .unwrap_or_default();
        GatewayClient {
            http,
            base: base.to_owned(),
            module_bytes_max,
        }
    }

    /// The module's owner and tags; `None` if the gateway does not know the id.
    pub async fn module_info(&self, module: &Id) -> Result<Option<ModuleInfo>, UpstreamError> {
        self.item(module).await
    }

    /// The owner and tags of the item `id`; `None` if the gateway does not know it.
    pub async fn item(&self, id: &Id) -> Result<Option<ModuleInfo>, UpstreamError> {
        let body = json!({ "query": MODULE_QUERY, "variables": { "ids": [id.to_string()] } });
        let data: GqlData = self.graphql(&body).await?;
        let wanted = id.to_string();
        Ok(data
            .transactions
            .edges
            .into_iter()
            .map(|e| e.node)
            .find(|n| n.id == wanted)
            .map(|n| ModuleInfo {
                id: n.id,
                owner: n.owner.address,
                tags: n.tags,
            }))
    }

    /// The tags of the newest `Scheduler-Location` item `address` signed; `None` if it has none.
    pub async fn scheduler_location(
        &self,
        address: &str,
    ) -> Result<Option<Vec<Tag>>, UpstreamError> {
        let body = json!({ "query": LOCATION_QUERY, "variables": { "owners": [address] } });
        let data: TagsData = self.graphql(&body).await?;
        Ok(data
            .transactions
            .edges
            .into_iter()
            .next()
            .map(|e| e.node.tags))
    }

    async fn graphql<T: serde::de::DeserializeOwned>(
        &self,
        body: &serde_json::Value,
    ) -> Result<T, UpstreamError> {
        let url = format!("{}/graphql", self.base);
        let request = self.http.post(&url).json(body);
        let bytes = fetch(request, "gateway", &url, GRAPHQL_BYTES_MAX).await?;
        let answer: GraphQl<T> = decode(&bytes, "gateway", &url)?;
        answer.data.ok_or_else(|| no_data(&url))
    }

    /// The module's data (`GET /raw/{id}`).
    pub async fn data(&self, module: &Id) -> Result<Vec<u8>, UpstreamError> {
        let url = format!("{}/raw/{module}", self.base);
        fetch(self.http.get(&url), "gateway", &url, self.module_bytes_max).await
    }
}

fn no_data(url: &str) -> UpstreamError {
    UpstreamError::Body {
        unit: "gateway",
        url: url.to_owned(),
        reason: "no `data` in the GraphQL answer".into(),
    }
}
