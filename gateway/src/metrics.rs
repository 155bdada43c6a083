//! Counters and gauges the gateway exports at `GET /metrics` in the Prometheus text format.
//! Plain atomics: recording never blocks and never allocates. Must never hold a lock.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

#[derive(Debug, Default)]
pub struct Metrics {
    pub uploads: AtomicU64,
    pub duplicate_uploads: AtomicU64,
    pub items_stored: AtomicU64,
    pub graphql_queries: AtomicU64,
    pub graphql_errors: AtomicU64,
    pub data_reads: AtomicU64,
    pub client_errors: AtomicU64,
    pub server_errors: AtomicU64,
    pub commits: AtomicU64,
    pub commit_failures: AtomicU64,
    pub committed_requests: AtomicU64,
    pub commit_micros: AtomicU64,
    pub block_height: AtomicU64,
}

impl Metrics {
    pub fn record_commit(&self, requests: u64, took: Duration) {
        self.commits.fetch_add(1, Relaxed);
        self.committed_requests.fetch_add(requests, Relaxed);
        self.commit_micros
            .fetch_add(took.as_micros() as u64, Relaxed);
    }

    pub fn render(&self) -> String {
        let rows: [(&str, &str, &str, &AtomicU64); 13] = [
            (
                "gateway_uploads_total",
                "Uploads accepted (duplicates included).",
                "counter",
                &self.uploads,
            ),
            (
                "gateway_duplicate_uploads_total",
                "Uploads of an item already stored.",
                "counter",
                &self.duplicate_uploads,
            ),
            (
                "gateway_items_stored_total",
                "Items stored, nested items included.",
                "counter",
                &self.items_stored,
            ),
            (
                "gateway_graphql_queries_total",
                "GraphQL requests answered.",
                "counter",
                &self.graphql_queries,
            ),
            (
                "gateway_graphql_errors_total",
                "GraphQL requests answered with errors.",
                "counter",
                &self.graphql_errors,
            ),
            (
                "gateway_data_reads_total",
                "Data served by /raw/{id} and /{id}.",
                "counter",
                &self.data_reads,
            ),
            (
                "gateway_client_errors_total",
                "Requests answered with a 4xx status.",
                "counter",
                &self.client_errors,
            ),
            (
                "gateway_server_errors_total",
                "Requests answered with a 5xx status.",
                "counter",
                &self.server_errors,
            ),
            (
                "gateway_commits_total",
                "Database transactions committed.",
                "counter",
                &self.commits,
            ),
            (
                "gateway_commit_failures_total",
                "Database transactions that failed.",
                "counter",
                &self.commit_failures,
            ),
            (
                "gateway_committed_requests_total",
                "Write requests in committed transactions.",
                "counter",
                &self.committed_requests,
            ),
            (
                "gateway_commit_micros_total",
                "Time spent writing and committing, microseconds.",
                "counter",
                &self.commit_micros,
            ),
            (
                "gateway_block_height",
                "Height of the newest block.",
                "gauge",
                &self.block_height,
            ),
        ];
        let mut out = String::with_capacity(2048);
        for (name, help, kind, value) in rows {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}",
                value.load(Relaxed)
            );
        }
        out
    }
}
