//! A 32-byte identifier (item ids, process ids, assignment ids, hash-chain links) and its
//! 43-character base64url text form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::b64::{self, Base64Error};

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(pub [u8; 32]);

impl Id {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses the text form; `what` names the field in the error ("process-id", "Target").
    pub fn parse(text: &str, what: &'static str) -> Result<Id, Base64Error> {
        b64::decode_id(text, what).map(Id)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&b64::encode(self.0))
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({self})")
    }
}

impl FromStr for Id {
    type Err = Base64Error;
    fn from_str(s: &str) -> Result<Id, Base64Error> {
        Id::parse(s, "id")
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Id::parse(&text, "id").map_err(serde::de::Error::custom)
    }
}
