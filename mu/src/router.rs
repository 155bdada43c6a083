//! Where an item goes: a process id → its `Scheduler` address and `Module` → the URL of that
//! SU. Processes are found on the gateway (GraphQL by id) or, for ones too new to be indexed
//! there, on the SUs the MU knows; scheduler URLs come from `--scheduler` pairs, from the known
//! SUs' own addresses, or from the newest `Scheduler-Location` item the scheduler signed
//! (cached for its `Time-To-Live`). Must never guess: an id that no source knows is reported as
//! unknown, and a source that could not answer is an error, not a "no".

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ao_core::Tag;
use ao_unit::location::{LOCATION_QUERY, Location};
use serde_json::{Value as Json, json};

use crate::upstream::{Upstream, UpstreamError};

/// Processes remembered (their tags never change); past it the cache starts over.
const PROCESS_CACHE_MAX: usize = 100_000;

const PROCESS_QUERY: &str = "query ($ids: [ID!]!) { transactions(ids: $ids) { edges { node { id tags { name value } } } } }";

/// What the MU needs to know of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    /// The SU wallet address (`Scheduler` tag).
    pub scheduler: String,
    /// The module id (`Module` tag).
    pub module: String,
}

impl ProcessInfo {
    /// From a Process item's tags; `None` when they do not describe a process.
    pub fn from_tags(tags: &[Tag]) -> Option<ProcessInfo> {
        let tag = |name: &str| {
            tags.iter()
                .find(|t| t.name == name)
                .map(|t| t.value.clone())
        };
        if tag("Type").as_deref() != Some("Process") {
            return None;
        }
        Some(ProcessInfo {
            scheduler: tag("Scheduler")?,
            module: tag("Module")?,
        })
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum RouteError {
    #[error(
        "no scheduler unit is known for Scheduler {0} (no Scheduler-Location item on the gateway, and none of the configured SUs has that address)"
    )]
    UnknownScheduler(String),
    #[error("the Scheduler-Location item of {address} is invalid: {why}")]
    BadLocation { address: String, why: String },
    #[error("cannot locate: {0}")]
    Upstream(#[from] UpstreamError),
}

pub struct Router {
    upstream: Upstream,
    known_sus: Vec<String>,
    /// Scheduler address → URL: `--scheduler` pairs and the known SUs' addresses.
    fixed: Mutex<HashMap<String, String>>,
    /// Known SUs whose address has not been learned yet.
    unlearned: Mutex<Vec<String>>,
    processes: Mutex<HashMap<String, ProcessInfo>>,
    locations: Mutex<HashMap<String, (String, Instant)>>,
    location_ttl_default: Duration,
}

impl Router {
    pub fn new(
        upstream: Upstream,
        known_sus: Vec<String>,
        schedulers: Vec<(String, String)>,
        location_ttl_default: Duration,
    ) -> Router {
        Router {
            upstream,
            unlearned: Mutex::new(known_sus.clone()),
            known_sus,
            fixed: Mutex::new(schedulers.into_iter().collect()),
            processes: Mutex::new(HashMap::new()),
            locations: Mutex::new(HashMap::new()),
            location_ttl_default,
        }
    }

    /// Asks every known SU whose address is not known yet for it. An SU that does not answer
    /// is asked again on the next look-up that needs it.
    pub async fn learn_sus(&self) {
        let pending = self.unlearned.lock().expect("unpoisoned").clone();
        for url in pending {
            match self.upstream.su_info(&url).await {
                Ok(info) => {
                    tracing::info!(%url, address = %info.address, "known SU");
                    let mut fixed = self.fixed.lock().expect("unpoisoned");
                    fixed.entry(info.address).or_insert_with(|| url.clone());
                    self.unlearned
                        .lock()
                        .expect("unpoisoned")
                        .retain(|u| u != &url);
                }
                Err(e) => tracing::warn!(%url, error = %e, "SU did not say its address yet"),
            }
        }
    }

    /// Remembers a process the MU has itself sent to its SU.
    pub fn remember(&self, pid: &str, info: ProcessInfo) {
        let mut processes = self.processes.lock().expect("unpoisoned");
        if processes.len() >= PROCESS_CACHE_MAX {
            processes.clear();
        }
        processes.insert(pid.to_owned(), info);
    }

    /// The process `pid`, or `None` when neither the gateway nor any known SU has it (it is
    /// then a wallet, or does not exist yet).
    pub async fn process(&self, pid: &str) -> Result<Option<ProcessInfo>, RouteError> {
        if let Some(info) = self.processes.lock().expect("unpoisoned").get(pid) {
            return Ok(Some(info.clone()));
        }
        let mut failure = None;
        if self.upstream.gateway_url().is_some() {
            match self.process_on_gateway(pid).await {
                Ok(Some(info)) => {
                    self.remember(pid, info.clone());
                    return Ok(Some(info));
                }
                Ok(None) => {}
                Err(e) => failure = Some(e),
            }
        }
        for su in &self.known_sus {
            match self.upstream.su_process(su, pid).await {
                Ok(Some(process)) => {
                    if let Some(info) = ProcessInfo::from_tags(&process.tags) {
                        self.remember(pid, info.clone());
                        return Ok(Some(info));
                    }
                }
                Ok(None) => {}
                Err(e) => failure = Some(e),
            }
        }
        match failure {
            Some(e) => Err(e.into()),
            None => Ok(None),
        }
    }

    async fn process_on_gateway(&self, pid: &str) -> Result<Option<ProcessInfo>, UpstreamError> {
        let data = self
            .upstream
            .graphql(PROCESS_QUERY, json!({ "ids": [pid] }))
            .await?;
        let edges = data["transactions"]["edges"].as_array().cloned();
        for edge in edges.unwrap_or_default() {
            let node = &edge["node"];
            if node["id"].as_str() != Some(pid) {
                continue;
            }
            return Ok(ProcessInfo::from_tags(&tags_of(node)));
        }
        Ok(None)
    }

    /// The URL of the SU whose wallet address is `scheduler`.
    pub async fn su_url(&self, scheduler: &str) -> Result<String, RouteError> {
        if let Some(url) = self.fixed.lock().expect("unpoisoned").get(scheduler) {
            return Ok(url.clone());
        }
        if let Some((url, until)) = self.locations.lock().expect("unpoisoned").get(scheduler)
            && *until > Instant::now()
        {
            return Ok(url.clone());
        }
        if !self.unlearned.lock().expect("unpoisoned").is_empty() {
            self.learn_sus().await;
            if let Some(url) = self.fixed.lock().expect("unpoisoned").get(scheduler) {
                return Ok(url.clone());
            }
        }
        if self.upstream.gateway_url().is_none() {
            return Err(RouteError::UnknownScheduler(scheduler.to_owned()));
        }
        let data = self
            .upstream
            .graphql(LOCATION_QUERY, json!({ "owners": [scheduler] }))
            .await?;
        let Some(node) = data["transactions"]["edges"]
            .as_array()
            .and_then(|edges| edges.first())
            .map(|edge| &edge["node"])
        else {
            return Err(RouteError::UnknownScheduler(scheduler.to_owned()));
        };
        let location =
            Location::from_tags(&tags_of(node), self.location_ttl_default).map_err(|why| {
                RouteError::BadLocation {
                    address: scheduler.to_owned(),
                    why: why.to_string(),
                }
            })?;
        let (url, ttl) = (location.url, location.ttl);
        self.locations
            .lock()
            .expect("unpoisoned")
            .insert(scheduler.to_owned(), (url.clone(), expiry(ttl)));
        Ok(url)
    }

    /// The SU of process `pid`, with what is known of it; `None` when it is not a process.
    pub async fn route(&self, pid: &str) -> Result<Option<(String, ProcessInfo)>, RouteError> {
        match self.process(pid).await? {
            Some(info) => Ok(Some((self.su_url(&info.scheduler).await?, info))),
            None => Ok(None),
        }
    }
}

fn tags_of(node: &Json) -> Vec<Tag> {
    node["tags"]
        .as_array()
        .map(|tags| {
            tags.iter()
                .filter_map(|t| Some(Tag::new(t["name"].as_str()?, t["value"].as_str()?)))
                .collect()
        })
        .unwrap_or_default()
}

/// When a location cached now for `ttl` expires. A `Time-To-Live` is whatever the item says,
/// and `Instant + Duration` panics past the clock's range: such a location is kept for a year.
fn expiry(ttl: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(ttl)
        .unwrap_or(now + Duration::from_secs(365 * 86_400))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absurd_time_to_live_does_not_panic() {
        assert!(expiry(Duration::from_millis(u64::MAX)) > Instant::now());
    }
}
