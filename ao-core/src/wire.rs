//! The JSON bodies the SU, MU and CU exchange (PROTOCOL.md §4–§6), with the exact field names
//! of the reference: snake_case for the SU, PascalCase results and camelCase pages for the CU.
//! Binary-safe: data that is not UTF-8 travels as base64url with `data_encoding`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::b64;
use crate::item::DataItem;
use crate::tags::Tag;

/// `data_encoding` / `anchor_encoding` value when the bytes were not valid UTF-8.
pub const ENCODING_BASE64URL: &str = "base64url";

/// Every error body of every unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

impl ErrorBody {
    pub fn new(error: impl std::fmt::Display) -> Self {
        ErrorBody {
            error: error.to_string(),
        }
    }
}

// ------------------------------------------------------------------ SU

/// `GET /` on the SU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuInfo {
    /// Milliseconds, as a decimal string.
    pub timestamp: String,
    pub address: String,
}

/// `GET /timestamp` on the SU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuTimestamp {
    pub timestamp: String,
    /// 12-digit zero-padded height.
    pub block_height: String,
}

/// `POST /` on the SU (an item or an assignment was ordered).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuPosted {
    pub timestamp: u64,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub address: String,
    /// The owner bytes, base64url.
    pub key: String,
}

/// A data item as the SU shows it inside a Message JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuItem {
    pub id: String,
    pub owner: Owner,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_encoding: Option<String>,
    pub tags: Vec<Tag>,
    pub signature: String,
    pub anchor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor_encoding: Option<String>,
    pub target: Option<String>,
}

impl SuItem {
    /// The JSON view of `item`. `with_data` is false for assignments, which carry none.
    pub fn from_item(item: &DataItem, with_data: bool) -> SuItem {
        let (data, data_encoding) = if with_data {
            let (text, encoding) = text_or_base64(&item.data);
            (Some(text), encoding)
        } else {
            (None, None)
        };
        let (anchor, anchor_encoding) = match &item.anchor {
            Some(a) => {
                let (text, encoding) = text_or_base64(a);
                (Some(text), encoding)
            }
            None => (None, None),
        };
        SuItem {
            id: item.id().to_string(),
            owner: Owner {
                address: item.owner_address(),
                key: b64::encode(&item.owner),
            },
            data,
            data_encoding,
            tags: item.tags.clone(),
            signature: b64::encode(&item.signature),
            anchor,
            anchor_encoding,
            target: Some(item.target.map(b64::encode).unwrap_or_default()),
        }
    }

    /// The data bytes, decoding base64url when `data_encoding` says so.
    pub fn data_bytes(&self) -> Result<Vec<u8>, b64::Base64Error> {
        decode_field(self.data.as_deref(), self.data_encoding.as_deref(), "data")
    }

    /// The anchor bytes, decoding base64url when `anchor_encoding` says so.
    pub fn anchor_bytes(&self) -> Result<Vec<u8>, b64::Base64Error> {
        decode_field(
            self.anchor.as_deref(),
            self.anchor_encoding.as_deref(),
            "anchor",
        )
    }
}

fn text_or_base64(bytes: &[u8]) -> (String, Option<String>) {
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.to_owned(), None),
        Err(_) => (b64::encode(bytes), Some(ENCODING_BASE64URL.to_owned())),
    }
}

fn decode_field(
    text: Option<&str>,
    encoding: Option<&str>,
    what: &'static str,
) -> Result<Vec<u8>, b64::Base64Error> {
    let text = text.unwrap_or_default();
    match encoding {
        Some(ENCODING_BASE64URL) => b64::decode(text, what),
        _ => Ok(text.as_bytes().to_vec()),
    }
}

/// One scheduled message: the item (null for a pure assignment) and its assignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuMessage {
    pub message: Option<SuItem>,
    pub assignment: SuItem,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuPageInfo {
    pub has_next_page: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuEdge {
    pub node: SuMessage,
    pub cursor: String,
}

/// A page of a process's schedule, ascending by nonce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuPage {
    pub page_info: SuPageInfo,
    pub edges: Vec<SuEdge>,
}

/// `GET /processes/{id}` on the SU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuProcess {
    pub process_id: String,
    /// 12-digit zero-padded height.
    pub block: String,
    pub owner: Owner,
    pub tags: Vec<Tag>,
    pub timestamp: u64,
    pub data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_encoding: Option<String>,
    pub anchor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor_encoding: Option<String>,
    pub signature: Option<String>,
    pub target: Option<String>,
}

impl SuProcess {
    /// The SU's view of a Process item whose assignment (nonce 0) has this block height and
    /// timestamp.
    pub fn from_item(item: &DataItem, block_height: u64, timestamp: u64) -> SuProcess {
        let item = SuItem::from_item(item, true);
        SuProcess {
            process_id: item.id,
            block: format!(
                "{block_height:0width$}",
                width = crate::ao::BLOCK_HEIGHT_DIGITS
            ),
            owner: item.owner,
            tags: item.tags,
            timestamp,
            data: item.data,
            data_encoding: item.data_encoding,
            anchor: item.anchor,
            anchor_encoding: item.anchor_encoding,
            signature: Some(item.signature),
            target: item.target,
        }
    }
}

// ------------------------------------------------------------------ MU

/// `202` body of the MU for an item or an assignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MuAccepted {
    /// `Processing DataItem` or `Processing Assignment`.
    pub message: String,
    pub id: String,
}

// ------------------------------------------------------------------ CU

/// A message in a result's outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OutboxMessage {
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub anchor: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub data: Option<Value>,
}

/// A process spawn in a result's outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OutboxSpawn {
    #[serde(default)]
    pub anchor: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub data: Option<Value>,
}

/// An assignment in a result's outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OutboxAssignment {
    pub processes: Vec<String>,
    pub message: String,
}

/// The result of evaluating one message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CuResult {
    #[serde(default)]
    pub messages: Vec<OutboxMessage>,
    #[serde(default)]
    pub spawns: Vec<OutboxSpawn>,
    #[serde(default)]
    pub assignments: Vec<OutboxAssignment>,
    #[serde(default)]
    pub output: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gas_used: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CuPageInfo {
    pub has_next_page: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CuEdge {
    pub cursor: String,
    pub node: CuResult,
}

/// `GET /results/{pid}` and `GET /cron/{pid}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CuResultsPage {
    pub page_info: CuPageInfo,
    pub edges: Vec<CuEdge>,
}

/// `GET /` on the CU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CuInfo {
    pub address: String,
    pub timestamp: u64,
}

/// The body of `POST /dry-run`: any fields; these are the ones aoconnect sends.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DryRunRequest {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub data: Option<Value>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub anchor: Option<String>,
    /// Every other field, kept as sent.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cu_result_field_names() {
        let r = CuResult {
            messages: vec![OutboxMessage {
                target: Some("t".into()),
                anchor: None,
                tags: vec![Tag::new("Action", "Ping")],
                data: Some(Value::String("pong".into())),
            }],
            spawns: vec![],
            assignments: vec![],
            output: serde_json::json!({"data": "x"}),
            error: None,
            gas_used: Some(1),
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["Messages"][0]["Target"], "t");
        assert_eq!(v["Messages"][0]["Tags"][0]["name"], "Action");
        assert_eq!(v["GasUsed"], 1);
        assert!(v.get("Error").is_none());
        let page = CuResultsPage {
            page_info: CuPageInfo {
                has_next_page: true,
            },
            edges: vec![],
        };
        let v = serde_json::to_value(&page).unwrap();
        assert_eq!(v["pageInfo"]["hasNextPage"], true);
    }

    #[test]
    fn su_page_field_names() {
        let page = SuPage {
            page_info: SuPageInfo {
                has_next_page: false,
            },
            edges: vec![],
        };
        let v = serde_json::to_value(&page).unwrap();
        assert_eq!(v["page_info"]["has_next_page"], false);
    }
}
