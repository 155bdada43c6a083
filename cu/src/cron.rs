//! Cron: the messages the CU makes itself for a process spawned with `Cron-Interval` tags
//! (PROTOCOL.md §3, §6). Owns: parsing the intervals and their `Cron-Tag-*` tags, the one
//! canonical order of ticks, which ticks are due before a scheduled message, and the `msg` a
//! tick becomes. Must never: read a clock or do I/O (every bound comes from the schedule or
//! from the SU), or let anything but the ticks themselves and the schedule decide the order:
//! that is what makes two CUs evaluate the same ticks at the same places.
//!
//! The rule (ARCHITECTURE.md § cu, "Cron"): before a scheduled message with `Timestamp` `ts`
//! and `Block-Height` `h`, every time tick at or before `ts` is evaluated, in time order, then
//! every block tick at or below `h`, in height order; ticks of several crons at the same
//! instant go in tag order. Catching up after the last scheduled message evaluates the time
//! ticks up to a bound the SU vouches for, and block ticks only for a process without time
//! crons; in both cases that is a prefix of the same order, so how often a CU catches up never
//! changes what it evaluates.

use ao_core::Tag;
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

/// The tag that starts a cron: `N-unit`.
pub const CRON_INTERVAL_TAG: &str = "Cron-Interval";
/// Tags after a `Cron-Interval` with this prefix become the cron message's tags.
pub const CRON_TAG_PREFIX: &str = "Cron-Tag-";
/// The shortest time-based interval.
pub const TIME_INTERVAL_MS_MIN: u64 = 1000;
/// `Cron-Interval` tags one process may carry.
pub const CRONS_MAX: usize = 16;
/// Tags the CU removes from a cron message, as from scheduled ones: a process trusts them.
const TAGS_HIDDEN: [&str; 2] = ["From", "Owner"];

const SECOND_MS: u64 = 1000;
const MINUTE_MS: u64 = 60 * SECOND_MS;
const HOUR_MS: u64 = 60 * MINUTE_MS;
const DAY_MS: u64 = 24 * HOUR_MS;
/// 365.25 days and a twelfth of that, as the `ms` library the reference CU parses with.
const YEAR_MS: u64 = 365 * DAY_MS + DAY_MS / 4;
const MONTH_MS: u64 = YEAR_MS / 12;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error(
        "Cron-Interval {value:?} is not `N-unit` with N a whole number (e.g. `5-minutes`, `10-blocks`)"
    )]
    Format { value: String },
    #[error(
        "Cron-Interval {value:?}: {unit:?} is not a unit (milliseconds, seconds, minutes, hours, \
         days, weeks, months, years or blocks)"
    )]
    Unit { value: String, unit: String },
    #[error("Cron-Interval {value:?}: the interval must be at least 1")]
    Zero { value: String },
    #[error("Cron-Interval {value:?} is {ms} ms; a time-based cron needs at least 1 second")]
    TooShort { value: String, ms: u64 },
    #[error("Cron-Interval {value:?} is too long")]
    TooLong { value: String },
    #[error("tag {name} comes before any Cron-Interval")]
    OrphanTag { name: String },
    #[error("the process has {count} Cron-Interval tags; at most {max} are allowed")]
    TooMany { count: usize, max: usize },
}

/// How often a cron ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    /// Every this many milliseconds (at least [`TIME_INTERVAL_MS_MIN`]).
    Millis(u64),
    /// Every this many blocks (at least 1).
    Blocks(u64),
}

impl Interval {
    /// Parses `N-unit`: N a whole number, the unit any spelling the `ms` library knows
    /// (`ms`, `second(s)`, `sec(s)`, `s`, `minute(s)`, `min(s)`, `m`, `hour(s)`, `hr(s)`, `h`,
    /// `day(s)`, `d`, `week(s)`, `w`, `month(s)`, `mo`, `year(s)`, `yr(s)`, `y`,
    /// `millisecond(s)`, `msec(s)`) or `block(s)`, in any case.
    pub fn parse(value: &str) -> Result<Interval, CronError> {
        let format = || CronError::Format {
            value: value.to_owned(),
        };
        let (count, unit) = value.split_once('-').ok_or_else(format)?;
        let (count, unit) = (count.trim(), unit.trim().to_ascii_lowercase());
        if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format());
        }
        let too_long = || CronError::TooLong {
            value: value.to_owned(),
        };
        let count: u64 = count.parse().map_err(|_| too_long())?;
        if count == 0 {
            return Err(CronError::Zero {
                value: value.to_owned(),
            });
        }
        let unit_ms = match unit.as_str() {
            "block" | "blocks" => return Ok(Interval::Blocks(count)),
            "millisecond" | "milliseconds" | "msec" | "msecs" | "ms" => 1,
            "second" | "seconds" | "sec" | "secs" | "s" => SECOND_MS,
            "minute" | "minutes" | "min" | "mins" | "m" => MINUTE_MS,
            "hour" | "hours" | "hr" | "hrs" | "h" => HOUR_MS,
            "day" | "days" | "d" => DAY_MS,
            "week" | "weeks" | "w" => 7 * DAY_MS,
            "month" | "months" | "mo" => MONTH_MS,
            "year" | "years" | "yr" | "yrs" | "y" => YEAR_MS,
            _ => {
                return Err(CronError::Unit {
                    value: value.to_owned(),
                    unit,
                });
            }
        };
        let ms = count.checked_mul(unit_ms).ok_or_else(too_long)?;
        if ms < TIME_INTERVAL_MS_MIN {
            return Err(CronError::TooShort {
                value: value.to_owned(),
                ms,
            });
        }
        Ok(Interval::Millis(ms))
    }
}

/// One cron: its interval and the tags of its messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    pub interval: Interval,
    pub tags: Vec<Tag>,
}

/// The crons of a process tag list, in tag order: each `Cron-Interval` starts one, and the
/// `Cron-Tag-<Name>` tags after it (until the next `Cron-Interval`) become its tags `<Name>`.
pub fn parse_crons(tags: &[Tag]) -> Result<Vec<Cron>, CronError> {
    let mut crons: Vec<Cron> = Vec::new();
    for tag in tags {
        if tag.name == CRON_INTERVAL_TAG {
            if crons.len() == CRONS_MAX {
                let count = tags.iter().filter(|t| t.name == CRON_INTERVAL_TAG).count();
                return Err(CronError::TooMany {
                    count,
                    max: CRONS_MAX,
                });
            }
            crons.push(Cron {
                interval: Interval::parse(&tag.value)?,
                tags: Vec::new(),
            });
        } else if let Some(name) = tag.name.strip_prefix(CRON_TAG_PREFIX) {
            let cron = crons.last_mut().ok_or_else(|| CronError::OrphanTag {
                name: tag.name.clone(),
            })?;
            cron.tags.push(Tag::new(name, tag.value.clone()));
        }
    }
    Ok(crons)
}

/// How far a process's crons have run, and the clock cron messages read. Stored with every
/// checkpoint, so a restart neither repeats nor skips a tick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CronPosition {
    /// Per cron, in tag order, the index `k ≥ 1` of its next tick (`origin + k × interval`).
    pub next: Vec<u64>,
    /// Cron messages evaluated so far: the sequence number (and `/cron` cursor) of the next.
    pub seq: u64,
    /// `Timestamp` of the last evaluated message, scheduled or cron.
    pub timestamp: u64,
    /// `Block-Height` of the last evaluated message, scheduled or cron.
    pub block_height: u64,
}

impl CronPosition {
    /// A scheduled message was evaluated: cron messages after it read its clock.
    pub fn passed(&mut self, timestamp: u64, block_height: u64) {
        self.timestamp = timestamp;
        self.block_height = block_height;
    }
}

/// Where a tick falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickAt {
    /// At this time (ms).
    Time(u64),
    /// At this block height.
    Block(u64),
}

/// One due tick of cron number `cron` (tag order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    pub cron: usize,
    pub at: TickAt,
}

/// Up to where ticks are due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// Time ticks at or before this time.
    pub time: u64,
    /// Block ticks at or below this height; `None`: no block tick.
    pub height: Option<u64>,
}

/// A process's crons, where they count from, and what their messages carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSchedule {
    crons: Vec<Cron>,
    /// The process's own `Timestamp` and `Block-Height`: ticks count from them.
    origin_time: u64,
    origin_height: u64,
    process: String,
    /// The process owner as the process sees it (`Owner` and `From` of every cron message).
    owner: String,
}

impl CronSchedule {
    /// `None` when `tags` carry no `Cron-Interval`.
    pub fn from_tags(
        tags: &[Tag],
        process: String,
        owner: String,
        origin_time: u64,
        origin_height: u64,
    ) -> Result<Option<CronSchedule>, CronError> {
        let crons = parse_crons(tags)?;
        if crons.is_empty() {
            return Ok(None);
        }
        Ok(Some(CronSchedule {
            crons,
            origin_time,
            origin_height,
            process,
            owner,
        }))
    }

    pub fn crons(&self) -> &[Cron] {
        &self.crons
    }

    /// Whether any cron counts time (then catching up runs no block ticks).
    pub fn has_time_crons(&self) -> bool {
        self.crons
            .iter()
            .any(|c| matches!(c.interval, Interval::Millis(_)))
    }

    /// The position before any tick: the process message just evaluated.
    pub fn start(&self) -> CronPosition {
        CronPosition {
            next: vec![1; self.crons.len()],
            seq: 0,
            timestamp: self.origin_time,
            block_height: self.origin_height,
        }
    }

    /// What to catch up to after the last scheduled message, when the SU says its clock is at
    /// `time` and its block height at `height`: every time tick up to `time`, and block ticks
    /// up to `height` only when there are no time crons (a block tick's place among time ticks
    /// is fixed only by the next scheduled message).
    pub fn catch_up_to(&self, time: u64, height: u64) -> Due {
        Due {
            time,
            height: (!self.has_time_crons()).then_some(height),
        }
    }

    /// The first tick after `position`, in the canonical order, that is `due`: the earliest
    /// time tick, else the lowest block tick; ties in tag order.
    pub fn next_due(&self, position: &CronPosition, due: Due) -> Option<Tick> {
        let mut time: Option<(u64, usize)> = None;
        let mut block: Option<(u64, usize)> = None;
        for cron in 0..self.crons.len() {
            // Strictly earlier only: on a tie the cron first in tag order keeps its place.
            match self.tick_at(position, cron) {
                Some(TickAt::Time(at))
                    if at <= due.time && time.is_none_or(|(best, _)| at < best) =>
                {
                    time = Some((at, cron));
                }
                Some(TickAt::Block(at))
                    if due.height.is_some_and(|h| at <= h)
                        && block.is_none_or(|(best, _)| at < best) =>
                {
                    block = Some((at, cron));
                }
                _ => {}
            }
        }
        match (time, block) {
            (Some((at, cron)), _) => Some(Tick {
                cron,
                at: TickAt::Time(at),
            }),
            (None, Some((at, cron))) => Some(Tick {
                cron,
                at: TickAt::Block(at),
            }),
            (None, None) => None,
        }
    }

    /// The `msg` of `tick` at `position` (PROTOCOL.md §6): no `Id`, `Owner` = `From` = the
    /// process owner, the cron's tags, `Cron = true`. A time tick carries its time and the
    /// block height of the message before it; a block tick its height and the time of the
    /// message before it.
    pub fn message(&self, tick: Tick, position: &CronPosition) -> Json {
        let (timestamp, block_height) = match tick.at {
            TickAt::Time(time) => (time, position.block_height),
            TickAt::Block(height) => (position.timestamp, height),
        };
        let tags: Vec<&Tag> = self.crons[tick.cron]
            .tags
            .iter()
            .filter(|t| !TAGS_HIDDEN.contains(&t.name.as_str()))
            .collect();
        json!({
            "Owner": self.owner,
            "From": self.owner,
            "Target": self.process,
            "Tags": tags,
            "Timestamp": timestamp,
            "Block-Height": block_height,
            "Cron": true,
        })
    }

    /// `position` after `tick` was evaluated.
    pub fn advance(&self, position: &mut CronPosition, tick: Tick) {
        debug_assert_eq!(Some(tick.at), self.tick_at(position, tick.cron));
        position.next[tick.cron] += 1;
        position.seq += 1;
        match tick.at {
            TickAt::Time(time) => position.timestamp = time,
            TickAt::Block(height) => position.block_height = height,
        }
    }

    /// Where the next tick of cron number `cron` falls (`None` past the end of time).
    fn tick_at(&self, position: &CronPosition, cron: usize) -> Option<TickAt> {
        let k = position.next[cron];
        match self.crons[cron].interval {
            Interval::Millis(ms) => self
                .origin_time
                .checked_add(ms.checked_mul(k)?)
                .map(TickAt::Time),
            Interval::Blocks(n) => self
                .origin_height
                .checked_add(n.checked_mul(k)?)
                .map(TickAt::Block),
        }
    }

    /// Whether ticks already evaluated lie after a scheduled message at `timestamp` and
    /// `block_height`: a tick later than the message ran before it, which a CU that caught up
    /// less would not have done (the SU ordered a message before the time it vouched for).
    pub fn overtaken(&self, position: &CronPosition, timestamp: u64, block_height: u64) -> bool {
        self.crons
            .iter()
            .zip(&position.next)
            .any(|(cron, k)| match cron.interval {
                _ if *k <= 1 => false,
                Interval::Millis(ms) => {
                    self.origin_time.saturating_add(ms.saturating_mul(k - 1)) > timestamp
                }
                Interval::Blocks(n) => {
                    self.origin_height.saturating_add(n.saturating_mul(k - 1)) > block_height
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tag(name: &str, value: &str) -> Tag {
        Tag::new(name, value)
    }

    #[test]
    fn intervals_parse_in_every_spelling() {
        let ms = |text: &str| Interval::parse(text).unwrap();
        assert_eq!(ms("1-second"), Interval::Millis(1000));
        assert_eq!(ms("1-seconds"), Interval::Millis(1000));
        assert_eq!(ms(" 2 - Hours "), Interval::Millis(2 * HOUR_MS));
        assert_eq!(ms("5-minutes"), Interval::Millis(300_000));
        assert_eq!(ms("5-m"), Interval::Millis(300_000));
        assert_eq!(ms("1000-milliseconds"), Interval::Millis(1000));
        assert_eq!(ms("1500-ms"), Interval::Millis(1500));
        assert_eq!(ms("1-day"), Interval::Millis(86_400_000));
        assert_eq!(ms("2-weeks"), Interval::Millis(14 * 86_400_000));
        assert_eq!(ms("1-month"), Interval::Millis(2_629_800_000));
        assert_eq!(ms("1-year"), Interval::Millis(31_557_600_000));
        assert_eq!(ms("10-blocks"), Interval::Blocks(10));
        assert_eq!(ms("1-block"), Interval::Blocks(1));
    }

    #[test]
    fn bad_intervals_are_refused_with_the_reason() {
        let err = |text: &str| Interval::parse(text).unwrap_err();
        assert!(matches!(
            err("999-milliseconds"),
            CronError::TooShort { ms: 999, .. }
        ));
        assert!(matches!(err("0-seconds"), CronError::Zero { .. }));
        assert!(matches!(err("0-blocks"), CronError::Zero { .. }));
        assert!(matches!(err("1-fortnight"), CronError::Unit { .. }));
        assert!(matches!(err("seconds"), CronError::Format { .. }));
        assert!(matches!(err("-1-seconds"), CronError::Format { .. }));
        assert!(matches!(err("1.5-hours"), CronError::Format { .. }));
        assert!(matches!(err("x-blocks"), CronError::Format { .. }));
        assert!(matches!(
            err("99999999999999999999-years"),
            CronError::TooLong { .. }
        ));
        assert!(matches!(
            err("9999999999999-years"),
            CronError::TooLong { .. }
        ));
        let text = err("500-ms").to_string();
        assert!(text.contains("at least 1 second"), "{text}");
    }

    #[test]
    fn each_interval_takes_the_cron_tags_after_it() {
        let tags = [
            tag("Name", "clock"),
            tag("Cron-Interval", "1-minute"),
            tag("Cron-Tag-Action", "Tick"),
            tag("Other", "x"),
            tag("Cron-Tag-Kind", "fast"),
            tag("Cron-Interval", "2-blocks"),
            tag("Cron-Tag-Action", "Block"),
        ];
        let crons = parse_crons(&tags).unwrap();
        assert_eq!(
            crons,
            [
                Cron {
                    interval: Interval::Millis(60_000),
                    tags: vec![tag("Action", "Tick"), tag("Kind", "fast")],
                },
                Cron {
                    interval: Interval::Blocks(2),
                    tags: vec![tag("Action", "Block")],
                },
            ]
        );
        assert_eq!(parse_crons(&[tag("Name", "x")]).unwrap(), []);
        assert!(matches!(
            parse_crons(&[
                tag("Cron-Tag-Action", "Tick"),
                tag("Cron-Interval", "1-hour")
            ]),
            Err(CronError::OrphanTag { .. })
        ));
        let many: Vec<Tag> = (0..=CRONS_MAX)
            .map(|_| tag("Cron-Interval", "1-hour"))
            .collect();
        assert!(matches!(
            parse_crons(&many),
            Err(CronError::TooMany { count: 17, max: 16 })
        ));
    }

    fn schedule(tags: &[Tag]) -> CronSchedule {
        CronSchedule::from_tags(tags, "pid".into(), "owner".into(), 10_000, 100)
            .unwrap()
            .unwrap()
    }

    /// What the worker does: every due tick before each scheduled message `(ts, height)`, or up
    /// to a catch-up bound. Returns the evaluated messages (`S ts` marks a scheduled one).
    fn run(crons: &CronSchedule, events: &[Event]) -> Vec<String> {
        let mut position = crons.start();
        let mut seen = Vec::new();
        for event in events {
            let due = match *event {
                Event::Scheduled(time, height) => Due {
                    time,
                    height: Some(height),
                },
                Event::CatchUp(time, height) => crons.catch_up_to(time, height),
            };
            while let Some(tick) = crons.next_due(&position, due) {
                let msg = crons.message(tick, &position);
                seen.push(format!(
                    "{} {} {} {}",
                    msg["Tags"][0]["value"].as_str().unwrap(),
                    msg["Timestamp"],
                    msg["Block-Height"],
                    position.seq
                ));
                crons.advance(&mut position, tick);
            }
            if let Event::Scheduled(time, height) = *event {
                assert!(!crons.overtaken(&position, time, height));
                seen.push(format!("S {time} {height}"));
                position.passed(time, height);
            }
        }
        seen
    }

    #[derive(Debug, Clone, Copy)]
    enum Event {
        Scheduled(u64, u64),
        CatchUp(u64, u64),
    }

    #[test]
    fn ticks_at_or_before_a_message_go_first_time_then_blocks() {
        let crons = schedule(&[
            tag("Cron-Interval", "1-second"),
            tag("Cron-Tag-Action", "Tick"),
            tag("Cron-Interval", "3-blocks"),
            tag("Cron-Tag-Action", "Block"),
        ]);
        let seen = run(
            &crons,
            &[
                Event::Scheduled(10_000, 100),
                Event::Scheduled(12_500, 101),
                Event::Scheduled(13_000, 104),
                Event::Scheduled(13_001, 104),
            ],
        );
        assert_eq!(
            seen,
            [
                "S 10000 100",
                // Time ticks carry the block height of the message before them.
                "Tick 11000 100 0",
                "Tick 12000 100 1",
                "S 12500 101",
                // A tick at the message's very time goes before it; then the block tick, at
                // the time of the message before it.
                "Tick 13000 101 2",
                "Block 13000 103 3",
                "S 13000 104",
                "S 13001 104",
            ]
        );
    }

    #[test]
    fn simultaneous_ticks_go_in_tag_order() {
        let crons = schedule(&[
            tag("Cron-Interval", "2-seconds"),
            tag("Cron-Tag-Action", "Slow"),
            tag("Cron-Interval", "1-second"),
            tag("Cron-Tag-Action", "Fast"),
        ]);
        let seen = run(&crons, &[Event::Scheduled(12_000, 100)]);
        assert_eq!(
            seen,
            [
                "Fast 11000 100 0",
                "Slow 12000 100 1",
                "Fast 12000 100 2",
                "S 12000 100"
            ]
        );
    }

    #[test]
    fn catching_up_runs_time_ticks_and_block_ticks_only_without_time_crons() {
        let mixed = schedule(&[
            tag("Cron-Interval", "1-second"),
            tag("Cron-Tag-Action", "Tick"),
            tag("Cron-Interval", "1-block"),
            tag("Cron-Tag-Action", "Block"),
        ]);
        let seen = run(&mixed, &[Event::CatchUp(12_000, 105)]);
        assert_eq!(seen, ["Tick 11000 100 0", "Tick 12000 100 1"]);
        let blocks = schedule(&[
            tag("Cron-Interval", "2-blocks"),
            tag("Cron-Tag-Action", "Block"),
        ]);
        let seen = run(&blocks, &[Event::CatchUp(12_000, 105)]);
        assert_eq!(seen, ["Block 10000 102 0", "Block 10000 104 1"]);
    }

    #[test]
    fn a_message_before_an_evaluated_tick_is_detected() {
        let crons = schedule(&[tag("Cron-Interval", "1-second")]);
        let mut position = crons.start();
        let due = crons.catch_up_to(11_500, 100);
        let tick = crons.next_due(&position, due).unwrap();
        assert_eq!(tick.at, TickAt::Time(11_000));
        crons.advance(&mut position, tick);
        assert_eq!(crons.next_due(&position, due), None);
        assert!(!crons.overtaken(&position, 11_000, 100));
        assert!(crons.overtaken(&position, 10_999, 100));
    }

    #[test]
    fn cron_messages_have_no_id_and_hide_from_and_owner_tags() {
        let crons = schedule(&[
            tag("Cron-Interval", "1-second"),
            tag("Cron-Tag-Action", "Tick"),
            tag("Cron-Tag-From", "spoof"),
        ]);
        let position = crons.start();
        let tick = crons.next_due(&position, crons.catch_up_to(11_000, 0));
        let msg = crons.message(tick.unwrap(), &position);
        assert_eq!(
            msg,
            json!({
                "Owner": "owner", "From": "owner", "Target": "pid",
                "Tags": [{ "name": "Action", "value": "Tick" }],
                "Timestamp": 11_000, "Block-Height": 100, "Cron": true,
            })
        );
    }

    /// A schedule of messages and, between them, catch-ups the SU could have vouched for
    /// (never past the next message's time or height).
    /// Time and height to the next message, and perhaps a catch-up before it (offsets).
    type Step = (u64, u64, Option<(u64, u64)>);

    fn events() -> impl Strategy<Value = Vec<Step>> {
        prop::collection::vec(
            (
                0u64..4_000,
                0u64..3,
                prop::option::of((0u64..4_000, 0u64..3)),
            ),
            1..12,
        )
    }

    fn interleave(steps: &[Step], catch_ups: bool) -> Vec<Event> {
        let (mut time, mut height) = (10_000, 100);
        let mut out = vec![Event::Scheduled(time, height)];
        for &(dt, dh, catch_up) in steps {
            let (next_time, next_height) = (time + dt, height + dh);
            if let (true, Some((ct, ch))) = (catch_ups, catch_up) {
                out.push(Event::CatchUp(time + ct.min(dt), height + ch.min(dh)));
            }
            (time, height) = (next_time, next_height);
            out.push(Event::Scheduled(time, height));
        }
        if catch_ups {
            out.push(Event::CatchUp(time + 5_000, height + 2));
        }
        out
    }

    proptest! {
        #[test]
        fn catching_up_never_changes_what_is_evaluated(steps in events(), blocks_only: bool) {
            let tags = if blocks_only {
                vec![tag("Cron-Interval", "2-blocks"), tag("Cron-Tag-Action", "B")]
            } else {
                vec![
                    tag("Cron-Interval", "1-second"), tag("Cron-Tag-Action", "T"),
                    tag("Cron-Interval", "3-seconds"), tag("Cron-Tag-Action", "U"),
                    tag("Cron-Interval", "1-block"), tag("Cron-Tag-Action", "B"),
                ]
            };
            let crons = schedule(&tags);
            let plain = run(&crons, &interleave(&steps, false));
            let caught_up = run(&crons, &interleave(&steps, true));
            // Catching up may run further at the end, never differently before.
            prop_assert!(caught_up.len() >= plain.len());
            prop_assert_eq!(&caught_up[..plain.len()], &plain[..]);
        }
    }
}
