//! Counters for `GET /metrics` (Prometheus text format). Owns: the names and the rendering.
//! Must never: block, or be read to make a decision (they are observations only).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Metrics {
    pub messages_evaluated: AtomicU64,
    pub message_errors: AtomicU64,
    pub cron_evaluated: AtomicU64,
    pub results_served: AtomicU64,
    pub dry_runs: AtomicU64,
    pub process_loads: AtomicU64,
    pub processes_loaded: AtomicU64,
    pub process_memory_bytes: AtomicU64,
    pub evictions: AtomicU64,
    pub processes_stopped: AtomicU64,
    pub checkpoints_saved: AtomicU64,
    pub checkpoints_refused: AtomicU64,
    pub client_errors: AtomicU64,
    pub server_errors: AtomicU64,
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let rows: [(&str, &str, &str, &AtomicU64); 14] = [
            (
                "ao_cu_messages_evaluated_total",
                "counter",
                "Scheduled messages evaluated.",
                &self.messages_evaluated,
            ),
            (
                "ao_cu_message_errors_total",
                "counter",
                "Evaluated messages (scheduled or cron) whose result carries Error.",
                &self.message_errors,
            ),
            (
                "ao_cu_cron_messages_evaluated_total",
                "counter",
                "Cron messages evaluated.",
                &self.cron_evaluated,
            ),
            (
                "ao_cu_results_served_total",
                "counter",
                "Results answered by /result.",
                &self.results_served,
            ),
            (
                "ao_cu_dry_runs_total",
                "counter",
                "Dry runs evaluated.",
                &self.dry_runs,
            ),
            (
                "ao_cu_process_loads_total",
                "counter",
                "Processes loaded into memory.",
                &self.process_loads,
            ),
            (
                "ao_cu_processes_loaded",
                "gauge",
                "Processes in memory now.",
                &self.processes_loaded,
            ),
            (
                "ao_cu_process_memory_bytes",
                "gauge",
                "Lua memory of the processes in memory now, bytes.",
                &self.process_memory_bytes,
            ),
            (
                "ao_cu_process_evictions_total",
                "counter",
                "Idle processes unloaded (checkpoint saved) to keep under --processes-max or \
                 --memory-budget-mb.",
                &self.evictions,
            ),
            (
                "ao_cu_processes_stopped_total",
                "counter",
                "Processes stopped by a broken schedule or an engine error.",
                &self.processes_stopped,
            ),
            (
                "ao_cu_checkpoints_saved_total",
                "counter",
                "Checkpoints written to the database.",
                &self.checkpoints_saved,
            ),
            (
                "ao_cu_checkpoints_refused_total",
                "counter",
                "Checkpoints the state could not give (suspended coroutines).",
                &self.checkpoints_refused,
            ),
            (
                "ao_cu_http_client_errors_total",
                "counter",
                "HTTP answers with a 4xx status.",
                &self.client_errors,
            ),
            (
                "ao_cu_http_server_errors_total",
                "counter",
                "HTTP answers with a 5xx status.",
                &self.server_errors,
            ),
        ];
        let mut text = String::new();
        for (name, kind, help, value) in rows {
            let _ = writeln!(text, "# HELP {name} {help}");
            let _ = writeln!(text, "# TYPE {name} {kind}");
            let _ = writeln!(text, "{name} {}", value.load(Ordering::Relaxed));
        }
        text
    }
}
