//! Per-process budgets from the `Memory-Limit` and `Compute-Limit` tags. Owns: parsing them.
//! Must never: read configuration or the environment (the caller passes the tags).

use super::error::Error;

/// Budgets for one process. Memory bounds the whole Lua state; instructions are counted per
/// message (in steps of [`Limits::INSTRUCTION_STEP`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub memory_bytes_max: u64,
    pub instructions_max: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes_max: 512 << 20,
            instructions_max: 9_000_000_000_000,
        }
    }
}

impl Limits {
    /// The instruction hook fires every this many VM instructions; budgets are enforced at
    /// this granularity.
    pub const INSTRUCTION_STEP: u32 = 1_000;

    /// Reads `Memory-Limit` (`512-mb`, `1-gb`, `65536`, units kb/mb/gb, powers of 1024) and
    /// `Compute-Limit` (an instruction count). A process tag overrides the module's; a missing
    /// tag keeps [`Limits::default`]. Tags are `(name, value)` pairs, names case-sensitive.
    pub fn from_tags<'a>(
        module_tags: impl IntoIterator<Item = (&'a str, &'a str)>,
        process_tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Limits, Error> {
        let mut limits = Limits::default();
        for (name, value) in module_tags.into_iter().chain(process_tags) {
            match name {
                "Memory-Limit" => limits.memory_bytes_max = parse_memory(value)?,
                "Compute-Limit" => {
                    limits.instructions_max = value.trim().parse().map_err(|_| Error::LimitTag {
                        tag: "Compute-Limit",
                        value: value.to_owned(),
                        reason: "expected an instruction count",
                    })?
                }
                _ => {}
            }
        }
        Ok(limits)
    }
}

fn parse_memory(value: &str) -> Result<u64, Error> {
    let bad = |reason| Error::LimitTag {
        tag: "Memory-Limit",
        value: value.to_owned(),
        reason,
    };
    let lower = value.trim().to_ascii_lowercase();
    let (digits, unit) = match lower.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => lower.split_at(at),
        None => (lower.as_str(), ""),
    };
    let factor: u64 = match unit.trim_start_matches(['-', ' ']) {
        "" | "b" => 1,
        "kb" | "k" => 1 << 10,
        "mb" | "m" => 1 << 20,
        "gb" | "g" => 1 << 30,
        _ => return Err(bad("unit must be b, kb, mb or gb")),
    };
    let count: u64 = digits
        .parse()
        .map_err(|_| bad("expected a number and a unit, like 512-mb"))?;
    count.checked_mul(factor).ok_or_else(|| bad("too large"))
}
