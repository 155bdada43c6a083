//! Counters and gauges the SU exports at `GET /metrics` in the Prometheus text format.
//! Plain atomics: recording never blocks and never allocates. Must never hold a lock.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Upper bounds of the commit batch size histogram buckets.
const BATCH_BUCKETS: [u64; 12] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048];

#[derive(Debug, Default)]
pub struct Metrics {
    pub items_ordered: AtomicU64,
    pub duplicates: AtomicU64,
    pub client_errors: AtomicU64,
    pub server_errors: AtomicU64,
    pub outbox_depth: AtomicU64,
    pub uploads_confirmed: AtomicU64,
    pub upload_failures: AtomicU64,
    pub commits: AtomicU64,
    pub commit_failures: AtomicU64,
    pub connections_refused: AtomicU64,
    pub block_height: AtomicU64,
    batch_buckets: [AtomicU64; BATCH_BUCKETS.len()],
    batch_sum: AtomicU64,
    commit_micros: AtomicU64,
}

impl Metrics {
    pub fn record_batch(&self, size: u64, took: std::time::Duration) {
        self.commits.fetch_add(1, Relaxed);
        self.commit_micros
            .fetch_add(took.as_micros() as u64, Relaxed);
        self.batch_sum.fetch_add(size, Relaxed);
        if let Some(i) = BATCH_BUCKETS.iter().position(|b| size <= *b) {
            self.batch_buckets[i].fetch_add(1, Relaxed);
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        let mut counter = |name: &str, help: &str, kind: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        let c = "counter";
        let g = "gauge";
        counter(
            "su_items_ordered_total",
            "Entries ordered and stored.",
            c,
            self.items_ordered.load(Relaxed),
        );
        counter(
            "su_duplicates_total",
            "Items refused as duplicates.",
            c,
            self.duplicates.load(Relaxed),
        );
        counter(
            "su_client_errors_total",
            "Requests answered 4xx.",
            c,
            self.client_errors.load(Relaxed),
        );
        counter(
            "su_server_errors_total",
            "Requests answered 5xx.",
            c,
            self.server_errors.load(Relaxed),
        );
        counter(
            "su_outbox_depth",
            "Entries waiting for permanent storage.",
            g,
            self.outbox_depth.load(Relaxed),
        );
        counter(
            "su_uploads_confirmed_total",
            "Items permanent storage confirmed.",
            c,
            self.uploads_confirmed.load(Relaxed),
        );
        counter(
            "su_upload_failures_total",
            "Failed upload attempts.",
            c,
            self.upload_failures.load(Relaxed),
        );
        counter(
            "su_commit_failures_total",
            "Write transactions that failed.",
            c,
            self.commit_failures.load(Relaxed),
        );
        counter(
            "su_connections_refused_total",
            "Connections refused at the limit.",
            c,
            self.connections_refused.load(Relaxed),
        );
        counter(
            "su_block_height",
            "Last block height read from the gateway.",
            g,
            self.block_height.load(Relaxed),
        );
        let micros = self.commit_micros.load(Relaxed);
        let _ = writeln!(
            out,
            "# HELP su_commit_seconds_total Time spent writing and committing.\n\
             # TYPE su_commit_seconds_total counter\nsu_commit_seconds_total {}.{:06}",
            micros / 1_000_000,
            micros % 1_000_000
        );
        let name = "su_commit_batch_size";
        let _ = writeln!(
            out,
            "# HELP {name} Writes per durable commit.\n# TYPE {name} histogram"
        );
        let mut cumulative = 0;
        for (bound, count) in BATCH_BUCKETS.iter().zip(&self.batch_buckets) {
            cumulative += count.load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let commits = self.commits.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {commits}");
        let _ = writeln!(out, "{name}_sum {}", self.batch_sum.load(Relaxed));
        let _ = writeln!(out, "{name}_count {commits}");
        out
    }
}
