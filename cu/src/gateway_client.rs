//! The CU's view of a gateway (PROTOCOL.md §7): a module item's owner and tags by GraphQL,
//! its data by `GET /raw/{id}`. Owns: those two requests and their shapes. Must never: parse
//! or run a module (the worker and the engine do), or cache (the server's module cache does).

use std::time::Duration;

use ao_core::{Id, Tag};
use serde::Deserialize;
use serde_json::json;

use crate::schedule::ModuleInfo;
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
struct GraphQl {
    data: Option<GqlData>,
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
        let url = format!("{}/graphql", self.base);
        let body = json!({ "query": MODULE_QUERY, "variables": { "ids": [module.to_string()] } });
        let request = self.http.post(&url).json(&body);
        let answer: GraphQl = decode(
            &fetch(request, "gateway", &url, GRAPHQL_BYTES_MAX).await?,
            "gateway",
            &url,
        )?;
        let data = answer.data.ok_or_else(|| UpstreamError::Body {
            unit: "gateway",
            url: url.clone(),
            reason: "no `data` in the GraphQL answer".into(),
        })?;
        let wanted = module.to_string();
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

    /// The module's data (`GET /raw/{id}`).
    pub async fn data(&self, module: &Id) -> Result<Vec<u8>, UpstreamError> {
        let url = format!("{}/raw/{module}", self.base);
        fetch(self.http.get(&url), "gateway", &url, self.module_bytes_max).await
    }
}
