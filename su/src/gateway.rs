//! The gateway client: the block height from `GET {gateway}/info` (`{"height": n}`), refreshed
//! in the background, and raw data items for assignments from `GET {gateway}{item_path}`.
//! Must never be trusted: items it returns are verified by the caller, and a gateway that is
//! down only leaves the height where it was.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ao_core::Id;
use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use crate::config::GatewayConfig;
use crate::error::ApiError;
use crate::metrics::Metrics;

/// Largest body read from the gateway for an item to assign.
const FETCH_BYTES_MAX: usize = 16 * 1024 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Gateway {
    client: reqwest::Client,
    config: GatewayConfig,
}

#[derive(serde::Deserialize)]
struct Info {
    height: u64,
}

impl Gateway {
    pub fn new(config: GatewayConfig) -> Gateway {
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .unwrap_or_default();
        Gateway { client, config }
    }

    pub async fn height(&self) -> Result<u64, reqwest::Error> {
        let url = format!("{}/info", self.config.url);
        let info: Info = self
            .client
            .get(url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(info.height)
    }

    /// The raw bytes at the item path, or `None` if the gateway does not have them.
    pub async fn fetch_item(&self, id: &Id) -> Result<Option<Bytes>, ApiError> {
        let path = self.config.item_path.replace("{id}", &id.to_string());
        let url = format!("{}{}", self.config.url, path);
        let response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| ApiError::Gateway(e.to_string()))?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(ApiError::Gateway(format!(
                "item fetch answered {}",
                response.status()
            )));
        }
        if response
            .content_length()
            .is_some_and(|n| n > FETCH_BYTES_MAX as u64)
        {
            return Ok(None);
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| ApiError::Gateway(e.to_string()))?;
        Ok((body.len() <= FETCH_BYTES_MAX).then_some(body))
    }
}

/// Reads the height now, then every `height_refresh`, until `shutdown`.
pub async fn refresh_height(
    gateway: Arc<Gateway>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(gateway.config.height_refresh);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => match gateway.height().await {
                Ok(height) => {
                    metrics.block_height.fetch_max(height, Ordering::Relaxed);
                }
                Err(e) => tracing::warn!(error = %e, "cannot read the block height from the gateway"),
            },
        }
    }
}
