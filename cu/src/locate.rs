//! Which SU schedules a process. The CU's own SU (`--su-url`) serves the processes whose
//! `Scheduler` tag is its address; any other address is found by its newest
//! `Scheduler-Location` item on the gateway (its `Url`, trusted for its `Time-To-Live`), as the
//! MU finds it (`ao_unit::location`). A process's `Scheduler` tag is read from the own SU, or,
//! when that SU does not have the process, from the Process item on the gateway. Owns: the
//! process → scheduler address cache, the address → URL cache, and the own SU's address. Must
//! never: guess (an address no item locates is an error, and a source that failed is an error,
//! not a "no"), or hold a lock across a request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ao_core::Id;
use ao_core::wire::SuProcess;
use ao_unit::location::{Location, LocationError};

use crate::gateway_client::GatewayClient;
use crate::su_client::{SuClient, UpstreamError};

/// Processes whose scheduler is remembered (a Process's tags never change); past it the cache
/// starts over.
const SCHEDULERS_MAX: usize = 100_000;
/// SU addresses whose location is remembered; past it the cache starts over.
const LOCATIONS_MAX: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum LocateError {
    #[error("process {process} has no Scheduler tag")]
    NoScheduler { process: Id },
    #[error(
        "process {process} is scheduled by {scheduler}: no Scheduler-Location item of that \
         address is on the gateway, and it is not the address of this CU's SU"
    )]
    UnknownScheduler { process: Id, scheduler: String },
    #[error("the Scheduler-Location item of {scheduler} is invalid: {why}")]
    BadLocation {
        scheduler: String,
        why: LocationError,
    },
    #[error("cannot locate the SU: {0}")]
    Upstream(#[from] UpstreamError),
}

pub struct Locator {
    own: SuClient,
    own_address: tokio::sync::OnceCell<String>,
    gateway: GatewayClient,
    ttl_default: Duration,
    schedulers: Mutex<HashMap<Id, String>>,
    locations: Mutex<HashMap<String, (String, Instant)>>,
}

impl Locator {
    pub fn new(own: SuClient, gateway: GatewayClient, ttl_default: Duration) -> Locator {
        Locator {
            own,
            own_address: tokio::sync::OnceCell::new(),
            gateway,
            ttl_default,
            schedulers: Mutex::new(HashMap::new()),
            locations: Mutex::new(HashMap::new()),
        }
    }

    /// The SU that schedules `process` and the Process as that SU gives it; `None` when
    /// neither the own SU nor the gateway knows the process.
    pub async fn process(
        &self,
        process: &Id,
    ) -> Result<Option<(SuClient, SuProcess)>, LocateError> {
        let scheduler = match self.known_scheduler(process) {
            Some(scheduler) => scheduler,
            None => {
                // The own SU first: it knows its new processes before the gateway indexes them.
                if let Some(found) = self.own.process(process).await? {
                    let scheduler = scheduler_tag(process, &found.tags)?;
                    self.remember(process, &scheduler);
                    if scheduler == *self.own_address().await? {
                        return Ok(Some((self.own.clone(), found)));
                    }
                    scheduler
                } else {
                    match self.gateway.item(process).await? {
                        Some(item) => {
                            let scheduler = scheduler_tag(process, &item.tags)?;
                            self.remember(process, &scheduler);
                            scheduler
                        }
                        None => return Ok(None),
                    }
                }
            }
        };
        let su = self.su_of(process, &scheduler).await?;
        Ok(su.process(process).await?.map(|found| (su, found)))
    }

    /// The SU that schedules `process`; `None` when no one knows the process.
    pub async fn su(&self, process: &Id) -> Result<Option<SuClient>, LocateError> {
        match self.known_scheduler(process) {
            Some(scheduler) => Ok(Some(self.su_of(process, &scheduler).await?)),
            None => Ok(self.process(process).await?.map(|(su, _)| su)),
        }
    }

    fn known_scheduler(&self, process: &Id) -> Option<String> {
        self.schedulers
            .lock()
            .expect("scheduler cache")
            .get(process)
            .cloned()
    }

    fn remember(&self, process: &Id, scheduler: &str) {
        let mut schedulers = self.schedulers.lock().expect("scheduler cache");
        if schedulers.len() >= SCHEDULERS_MAX {
            schedulers.clear();
        }
        schedulers.insert(*process, scheduler.to_owned());
    }

    async fn own_address(&self) -> Result<&String, UpstreamError> {
        self.own_address
            .get_or_try_init(|| async { self.own.info().await.map(|i| i.address) })
            .await
    }

    /// The SU whose wallet address is `scheduler` (`process` names the error).
    async fn su_of(&self, process: &Id, scheduler: &str) -> Result<SuClient, LocateError> {
        if scheduler == self.own_address().await? {
            return Ok(self.own.clone());
        }
        let cached = self
            .locations
            .lock()
            .expect("location cache")
            .get(scheduler)
            .filter(|(_, until)| *until > Instant::now())
            .map(|(url, _)| url.clone());
        if let Some(url) = cached {
            return Ok(self.own.with_base(&url));
        }
        let tags = self
            .gateway
            .scheduler_location(scheduler)
            .await?
            .ok_or_else(|| LocateError::UnknownScheduler {
                process: *process,
                scheduler: scheduler.to_owned(),
            })?;
        let location = Location::from_tags(&tags, self.ttl_default).map_err(|why| {
            LocateError::BadLocation {
                scheduler: scheduler.to_owned(),
                why,
            }
        })?;
        tracing::info!(scheduler, url = location.url, "SU located");
        let mut locations = self.locations.lock().expect("location cache");
        if locations.len() >= LOCATIONS_MAX {
            locations.clear();
        }
        let now = Instant::now();
        let until = now
            .checked_add(location.ttl)
            .unwrap_or(now + self.ttl_default);
        locations.insert(scheduler.to_owned(), (location.url.clone(), until));
        Ok(self.own.with_base(&location.url))
    }
}

fn scheduler_tag(process: &Id, tags: &[ao_core::Tag]) -> Result<String, LocateError> {
    tags.iter()
        .find(|t| t.name == "Scheduler")
        .map(|t| t.value.clone())
        .ok_or(LocateError::NoScheduler { process: *process })
}
