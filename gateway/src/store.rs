//! The embedded database (redb): the schema, the records, point reads, and [`Store::apply`],
//! which writes one group of uploads and mined blocks in a single durable transaction.
//!
//! Must never: commit from more than one thread (only the writer calls `apply`), or decide
//! what is valid (ingest does). Invariant: an item, its data and every index entry that names
//! it are written in the same transaction, so after a crash either all exist or none.
//!
//! Schema (ids raw 32 bytes; sequences and heights big-endian in composite keys, so keys sort
//! by them). Every stored item gets the next `seq`; blocks cover contiguous `seq` ranges, so
//! `seq` order is (height, arrival) order and is the only sort key the indexes need:
//! - `items`: id → [`ItemRecord`] (postcard): seq, upload time, the item's bytes without data
//! - `data`: id → the item's data (what `/raw/{id}` serves)
//! - `by_seq`: seq → id
//! - `by_owner`, `by_target`, `by_tag`, `by_parent`: 32-byte key ++ seq → id, where the key
//!   is SHA-256(owner), the target, [`tag_key`], or the enclosing bundle item's id
//! - `blocks`: height → [`BlockRecord`] (postcard); block `h` holds the items with
//!   `blocks[h-1].end_seq <= seq < blocks[h].end_seq`
//! - `block_ends`: end_seq ++ height → () for non-empty blocks: the block of `seq` is the first
//!   key at or after `(seq + 1, 0)`

use std::path::Path;

use ao_core::Id;
use ao_core::hash::{sha256_parts, sha384_parts};
use bytes::Bytes;
use redb::{
    Database, ReadOnlyTable, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition,
};
use serde::{Deserialize, Serialize};

type IndexTable = TableDefinition<'static, &'static [u8; 40], &'static [u8; 32]>;

/// The secondary indexes: 32-byte key ++ seq → id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    /// SHA-256 of the owner bytes (what the owner address encodes).
    Owner,
    Target,
    /// [`tag_key`] of (name, value).
    Tag,
    /// The id of the bundle item an item arrived in.
    Parent,
}

impl Index {
    fn table(self) -> IndexTable {
        match self {
            Index::Owner => BY_OWNER,
            Index::Target => BY_TARGET,
            Index::Tag => BY_TAG,
            Index::Parent => BY_PARENT,
        }
    }
}

const ITEMS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("items");
const DATA: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("data");
const BY_SEQ: TableDefinition<u64, &[u8; 32]> = TableDefinition::new("by_seq");
const BY_OWNER: IndexTable = TableDefinition::new("by_owner");
const BY_TARGET: IndexTable = TableDefinition::new("by_target");
const BY_TAG: IndexTable = TableDefinition::new("by_tag");
const BY_PARENT: IndexTable = TableDefinition::new("by_parent");
const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
const BLOCK_ENDS: TableDefinition<&[u8; 16], ()> = TableDefinition::new("block_ends");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] redb::Error),
    #[error("record encoding error: {0}")]
    Encoding(#[from] postcard::Error),
    #[error("cannot create the data directory: {0}")]
    Io(#[from] std::io::Error),
    #[error("the database has no genesis block")]
    NoGenesis,
    #[error("a stored block record is malformed")]
    BadBlock,
    #[error("item {0} is indexed but its record is missing")]
    Missing(Id),
    #[error("the stored header of item {0} does not decode")]
    Corrupt(Id),
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(e.into())
            }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// What the gateway keeps about a stored item besides its data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRecord {
    pub seq: u64,
    /// When the gateway first stored it, ms since the epoch.
    pub timestamp_ms: u64,
    pub data_len: u64,
    /// The bundle item it arrived in, if any.
    pub parent: Option<[u8; 32]>,
    /// The signed item without its data: `DataItem::decode` of it gives every field but data.
    pub header: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRecord {
    pub id: [u8; 48],
    pub previous: [u8; 48],
    /// Seconds since the epoch, as Arweave blocks count time.
    pub timestamp: u64,
    /// One past the last item sequence this block (and every earlier one) holds.
    pub end_seq: u64,
}

impl BlockRecord {
    const LEN: usize = 48 + 48 + 8 + 8;

    /// Fixed-width: id, previous, then timestamp and end_seq big-endian.
    fn encode(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[..48].copy_from_slice(&self.id);
        out[48..96].copy_from_slice(&self.previous);
        out[96..104].copy_from_slice(&self.timestamp.to_be_bytes());
        out[104..].copy_from_slice(&self.end_seq.to_be_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Result<BlockRecord, StoreError> {
        let bytes: &[u8; Self::LEN] = bytes.try_into().map_err(|_| StoreError::BadBlock)?;
        let u64_at = |at: usize| u64::from_be_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        Ok(BlockRecord {
            id: bytes[..48].try_into().expect("48 bytes"),
            previous: bytes[48..96].try_into().expect("48 bytes"),
            timestamp: u64_at(96),
            end_seq: u64_at(104),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub height: u64,
    pub record: BlockRecord,
}

/// An item ready to be stored, its index keys computed.
#[derive(Debug, Clone)]
pub struct NewItem {
    pub id: Id,
    pub header: Vec<u8>,
    pub data: Bytes,
    pub parent: Option<Id>,
    pub owner_hash: [u8; 32],
    pub target: Option<[u8; 32]>,
    pub tag_keys: Vec<[u8; 32]>,
}

#[derive(Debug, Clone)]
pub enum WriteOp {
    /// An upload: the uploaded item first, then every item nested in it.
    Upload(Vec<NewItem>),
    /// Mine this many blocks now.
    Mine(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Upload {
        timestamp_ms: u64,
        /// The uploaded item was already stored (its first timestamp is kept).
        duplicate: bool,
        /// Items newly stored, the uploaded one and nested ones.
        stored: u64,
    },
    Mined(Block),
}

/// The state the writer builds on: the newest block and the next item sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tip {
    pub block: Block,
    pub next_seq: u64,
}

/// The index key of a tag: SHA-256 over the name's length, the name and the value, so that
/// names and values of any length fit a fixed key and ("ab","c") differs from ("a","bc").
pub fn tag_key(name: &str, value: &str) -> [u8; 32] {
    sha256_parts(&[
        &(name.len() as u64).to_le_bytes(),
        name.as_bytes(),
        value.as_bytes(),
    ])
}

pub fn index_key(prefix: &[u8; 32], seq: u64) -> [u8; 40] {
    let mut key = [0u8; 40];
    key[..32].copy_from_slice(prefix);
    key[32..].copy_from_slice(&seq.to_be_bytes());
    key
}

pub fn key_seq(key: &[u8; 40]) -> u64 {
    u64::from_be_bytes(key[32..].try_into().expect("8 bytes"))
}

fn block_end_key(end_seq: u64, height: u64) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&end_seq.to_be_bytes());
    key[8..].copy_from_slice(&height.to_be_bytes());
    key
}

fn block_id(previous: &[u8; 48], height: u64, end_seq: u64, timestamp: u64) -> [u8; 48] {
    sha384_parts(&[
        previous,
        &height.to_be_bytes(),
        &end_seq.to_be_bytes(),
        &timestamp.to_be_bytes(),
    ])
}

pub struct Store {
    db: Database,
}

impl Store {
    /// Opens (or creates) `dir/gateway.redb`, its tables and the genesis block.
    pub fn open(dir: &Path, now_ms: u64) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir)?;
        let db = Database::create(dir.join("gateway.redb"))?;
        let txn = db.begin_write()?;
        txn.open_table(ITEMS)?;
        txn.open_table(DATA)?;
        txn.open_table(BY_SEQ)?;
        for index in [BY_OWNER, BY_TARGET, BY_TAG, BY_PARENT] {
            txn.open_table(index)?;
        }
        txn.open_table(BLOCK_ENDS)?;
        {
            let mut blocks = txn.open_table(BLOCKS)?;
            if blocks.first()?.is_none() {
                let timestamp = now_ms / 1000;
                let record = BlockRecord {
                    id: block_id(&[0; 48], 0, 0, timestamp),
                    previous: [0; 48],
                    timestamp,
                    end_seq: 0,
                };
                blocks.insert(0, record.encode().as_slice())?;
            }
        }
        txn.commit()?;
        Ok(Store { db })
    }

    pub fn read(&self) -> Result<Reader, StoreError> {
        Ok(Reader {
            txn: self.db.begin_read()?,
        })
    }

    /// The newest block and the next sequence, as the writer starts from them.
    pub fn tip(&self) -> Result<Tip, StoreError> {
        let reader = self.read()?;
        let block = reader.tip()?;
        let next_seq = match reader.txn.open_table(BY_SEQ)?.last()? {
            Some((seq, _)) => seq.value() + 1,
            None => 0,
        };
        Ok(Tip { block, next_seq })
    }

    /// Writes `ops` in one transaction and commits durably. Returns one [`Applied`] per op and
    /// the new tip; on error nothing was written and `tip` still holds.
    pub fn apply(
        &self,
        ops: &[WriteOp],
        tip: Tip,
        now_ms: u64,
    ) -> Result<(Vec<Applied>, Tip), StoreError> {
        let mut tip = tip;
        let mut applied = Vec::with_capacity(ops.len());
        let txn = self.db.begin_write()?;
        {
            let mut items = txn.open_table(ITEMS)?;
            let mut data = txn.open_table(DATA)?;
            let mut by_seq = txn.open_table(BY_SEQ)?;
            let mut by_owner = txn.open_table(BY_OWNER)?;
            let mut by_target = txn.open_table(BY_TARGET)?;
            let mut by_tag = txn.open_table(BY_TAG)?;
            let mut by_parent = txn.open_table(BY_PARENT)?;
            let mut blocks = txn.open_table(BLOCKS)?;
            let mut block_ends = txn.open_table(BLOCK_ENDS)?;
            for op in ops {
                match op {
                    WriteOp::Upload(new_items) => {
                        let mut first: Option<(u64, bool)> = None;
                        let mut stored = 0;
                        for item in new_items {
                            let id = item.id.as_bytes();
                            if let Some(existing) = items.get(id)? {
                                if first.is_none() {
                                    let record: ItemRecord =
                                        postcard::from_bytes(existing.value())?;
                                    first = Some((record.timestamp_ms, true));
                                }
                                continue;
                            }
                            first.get_or_insert((now_ms, false));
                            let seq = tip.next_seq;
                            tip.next_seq += 1;
                            stored += 1;
                            let record = ItemRecord {
                                seq,
                                timestamp_ms: now_ms,
                                data_len: item.data.len() as u64,
                                parent: item.parent.map(|p| p.0),
                                header: item.header.clone(),
                            };
                            items.insert(id, postcard::to_allocvec(&record)?.as_slice())?;
                            data.insert(id, item.data.as_ref())?;
                            by_seq.insert(seq, id)?;
                            by_owner.insert(&index_key(&item.owner_hash, seq), id)?;
                            if let Some(target) = &item.target {
                                by_target.insert(&index_key(target, seq), id)?;
                            }
                            for tag in &item.tag_keys {
                                by_tag.insert(&index_key(tag, seq), id)?;
                            }
                            if let Some(parent) = &item.parent {
                                by_parent.insert(&index_key(parent.as_bytes(), seq), id)?;
                            }
                        }
                        let (timestamp_ms, duplicate) = first.unwrap_or((now_ms, true));
                        applied.push(Applied::Upload {
                            timestamp_ms,
                            duplicate,
                            stored,
                        });
                    }
                    WriteOp::Mine(count) => {
                        for _ in 0..*count {
                            let previous = tip.block;
                            let height = previous.height + 1;
                            let timestamp = (now_ms / 1000).max(previous.record.timestamp);
                            let record = BlockRecord {
                                id: block_id(&previous.record.id, height, tip.next_seq, timestamp),
                                previous: previous.record.id,
                                timestamp,
                                end_seq: tip.next_seq,
                            };
                            blocks.insert(height, record.encode().as_slice())?;
                            if record.end_seq > previous.record.end_seq {
                                block_ends.insert(&block_end_key(record.end_seq, height), ())?;
                            }
                            tip.block = Block { height, record };
                        }
                        applied.push(Applied::Mined(tip.block));
                    }
                }
            }
        }
        txn.commit()?;
        Ok((applied, tip))
    }
}

/// A consistent snapshot of the database for one request.
pub struct Reader {
    txn: ReadTransaction,
}

impl Reader {
    pub fn item(&self, id: &Id) -> Result<Option<ItemRecord>, StoreError> {
        let table = self.txn.open_table(ITEMS)?;
        match table.get(id.as_bytes())? {
            Some(v) => Ok(Some(postcard::from_bytes(v.value())?)),
            None => Ok(None),
        }
    }

    pub fn data(&self, id: &Id) -> Result<Option<Bytes>, StoreError> {
        let table = self.txn.open_table(DATA)?;
        Ok(table
            .get(id.as_bytes())?
            .map(|v| Bytes::copy_from_slice(v.value())))
    }

    pub fn block(&self, height: u64) -> Result<Option<Block>, StoreError> {
        let table = self.txn.open_table(BLOCKS)?;
        match table.get(height)? {
            Some(v) => Ok(Some(Block {
                height,
                record: BlockRecord::decode(v.value())?,
            })),
            None => Ok(None),
        }
    }

    pub fn tip(&self) -> Result<Block, StoreError> {
        let table = self.txn.open_table(BLOCKS)?;
        let (height, record) = table.last()?.ok_or(StoreError::NoGenesis)?;
        Ok(Block {
            height: height.value(),
            record: BlockRecord::decode(record.value())?,
        })
    }

    /// The block holding the item with sequence `seq`, or `None` while it is pending.
    pub fn block_of(&self, seq: u64) -> Result<Option<Block>, StoreError> {
        let table = self.txn.open_table(BLOCK_ENDS)?;
        let from = block_end_key(seq + 1, 0);
        let Some(entry) = table.range::<&[u8; 16]>(&from..)?.next() else {
            return Ok(None);
        };
        let (key, _) = entry?;
        let height = u64::from_be_bytes(key.value()[8..].try_into().expect("8 bytes"));
        self.block(height)
    }

    /// The sequence bounds of blocks `min..=max`: their items have `lo <= seq < hi`. Pending
    /// items are in no block, so they are never inside the bounds.
    pub fn seq_bounds(&self, min: u64, max: u64) -> Result<(u64, u64), StoreError> {
        let tip = self.tip()?;
        if min > max || min > tip.height {
            return Ok((0, 0));
        }
        let end_of = |height: u64| -> Result<u64, StoreError> {
            Ok(self.block(height)?.map_or(0, |b| b.record.end_seq))
        };
        let lo = if min == 0 { 0 } else { end_of(min - 1)? };
        let hi = end_of(max.min(tip.height))?;
        Ok((lo, hi.max(lo)))
    }

    pub fn by_seq(&self) -> Result<ReadOnlyTable<u64, &'static [u8; 32]>, StoreError> {
        Ok(self.txn.open_table(BY_SEQ)?)
    }

    pub fn index(
        &self,
        index: Index,
    ) -> Result<ReadOnlyTable<&'static [u8; 40], &'static [u8; 32]>, StoreError> {
        Ok(self.txn.open_table(index.table())?)
    }
}
