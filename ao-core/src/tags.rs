//! ANS-104 tags: the Avro encoding of `[{name, value}]` and the limits every data item obeys.
//! Decoding accepts every valid Avro form (several blocks, negative block counts) but never
//! trailing bytes; encoding writes the single-block form the JS libraries write.

use serde::{Deserialize, Serialize};

pub const TAGS_COUNT_MAX: usize = 128;
pub const TAG_NAME_BYTES_MAX: usize = 1024;
pub const TAG_VALUE_BYTES_MAX: usize = 3072;
/// arbundles refuses tag blocks larger than this, so no bundler accepts such an item.
pub const TAG_BYTES_MAX: usize = 4096;

/// One tag. Order is significant and names may repeat.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tag {
    pub name: String,
    pub value: String,
}

impl Tag {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Tag {
            name: name.into(),
            value: value.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    #[error("{count} tags exceed the {max}-tag limit", max = TAGS_COUNT_MAX)]
    TooManyTags { count: u64 },
    #[error("tag {index} name is {len} bytes, over the {max}-byte limit", max = TAG_NAME_BYTES_MAX)]
    NameTooLong { index: usize, len: usize },
    #[error("tag {index} value is {len} bytes, over the {max}-byte limit", max = TAG_VALUE_BYTES_MAX)]
    ValueTooLong { index: usize, len: usize },
    #[error("tags take {len} bytes, over the {max}-byte limit", max = TAG_BYTES_MAX)]
    BytesTooLong { len: usize },
    #[error("tag {index} has an empty name")]
    EmptyName { index: usize },
    #[error("tag {index} {field} is not valid UTF-8")]
    NotUtf8 { index: usize, field: &'static str },
    #[error("malformed Avro tag bytes at offset {offset}: {why}")]
    Malformed { offset: usize, why: &'static str },
    #[error("{count} bytes follow the Avro tag terminator")]
    TrailingGarbage { count: usize },
}

/// Checks the ANS-104 limits on a tag list (count, sizes, no empty name). `encoded_len` is the
/// size of its Avro form.
pub fn check_limits(tags: &[Tag], encoded_len: usize) -> Result<(), TagError> {
    if tags.len() > TAGS_COUNT_MAX {
        return Err(TagError::TooManyTags {
            count: tags.len() as u64,
        });
    }
    for (index, tag) in tags.iter().enumerate() {
        if tag.name.is_empty() {
            return Err(TagError::EmptyName { index });
        }
        if tag.name.len() > TAG_NAME_BYTES_MAX {
            return Err(TagError::NameTooLong {
                index,
                len: tag.name.len(),
            });
        }
        if tag.value.len() > TAG_VALUE_BYTES_MAX {
            return Err(TagError::ValueTooLong {
                index,
                len: tag.value.len(),
            });
        }
    }
    if encoded_len > TAG_BYTES_MAX {
        return Err(TagError::BytesTooLong { len: encoded_len });
    }
    Ok(())
}

/// The Avro form of `tags`: zero bytes for no tags, else one block and a 0 terminator.
pub fn encode(tags: &[Tag]) -> Vec<u8> {
    if tags.is_empty() {
        return Vec::new();
    }
    let size: usize = tags.iter().map(|t| t.name.len() + t.value.len() + 6).sum();
    let mut out = Vec::with_capacity(size + 11);
    write_long(&mut out, tags.len() as i64);
    for tag in tags {
        write_bytes(&mut out, tag.name.as_bytes());
        write_bytes(&mut out, tag.value.as_bytes());
    }
    out.push(0);
    out
}

/// Decodes Avro tag bytes. Zero bytes is the empty list. Any byte after the terminator is an
/// error. Limits are not checked here (see [`check_limits`]).
pub fn decode(bytes: &[u8]) -> Result<Vec<Tag>, TagError> {
    let mut tags = Vec::new();
    if bytes.is_empty() {
        return Ok(tags);
    }
    let mut r = Reader { bytes, pos: 0 };
    loop {
        let count = r.long()?;
        if count == 0 {
            break;
        }
        let count = if count < 0 {
            // A negative count is followed by the block's byte size, which we do not need.
            let size = r.long()?;
            if size < 0 {
                return Err(r.malformed("negative block size"));
            }
            count.unsigned_abs()
        } else {
            count as u64
        };
        // Every tag needs at least two bytes, so a count beyond that is a lie, not a reason
        // to allocate.
        if count > (bytes.len() - r.pos) as u64 / 2 {
            return Err(r.malformed("block count exceeds the remaining bytes"));
        }
        for _ in 0..count {
            let index = tags.len();
            let name = r.string(index, "name")?;
            let value = r.string(index, "value")?;
            tags.push(Tag { name, value });
        }
    }
    if r.pos < bytes.len() {
        return Err(TagError::TrailingGarbage {
            count: bytes.len() - r.pos,
        });
    }
    Ok(tags)
}

fn write_long(out: &mut Vec<u8>, n: i64) {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    write_long(out, b.len() as i64);
    out.extend_from_slice(b);
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn malformed(&self, why: &'static str) -> TagError {
        TagError::Malformed {
            offset: self.pos,
            why,
        }
    }

    fn long(&mut self) -> Result<i64, TagError> {
        let mut z: u64 = 0;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.bytes.get(self.pos) else {
                return Err(self.malformed("varint runs past the end"));
            };
            self.pos += 1;
            z |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok((z >> 1) as i64 ^ -((z & 1) as i64));
            }
        }
        Err(self.malformed("varint longer than 10 bytes"))
    }

    fn string(&mut self, index: usize, field: &'static str) -> Result<String, TagError> {
        let len = self.long()?;
        if len < 0 {
            return Err(self.malformed("negative string length"));
        }
        let len = len as u64;
        if len > (self.bytes.len() - self.pos) as u64 {
            return Err(self.malformed("string runs past the end"));
        }
        let end = self.pos + len as usize;
        let text = std::str::from_utf8(&self.bytes[self.pos..end])
            .map_err(|_| TagError::NotUtf8 { index, field })?;
        self.pos = end;
        Ok(text.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_list_is_zero_bytes() {
        assert!(encode(&[]).is_empty());
        assert_eq!(decode(&[]).unwrap(), vec![]);
    }

    #[test]
    fn one_tag_round_trips() {
        let tags = vec![Tag::new("Action", "Eval")];
        let bytes = encode(&tags);
        assert_eq!(bytes[0], 2);
        assert_eq!(decode(&bytes).unwrap(), tags);
    }

    #[test]
    fn lying_count_does_not_allocate() {
        // zigzag(2^40) as a count with nothing after it.
        let bytes = [0x80, 0x80, 0x80, 0x80, 0x80, 0x40];
        assert!(matches!(decode(&bytes), Err(TagError::Malformed { .. })));
    }

    #[test]
    fn limits_name_the_problem() {
        let many: Vec<Tag> = (0..129).map(|i| Tag::new(format!("T{i}"), "v")).collect();
        let err = check_limits(&many, encode(&many).len()).unwrap_err();
        assert_eq!(err.to_string(), "129 tags exceed the 128-tag limit");
        let empty = [Tag::new("", "v")];
        assert_eq!(
            check_limits(&empty, 4),
            Err(TagError::EmptyName { index: 0 })
        );
    }
}
