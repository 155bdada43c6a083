//! Counters and gauges the MU exports at `GET /metrics` in the Prometheus text format.
//! Plain atomics: recording never blocks and never allocates. Must never hold a lock.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Debug, Default)]
pub struct Metrics {
    pub items_accepted: AtomicU64,
    pub assignments_accepted: AtomicU64,
    pub client_errors: AtomicU64,
    pub server_errors: AtomicU64,
    pub messages_pushed: AtomicU64,
    pub spawns_pushed: AtomicU64,
    pub wallet_uploads: AtomicU64,
    pub cranks: AtomicU64,
    pub retries: AtomicU64,
    pub set_aside: AtomicU64,
    pub depth_bound_hits: AtomicU64,
    pub queue_depth: AtomicU64,
    pub monitors: AtomicU64,
    pub cron_results_pushed: AtomicU64,
}

impl Metrics {
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        let rows: [(&str, &str, &str, &AtomicU64); 14] = [
            (
                "mu_items_accepted_total",
                "Items forwarded to an SU and acknowledged.",
                "counter",
                &self.items_accepted,
            ),
            (
                "mu_assignments_accepted_total",
                "Assignments forwarded and acknowledged.",
                "counter",
                &self.assignments_accepted,
            ),
            (
                "mu_client_errors_total",
                "Requests answered 4xx.",
                "counter",
                &self.client_errors,
            ),
            (
                "mu_server_errors_total",
                "Requests answered 5xx.",
                "counter",
                &self.server_errors,
            ),
            (
                "mu_messages_pushed_total",
                "Outbox messages delivered to their SU.",
                "counter",
                &self.messages_pushed,
            ),
            (
                "mu_spawns_pushed_total",
                "Spawned processes delivered to their SU.",
                "counter",
                &self.spawns_pushed,
            ),
            (
                "mu_wallet_uploads_total",
                "Messages to wallets uploaded to permanent storage.",
                "counter",
                &self.wallet_uploads,
            ),
            (
                "mu_cranks_total",
                "Results read from the CU.",
                "counter",
                &self.cranks,
            ),
            (
                "mu_retries_total",
                "Push steps that failed and were rescheduled.",
                "counter",
                &self.retries,
            ),
            (
                "mu_set_aside_total",
                "Push steps given up and kept on disk.",
                "counter",
                &self.set_aside,
            ),
            (
                "mu_depth_bound_hits_total",
                "Outboxes not pushed because the chain reached the depth bound.",
                "counter",
                &self.depth_bound_hits,
            ),
            (
                "mu_queue_depth",
                "Push steps waiting or running.",
                "gauge",
                &self.queue_depth,
            ),
            (
                "mu_monitors",
                "Monitored processes.",
                "gauge",
                &self.monitors,
            ),
            (
                "mu_cron_results_pushed_total",
                "Cron results of monitored processes pushed.",
                "counter",
                &self.cron_results_pushed,
            ),
        ];
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
