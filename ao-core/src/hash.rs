//! The two hash functions the protocol uses: SHA-256 (ids, addresses, the hash chain) and
//! SHA-384 (the deep hash). Backed by aws-lc-rs, which uses the CPU's SHA extensions.

use aws_lc_rs::digest;

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, bytes);
    d.as_ref().try_into().expect("SHA-256 is 32 bytes")
}

/// SHA-256 over several slices, as if concatenated, without copying them together.
pub fn sha256_parts(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for part in parts {
        ctx.update(part);
    }
    ctx.finish()
        .as_ref()
        .try_into()
        .expect("SHA-256 is 32 bytes")
}

pub fn sha384(bytes: &[u8]) -> [u8; 48] {
    let d = digest::digest(&digest::SHA384, bytes);
    d.as_ref().try_into().expect("SHA-384 is 48 bytes")
}

/// SHA-384 over several slices, as if concatenated.
pub fn sha384_parts(parts: &[&[u8]]) -> [u8; 48] {
    let mut ctx = digest::Context::new(&digest::SHA384);
    for part in parts {
        ctx.update(part);
    }
    ctx.finish()
        .as_ref()
        .try_into()
        .expect("SHA-384 is 48 bytes")
}
