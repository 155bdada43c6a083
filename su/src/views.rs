//! The read side: builds the JSON bodies of PROTOCOL.md §4 (Message JSON, schedule pages,
//! Process JSON) from stored records. Synchronous; callers run it off the async threads.
//! Must never write.

use ao_core::ao::BLOCK_HEIGHT_DIGITS;
use ao_core::wire::{SuEdge, SuItem, SuMessage, SuPage, SuPageInfo, SuProcess};
use ao_core::{DataItem, Id};

use crate::config::{PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX};
use crate::error::ApiError;
use crate::store::{HeldItem, ScheduleRecord, Store};

/// A schedule page request, already parsed.
#[derive(Debug, Clone, Copy, Default)]
pub struct PageQuery {
    /// Timestamp, exclusive.
    pub from: Option<u64>,
    /// Timestamp, inclusive.
    pub to: Option<u64>,
    /// Nonce, inclusive.
    pub from_nonce: Option<u64>,
    /// Nonce, inclusive.
    pub to_nonce: Option<u64>,
    pub limit: Option<usize>,
}

pub fn block_text(height: u64) -> String {
    format!("{height:0width$}", width = BLOCK_HEIGHT_DIGITS)
}

fn decode_stored(raw: &[u8]) -> Result<DataItem, ApiError> {
    DataItem::decode(raw).map_err(|_| ApiError::Internal("a stored item does not decode"))
}

pub fn message_json(store: &Store, record: &ScheduleRecord) -> Result<SuMessage, ApiError> {
    let assignment = SuItem::from_item(&decode_stored(&record.assignment)?, false);
    let message = match &record.item {
        HeldItem::No => None,
        HeldItem::Here(raw) => Some(SuItem::from_item(&decode_stored(raw)?, true)),
        HeldItem::At(..) => match store.record_item(record)? {
            Some(raw) => Some(SuItem::from_item(&decode_stored(&raw)?, true)),
            None => return Err(ApiError::Internal("a scheduled item is missing")),
        },
    };
    Ok(SuMessage {
        message,
        assignment,
    })
}

/// `GET /{id}?process-id=`: `id` is an assignment id or an item id.
pub fn find(store: &Store, id: &Id, process: Option<&Id>) -> Result<SuMessage, ApiError> {
    let found = match store.find_assignment(id)? {
        Some((p, nonce)) if process.is_none_or(|want| *want == p) => Some((p, nonce)),
        _ => match process {
            Some(p) => store.scheduled_nonce(id, p)?.map(|nonce| (*p, nonce)),
            None => store.find_message(id)?,
        },
    };
    let not_found = || ApiError::NotFound {
        what: "message",
        id: id.to_string(),
    };
    let (p, nonce) = found.ok_or_else(not_found)?;
    let record = store.record(&p, nonce)?.ok_or_else(not_found)?;
    message_json(store, &record)
}

pub fn latest(store: &Store, process: &Id) -> Result<SuMessage, ApiError> {
    let (_, record) = store
        .latest(process)?
        .ok_or(ApiError::ProcessNotFound(*process))?;
    message_json(store, &record)
}

pub fn page(store: &Store, process: &Id, q: PageQuery) -> Result<SuPage, ApiError> {
    let limit = q
        .limit
        .unwrap_or(PAGE_LIMIT_DEFAULT)
        .clamp(1, PAGE_LIMIT_MAX);
    let (ts_start, ts_end) = store.nonce_bounds(process, q.from, q.to)?;
    let start = ts_start.unwrap_or(0).max(q.from_nonce.unwrap_or(0));
    let end = ts_end
        .unwrap_or(u64::MAX)
        .min(q.to_nonce.unwrap_or(u64::MAX));
    let (entries, has_next_page) = store.page(process, start, end, limit)?;
    // Cursors are what the client pages with: nonces if it asked by nonce, else timestamps.
    let by_nonce = q.from_nonce.is_some() || q.to_nonce.is_some();
    let edges = entries
        .iter()
        .map(|(nonce, record)| {
            Ok(SuEdge {
                node: message_json(store, record)?,
                cursor: if by_nonce {
                    nonce.to_string()
                } else {
                    record.timestamp.to_string()
                },
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(SuPage {
        page_info: SuPageInfo { has_next_page },
        edges,
    })
}

pub fn process(store: &Store, process: &Id) -> Result<SuProcess, ApiError> {
    let record = store
        .record(process, 0)?
        .ok_or(ApiError::ProcessNotFound(*process))?;
    let raw = store
        .record_item(&record)?
        .ok_or(ApiError::Internal("a process item is missing"))?;
    Ok(SuProcess::from_item(
        &decode_stored(&raw)?,
        record.block_height,
        record.timestamp,
    ))
}
