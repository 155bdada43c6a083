//! Finds the transactions a GraphQL `transactions` query asks for, over one read snapshot.
//! Filters are ANDed; the keys inside one filter are ORed. Must never decode item bytes: every
//! filter is answered from the indexes, and the caller decodes only the page it renders.
//!
//! Plan: one filter drives the scan (the `ids` list if given, else the index filter with the
//! fewest entries by a bounded probe, else every item in `by_seq` order); its keys' ranges are
//! merged in sequence order, and every candidate is checked against the other filters with
//! point lookups (`key ++ seq`). Sequence order is (height, arrival) order, so HEIGHT_DESC and
//! HEIGHT_ASC are a reverse or forward walk, and a cursor is just the last sequence returned.

use std::iter::Peekable;

use ao_core::Id;
use redb::ReadOnlyTable;

use crate::store::{Index, Reader, StoreError, index_key, key_seq};

/// How many entries per filter the planner counts before it stops probing.
const PROBE_MAX: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    HeightDesc,
    HeightAsc,
}

/// One ANDed filter over an index: matches items under any of `keys`.
#[derive(Debug, Clone)]
pub struct IndexFilter {
    pub index: Index,
    pub keys: Vec<[u8; 32]>,
}

#[derive(Debug, Clone)]
pub struct Search {
    /// Only these ids (when `Some`); an empty list matches nothing.
    pub ids: Option<Vec<Id>>,
    pub filters: Vec<IndexFilter>,
    /// Only items in blocks `min..=max`.
    pub blocks: Option<(u64, u64)>,
    pub sort: Sort,
    /// The sequence of the last item of the previous page.
    pub after: Option<u64>,
    pub first: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub seq: u64,
    pub id: Id,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub hits: Vec<Hit>,
    pub has_next: bool,
}

type Table = ReadOnlyTable<&'static [u8; 40], &'static [u8; 32]>;
type Entries = Box<dyn Iterator<Item = Result<(u64, [u8; 32]), StoreError>>>;

/// Runs `search` on `reader`'s snapshot.
pub fn search(reader: &Reader, search: &Search) -> Result<Page, StoreError> {
    let (mut lo, mut hi) = match search.blocks {
        Some((min, max)) => reader.seq_bounds(min, max)?,
        None => (0, u64::MAX),
    };
    match (search.after, search.sort) {
        (Some(after), Sort::HeightDesc) => hi = hi.min(after),
        (Some(after), Sort::HeightAsc) => lo = lo.max(after.saturating_add(1)),
        (None, _) => {}
    }
    let tables = search
        .filters
        .iter()
        .map(|f| reader.index(f.index))
        .collect::<Result<Vec<_>, _>>()?;

    // Choose the driving filter; the others are checked per candidate.
    let (candidates, driver): (Entries, Option<usize>) = if let Some(ids) = &search.ids {
        (id_entries(reader, ids, lo, hi, search.sort)?, None)
    } else if !search.filters.is_empty() {
        let mut best = (usize::MAX, 0);
        for (i, (filter, table)) in search.filters.iter().zip(&tables).enumerate() {
            let count = probe(table, &filter.keys, lo, hi)?;
            if count < best.0 {
                best = (count, i);
            }
        }
        let i = best.1;
        let merged = Merge::new(
            search.filters[i]
                .keys
                .iter()
                .map(|key| index_entries(&tables[i], key, lo, hi, search.sort))
                .collect::<Result<Vec<_>, _>>()?,
            search.sort,
        );
        (Box::new(merged), Some(i))
    } else {
        (seq_entries(reader, lo, hi, search.sort)?, None)
    };

    let mut hits = Vec::with_capacity(search.first.min(128) + 1);
    for entry in candidates {
        let (seq, id) = entry?;
        let id = Id(id);
        let mut matches = true;
        for (i, (filter, table)) in search.filters.iter().zip(&tables).enumerate() {
            if Some(i) == driver {
                continue;
            }
            if !contains_any(table, &filter.keys, seq)? {
                matches = false;
                break;
            }
        }
        if matches {
            hits.push(Hit { seq, id });
            if hits.len() > search.first {
                break;
            }
        }
    }
    let has_next = hits.len() > search.first;
    hits.truncate(search.first);
    Ok(Page { hits, has_next })
}

fn contains_any(table: &Table, keys: &[[u8; 32]], seq: u64) -> Result<bool, StoreError> {
    for key in keys {
        if table.get(&index_key(key, seq))?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Entries under `keys` in `lo..hi`, counted up to [`PROBE_MAX`].
fn probe(table: &Table, keys: &[[u8; 32]], lo: u64, hi: u64) -> Result<usize, StoreError> {
    let mut count = 0;
    for key in keys {
        if lo >= hi {
            break;
        }
        let range = table.range::<&[u8; 40]>(&index_key(key, lo)..&index_key(key, hi))?;
        count += range.take(PROBE_MAX - count.min(PROBE_MAX)).count();
        if count >= PROBE_MAX {
            break;
        }
    }
    Ok(count)
}

fn index_entries(
    table: &Table,
    key: &[u8; 32],
    lo: u64,
    hi: u64,
    sort: Sort,
) -> Result<Entries, StoreError> {
    if lo >= hi {
        return Ok(Box::new(std::iter::empty()));
    }
    let range = table.range::<&[u8; 40]>(&index_key(key, lo)..&index_key(key, hi))?;
    let map = |entry: Result<_, redb::StorageError>| {
        let (k, v): (redb::AccessGuard<&[u8; 40]>, redb::AccessGuard<&[u8; 32]>) = entry?;
        Ok((key_seq(k.value()), *v.value()))
    };
    Ok(match sort {
        Sort::HeightAsc => Box::new(range.map(map)),
        Sort::HeightDesc => Box::new(range.rev().map(map)),
    })
}

fn seq_entries(reader: &Reader, lo: u64, hi: u64, sort: Sort) -> Result<Entries, StoreError> {
    if lo >= hi {
        return Ok(Box::new(std::iter::empty()));
    }
    let range = reader.by_seq()?.range(lo..hi)?;
    let map = |entry: Result<_, redb::StorageError>| {
        let (k, v): (redb::AccessGuard<u64>, redb::AccessGuard<&[u8; 32]>) = entry?;
        Ok((k.value(), *v.value()))
    };
    Ok(match sort {
        Sort::HeightAsc => Box::new(range.map(map)),
        Sort::HeightDesc => Box::new(range.rev().map(map)),
    })
}

/// The listed ids that exist, in sort order, within `lo..hi`.
fn id_entries(
    reader: &Reader,
    ids: &[Id],
    lo: u64,
    hi: u64,
    sort: Sort,
) -> Result<Entries, StoreError> {
    let mut found = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(record) = reader.item(id)?
            && (lo..hi).contains(&record.seq)
        {
            found.push((record.seq, id.0));
        }
    }
    found.sort_unstable();
    found.dedup();
    if sort == Sort::HeightDesc {
        found.reverse();
    }
    Ok(Box::new(found.into_iter().map(Ok)))
}

/// Merges iterators that are each sorted by sequence into one, dropping repeats.
struct Merge {
    sources: Vec<Peekable<Entries>>,
    sort: Sort,
    last: Option<u64>,
}

impl Merge {
    fn new(sources: Vec<Entries>, sort: Sort) -> Merge {
        Merge {
            sources: sources.into_iter().map(Iterator::peekable).collect(),
            sort,
            last: None,
        }
    }
}

impl Iterator for Merge {
    type Item = Result<(u64, [u8; 32]), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let mut best: Option<(usize, u64)> = None;
            for (i, source) in self.sources.iter_mut().enumerate() {
                match source.peek() {
                    None => {}
                    // Surface errors as soon as they are seen.
                    Some(Err(_)) => return source.next(),
                    Some(Ok((seq, _))) => {
                        let better = match (best, self.sort) {
                            (None, _) => true,
                            (Some((_, b)), Sort::HeightAsc) => *seq < b,
                            (Some((_, b)), Sort::HeightDesc) => *seq > b,
                        };
                        if better {
                            best = Some((i, *seq));
                        }
                    }
                }
            }
            let (i, seq) = best?;
            let entry = self.sources[i].next();
            if self.last == Some(seq) {
                continue;
            }
            self.last = Some(seq);
            return entry;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(seqs: &[u64]) -> Entries {
        let items: Vec<_> = seqs.iter().map(|s| Ok((*s, [*s as u8; 32]))).collect();
        Box::new(items.into_iter())
    }

    fn merged(sources: &[&[u64]], sort: Sort) -> Vec<u64> {
        let sources = sources.iter().map(|s| entries(s)).collect();
        Merge::new(sources, sort)
            .map(|e| e.map(|(seq, _)| seq))
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn merge_orders_and_drops_repeats() {
        assert_eq!(
            merged(&[&[1, 4, 7], &[2, 4, 9], &[]], Sort::HeightAsc),
            [1, 2, 4, 7, 9]
        );
        assert_eq!(
            merged(&[&[7, 4, 1], &[9, 4, 2]], Sort::HeightDesc),
            [9, 7, 4, 2, 1]
        );
        assert_eq!(merged(&[], Sort::HeightAsc), Vec::<u64>::new());
    }
}
