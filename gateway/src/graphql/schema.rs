//! The Arweave GraphQL schema this gateway answers: `transactions` (filters `ids`, `owners`,
//! `recipients`, `tags`, `bundledIn`, `block`; `first`, `after`, `sort`) and `transaction(id)`,
//! with the types `TransactionConnection`, `PageInfo`, `TransactionEdge`, `Transaction`,
//! `Owner`, `Amount`, `MetaData`, `Tag`, `Block`, `Parent`/`Bundle`, as arweave.net names them.
//! Owns argument parsing and rendering; the search itself is in `query`.

use ao_core::{DataItem, Id, b64};
use serde_json::{Map, Value as Json};

use super::{Collected, Ctx, GraphqlError, Out, invalid};
use crate::query::{self, Hit, IndexFilter, Search, Sort};
use crate::store::{Block, Index, ItemRecord, Reader, StoreError, tag_key};

/// `first` when the query does not say.
pub const PAGE_SIZE_DEFAULT: usize = 10;
/// The largest page, as arweave.net allows (larger `first` values are clamped).
pub const PAGE_SIZE_MAX: usize = 100;

#[derive(Clone, Copy)]
enum Kind {
    Leaf,
    Object(&'static str),
}

/// (type, field, what the field holds).
const FIELDS: &[(&str, &str, Kind)] = &[
    (
        "Query",
        "transactions",
        Kind::Object("TransactionConnection"),
    ),
    ("Query", "transaction", Kind::Object("Transaction")),
    (
        "TransactionConnection",
        "pageInfo",
        Kind::Object("PageInfo"),
    ),
    (
        "TransactionConnection",
        "edges",
        Kind::Object("TransactionEdge"),
    ),
    ("PageInfo", "hasNextPage", Kind::Leaf),
    ("TransactionEdge", "cursor", Kind::Leaf),
    ("TransactionEdge", "node", Kind::Object("Transaction")),
    ("Transaction", "id", Kind::Leaf),
    ("Transaction", "anchor", Kind::Leaf),
    ("Transaction", "signature", Kind::Leaf),
    ("Transaction", "recipient", Kind::Leaf),
    ("Transaction", "ingested_at", Kind::Leaf),
    ("Transaction", "owner", Kind::Object("Owner")),
    ("Transaction", "fee", Kind::Object("Amount")),
    ("Transaction", "quantity", Kind::Object("Amount")),
    ("Transaction", "data", Kind::Object("MetaData")),
    ("Transaction", "tags", Kind::Object("Tag")),
    ("Transaction", "block", Kind::Object("Block")),
    ("Transaction", "parent", Kind::Object("Parent")),
    ("Transaction", "bundledIn", Kind::Object("Bundle")),
    ("Owner", "address", Kind::Leaf),
    ("Owner", "key", Kind::Leaf),
    ("Amount", "winston", Kind::Leaf),
    ("Amount", "ar", Kind::Leaf),
    ("MetaData", "size", Kind::Leaf),
    ("MetaData", "type", Kind::Leaf),
    ("Tag", "name", Kind::Leaf),
    ("Tag", "value", Kind::Leaf),
    ("Block", "id", Kind::Leaf),
    ("Block", "timestamp", Kind::Leaf),
    ("Block", "height", Kind::Leaf),
    ("Block", "previous", Kind::Leaf),
    ("Parent", "id", Kind::Leaf),
    ("Bundle", "id", Kind::Leaf),
];

/// Checks every selected field exists on its type, leaves have no selection, objects have
/// one, and only root fields take arguments (those are checked when parsed).
pub fn validate<'d>(
    ctx: &Ctx<'d>,
    type_name: &str,
    fields: &[Collected<'d>],
) -> Result<(), GraphqlError> {
    for c in fields {
        let name = c.field.name.as_str();
        let has_selection = c.sets.iter().any(|s| !s.items.is_empty());
        if type_name != "Query" && !c.field.arguments.is_empty() {
            let arg = &c.field.arguments[0].0;
            return Err(invalid(format!(
                "Unknown argument \"{arg}\" on field \"{type_name}.{name}\"."
            )));
        }
        let kind = if name == "__typename" {
            Kind::Leaf
        } else {
            FIELDS
                .iter()
                .find(|(t, f, _)| *t == type_name && *f == name)
                .map(|(_, _, k)| *k)
                .ok_or_else(|| {
                    invalid(format!(
                        "Cannot query field \"{name}\" on type \"{type_name}\"."
                    ))
                })?
        };
        match kind {
            Kind::Leaf if has_selection => {
                return Err(invalid(format!(
                    "Field \"{name}\" must not have a selection since its type has no subfields."
                )));
            }
            Kind::Leaf => {}
            Kind::Object(child) if !has_selection => {
                return Err(invalid(format!(
                    "Field \"{name}\" of type \"{child}\" must have a selection of subfields."
                )));
            }
            Kind::Object(child) => validate(ctx, child, &ctx.collect(&c.sets)?)?,
        }
    }
    Ok(())
}

/// Resolves one root field.
pub fn root<'d>(ctx: &Ctx<'d>, reader: &Reader, c: &Collected<'d>) -> Result<Out, GraphqlError> {
    let args = ctx.args(c.field)?;
    match c.field.name.as_str() {
        "transactions" => {
            let search = search_args(args)?;
            let page = query::search(reader, &search)?;
            connection(ctx, reader, c, &page)
        }
        "transaction" => {
            let id = match args.get("id") {
                Some(Json::String(s)) => s.clone(),
                _ => {
                    return Err(invalid(
                        "Field \"transaction\" needs a String argument \"id\".",
                    ));
                }
            };
            if let Some(extra) = args.keys().find(|k| *k != "id") {
                return Err(invalid(format!(
                    "Unknown argument \"{extra}\" on field \"Query.transaction\"."
                )));
            }
            let Ok(id) = Id::parse(&id, "id") else {
                return Ok(Out::Null);
            };
            let Some(record) = reader.item(&id)? else {
                return Ok(Out::Null);
            };
            let fields = ctx.collect(&c.sets)?;
            node(ctx, reader, &fields, id, record)
        }
        _ => Ok(Out::Str("Query".to_owned())),
    }
}

fn search_args(args: Map<String, Json>) -> Result<Search, GraphqlError> {
    let mut search = Search {
        ids: None,
        filters: Vec::new(),
        blocks: None,
        sort: Sort::HeightDesc,
        after: None,
        first: PAGE_SIZE_DEFAULT,
    };
    for (name, value) in args {
        match name.as_str() {
            "ids" => {
                if let Some(ids) = strings(&value, "ids")? {
                    search.ids = Some(ids.iter().filter_map(|s| s.parse().ok()).collect());
                }
            }
            "owners" | "recipients" | "bundledIn" => {
                if let Some(values) = strings(&value, &name)? {
                    let index = match name.as_str() {
                        "owners" => Index::Owner,
                        "recipients" => Index::Target,
                        _ => Index::Parent,
                    };
                    // Values that are not 32-byte base64url match nothing (an Ethereum `0x…`
                    // address, say), as on arweave.net.
                    let keys = values
                        .iter()
                        .filter_map(|s| b64::decode_id(s, "address").ok())
                        .collect();
                    search.filters.push(IndexFilter { index, keys });
                }
            }
            "tags" => search.filters.extend(tag_filters(&value)?),
            "block" => search.blocks = block_range(&value)?,
            "first" => match value {
                Json::Null => {}
                Json::Number(n) => match n.as_u64() {
                    Some(n) => search.first = (n as usize).min(PAGE_SIZE_MAX),
                    None => return Err(invalid("\"first\" must be a non-negative Int.")),
                },
                _ => return Err(invalid("\"first\" must be an Int.")),
            },
            "after" => match value {
                Json::Null => {}
                Json::String(s) if s.is_empty() => {}
                Json::String(s) => search.after = Some(parse_cursor(&s)?),
                _ => return Err(invalid("\"after\" must be a String cursor.")),
            },
            "sort" => match value.as_str() {
                None if value.is_null() => {}
                Some("HEIGHT_DESC") => search.sort = Sort::HeightDesc,
                Some("HEIGHT_ASC") => search.sort = Sort::HeightAsc,
                _ => {
                    return Err(invalid(format!(
                        "\"sort\" must be HEIGHT_DESC or HEIGHT_ASC, not {value}."
                    )));
                }
            },
            other => {
                return Err(invalid(format!(
                    "Unknown argument \"{other}\" on field \"Query.transactions\"."
                )));
            }
        }
    }
    Ok(search)
}

/// A list of strings (a single string counts as a list of one); `None` for null or empty.
fn strings(value: &Json, what: &str) -> Result<Option<Vec<String>>, GraphqlError> {
    let items = match value {
        Json::Null => return Ok(None),
        Json::String(s) => return Ok(Some(vec![s.clone()])),
        Json::Array(items) => items,
        _ => return Err(invalid(format!("\"{what}\" must be a list of Strings."))),
    };
    let strings = items
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| invalid(format!("\"{what}\" must be a list of Strings.")))?;
    Ok((!strings.is_empty()).then_some(strings))
}

fn tag_filters(value: &Json) -> Result<Vec<IndexFilter>, GraphqlError> {
    let filters = match value {
        Json::Null => return Ok(Vec::new()),
        Json::Array(items) => items.clone(),
        Json::Object(_) => vec![value.clone()],
        _ => return Err(invalid("\"tags\" must be a list of {name, values}.")),
    };
    let mut out = Vec::with_capacity(filters.len());
    for filter in filters {
        let Json::Object(filter) = filter else {
            return Err(invalid("\"tags\" must be a list of {name, values}."));
        };
        let mut name = None;
        let mut values = None;
        for (key, value) in &filter {
            match (key.as_str(), value) {
                ("name", Json::String(s)) => name = Some(s.clone()),
                ("values", v) => values = strings(v, "values")?,
                ("op", Json::String(op)) if op == "EQ" => {}
                ("match", Json::String(m)) if m == "EXACT" => {}
                ("op" | "match", v) => {
                    return Err(invalid(format!(
                        "Tag filter {key} {v} is not supported (only EQ and EXACT)."
                    )));
                }
                _ => return Err(invalid(format!("Unknown tag filter field \"{key}\"."))),
            }
        }
        let name = name.ok_or_else(|| invalid("A tag filter needs a String \"name\"."))?;
        if let Some(values) = values {
            let keys = values.iter().map(|v| tag_key(&name, v)).collect();
            out.push(IndexFilter {
                index: Index::Tag,
                keys,
            });
        }
    }
    Ok(out)
}

fn block_range(value: &Json) -> Result<Option<(u64, u64)>, GraphqlError> {
    let Json::Object(range) = value else {
        return if value.is_null() {
            Ok(None)
        } else {
            Err(invalid("\"block\" must be {min, max}."))
        };
    };
    let bound = |key: &str, default: u64| match range.get(key) {
        None | Some(Json::Null) => Ok(default),
        Some(v) => v
            .as_u64()
            .ok_or_else(|| invalid(format!("block.{key} must be a non-negative Int."))),
    };
    Ok(Some((bound("min", 0)?, bound("max", u64::MAX)?)))
}

pub fn cursor(seq: u64) -> String {
    b64::encode(seq.to_be_bytes())
}

fn parse_cursor(text: &str) -> Result<u64, GraphqlError> {
    b64::decode(text, "cursor")
        .ok()
        .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| invalid(format!("\"after\" is not a cursor of this gateway: {text}")))
}

fn connection<'d>(
    ctx: &Ctx<'d>,
    reader: &Reader,
    c: &Collected<'d>,
    page: &query::Page,
) -> Result<Out, GraphqlError> {
    let mut out = Vec::new();
    for f in ctx.collect(&c.sets)? {
        let value = match f.field.name.as_str() {
            "pageInfo" => {
                let fields = ctx.collect(&f.sets)?;
                Out::Obj(
                    fields
                        .iter()
                        .map(|p| {
                            let v = match p.field.name.as_str() {
                                "hasNextPage" => Out::Bool(page.has_next),
                                _ => Out::Str("PageInfo".to_owned()),
                            };
                            (p.key.to_owned(), v)
                        })
                        .collect(),
                )
            }
            "edges" => {
                let edge_fields = ctx.collect(&f.sets)?;
                let mut edges = Vec::with_capacity(page.hits.len());
                for hit in &page.hits {
                    edges.push(edge(ctx, reader, &edge_fields, hit)?);
                }
                Out::List(edges)
            }
            _ => Out::Str("TransactionConnection".to_owned()),
        };
        out.push((f.key.to_owned(), value));
    }
    Ok(Out::Obj(out))
}

fn edge<'d>(
    ctx: &Ctx<'d>,
    reader: &Reader,
    fields: &[Collected<'d>],
    hit: &Hit,
) -> Result<Out, GraphqlError> {
    let mut out = Vec::with_capacity(fields.len());
    for f in fields {
        let value = match f.field.name.as_str() {
            "cursor" => Out::Str(cursor(hit.seq)),
            "node" => {
                let record = reader.item(&hit.id)?.ok_or(StoreError::Missing(hit.id))?;
                node(ctx, reader, &ctx.collect(&f.sets)?, hit.id, record)?
            }
            _ => Out::Str("TransactionEdge".to_owned()),
        };
        out.push((f.key.to_owned(), value));
    }
    Ok(Out::Obj(out))
}

fn node<'d>(
    ctx: &Ctx<'d>,
    reader: &Reader,
    fields: &[Collected<'d>],
    id: Id,
    record: ItemRecord,
) -> Result<Out, GraphqlError> {
    // The header decodes: it was verified before it was stored.
    let item = DataItem::decode(&record.header).map_err(|_| StoreError::Corrupt(id))?;
    let mut out = Vec::with_capacity(fields.len());
    for f in fields {
        let sub = |pairs: &dyn Fn(&str) -> Out| -> Result<Out, GraphqlError> {
            Ok(Out::Obj(
                ctx.collect(&f.sets)?
                    .iter()
                    .map(|s| (s.key.to_owned(), pairs(s.field.name.as_str())))
                    .collect(),
            ))
        };
        let text = |s: String| Out::Str(s);
        let value = match f.field.name.as_str() {
            "id" => text(id.to_string()),
            "anchor" => text(item.anchor.map(b64::encode).unwrap_or_default()),
            "signature" => text(b64::encode(&item.signature)),
            "recipient" => text(item.target.map(b64::encode).unwrap_or_default()),
            "ingested_at" => Out::Int(record.timestamp_ms / 1000),
            "owner" => sub(&|name| match name {
                "address" => text(item.owner_address()),
                "key" => text(b64::encode(&item.owner)),
                _ => text("Owner".to_owned()),
            })?,
            "fee" | "quantity" => sub(&|name| match name {
                "winston" => text("0".to_owned()),
                "ar" => text("0.000000000000".to_owned()),
                _ => text("Amount".to_owned()),
            })?,
            "data" => sub(&|name| match name {
                "size" => text(record.data_len.to_string()),
                "type" => item
                    .tag("Content-Type")
                    .map_or(Out::Null, |t| text(t.to_owned())),
                _ => text("MetaData".to_owned()),
            })?,
            "tags" => {
                let tag_fields = ctx.collect(&f.sets)?;
                Out::List(
                    item.tags
                        .iter()
                        .map(|t| {
                            Out::Obj(
                                tag_fields
                                    .iter()
                                    .map(|s| {
                                        let v = match s.field.name.as_str() {
                                            "name" => text(t.name.clone()),
                                            "value" => text(t.value.clone()),
                                            _ => text("Tag".to_owned()),
                                        };
                                        (s.key.to_owned(), v)
                                    })
                                    .collect(),
                            )
                        })
                        .collect(),
                )
            }
            "block" => match reader.block_of(record.seq)? {
                None => Out::Null,
                Some(Block { height, record: b }) => sub(&|name| match name {
                    "id" => text(b64::encode(b.id)),
                    "timestamp" => Out::Int(b.timestamp),
                    "height" => Out::Int(height),
                    "previous" => text(b64::encode(b.previous)),
                    _ => text("Block".to_owned()),
                })?,
            },
            "parent" | "bundledIn" => match record.parent {
                None => Out::Null,
                Some(parent) => sub(&|name| match name {
                    "id" => text(Id(parent).to_string()),
                    _ if f.field.name == "parent" => text("Parent".to_owned()),
                    _ => text("Bundle".to_owned()),
                })?,
            },
            _ => text("Transaction".to_owned()),
        };
        out.push((f.key.to_owned(), value));
    }
    Ok(Out::Obj(out))
}
