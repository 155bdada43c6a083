//! What the MU has promised to do, as it is kept on disk: one [`Task`] per pending push step.
//! A task is written before its effect is attempted and removed in the same transaction that
//! adds the tasks it leads to, so a crash at any point leaves every step either done (and its
//! successors queued) or still queued. Must never hold anything that is not reproducible from
//! the task itself (no connections, no deadlines).

use serde::{Deserialize, Serialize};

/// One step of the push loop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Work {
    /// Send a signed item (a pushed Message, or a Process for a spawn) to its SU; a Message to a
    /// wallet goes to permanent storage instead. Afterwards its result is cranked.
    Deliver { item: Vec<u8> },
    /// Read the result of `message` on `process` from the CU and push its outbox.
    Crank { process: String, message: String },
    /// Assign `message` to `process` through the process's SU, then crank that evaluation.
    Assign {
        process: String,
        message: String,
        base_layer: bool,
        exclude: Vec<String>,
    },
}

/// A [`Work`] with the chain it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub work: Work,
    /// Pushes between the user's message (depth 0) and this step.
    pub depth: u32,
    /// The user's message that started the chain (the `Pushed-For` tag), or the monitored
    /// process for pushes out of cron results.
    pub pushed_for: String,
    /// Tasks queued once this one has succeeded (a spawn's `Spawned` notice waits for the
    /// child to be scheduled).
    pub then: Vec<Task>,
}

impl Task {
    pub fn new(work: Work, depth: u32, pushed_for: impl Into<String>) -> Task {
        Task {
            work,
            depth,
            pushed_for: pushed_for.into(),
            then: Vec::new(),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        // Serializing plain owned data into a Vec cannot fail.
        postcard::to_allocvec(self).expect("a task serializes")
    }

    pub fn decode(bytes: &[u8]) -> Result<Task, postcard::Error> {
        postcard::from_bytes(bytes)
    }

    /// A short description for logs.
    pub fn describe(&self) -> String {
        match &self.work {
            Work::Deliver { item } => match ao_core::DataItem::decode(item) {
                Ok(item) => format!("deliver {}", item.id()),
                Err(_) => "deliver <undecodable item>".to_owned(),
            },
            Work::Crank { process, message } => format!("crank {message} on {process}"),
            Work::Assign {
                process, message, ..
            } => format!("assign {message} to {process}"),
        }
    }
}

/// A monitored process: who asked, and how far its cron results have been pushed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Monitor {
    /// Addresses that signed a monitor request; the monitor stops when the last one leaves.
    pub subscribers: Vec<String>,
    /// Whether the first poll has run: it skips every cron result that existed before the
    /// subscription (they are not pushed) by setting `cursor` to the newest.
    pub started: bool,
    /// The CU cursor of the last cron result seen; `None`: none yet.
    pub cursor: Option<String>,
}

impl Monitor {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("a monitor serializes")
    }

    pub fn decode(bytes: &[u8]) -> Result<Monitor, postcard::Error> {
        postcard::from_bytes(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_round_trip() {
        let mut task = Task::new(
            Work::Assign {
                process: "p".into(),
                message: "m".into(),
                base_layer: true,
                exclude: vec!["Data".into()],
            },
            3,
            "origin",
        );
        task.then.push(Task::new(
            Work::Crank {
                process: "p".into(),
                message: "m".into(),
            },
            3,
            "origin",
        ));
        assert_eq!(Task::decode(&task.encode()).unwrap(), task);
        let monitor = Monitor {
            subscribers: vec!["a".into()],
            started: true,
            cursor: Some("c".into()),
        };
        assert_eq!(Monitor::decode(&monitor.encode()).unwrap(), monitor);
    }
}
