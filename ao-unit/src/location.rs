//! Finding an SU by its `Scheduler-Location` item (PROTOCOL.md §3): the GraphQL query both the
//! MU and the CU send to a gateway, and the reading of the newest item's tags. Owns: the query
//! text and what makes a location valid. Must never: do I/O (each unit sends the query with its
//! own client and caches the answer for its `Time-To-Live`).

use std::time::Duration;

use ao_core::Tag;

/// The newest `Scheduler-Location` item signed by `$owners` (one address), with its tags.
pub const LOCATION_QUERY: &str = "query ($owners: [String!]!) { transactions(owners: $owners, \
    tags: [{name: \"Data-Protocol\", values: [\"ao\"]}, {name: \"Type\", values: [\"Scheduler-Location\"]}], \
    first: 1, sort: HEIGHT_DESC) { edges { node { tags { name value } } } } }";

/// Where an SU lives, and for how long that may be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The SU's base URL, without a trailing slash.
    pub url: String,
    /// The item's `Time-To-Live`, or the caller's default when it has none or an unreadable one.
    pub ttl: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocationError {
    #[error("no Url tag")]
    NoUrl,
    #[error("Url {0:?} is not an http(s) URL")]
    NotHttp(String),
}

impl Location {
    /// Reads a `Scheduler-Location` item's tags (`Url`, `Time-To-Live` in ms).
    pub fn from_tags(tags: &[Tag], ttl_default: Duration) -> Result<Location, LocationError> {
        let tag = |name: &str| {
            tags.iter()
                .find(|t| t.name == name)
                .map(|t| t.value.as_str())
        };
        let url = tag("Url").ok_or(LocationError::NoUrl)?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(LocationError::NotHttp(url.to_owned()));
        }
        let ttl = tag("Time-To-Live")
            .and_then(|t| t.parse::<u64>().ok())
            .map_or(ttl_default, Duration::from_millis);
        Ok(Location {
            url: url.trim_end_matches('/').to_owned(),
            ttl,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_url_and_time_to_live() {
        let day = Duration::from_secs(86_400);
        let tags = [
            Tag::new("Type", "Scheduler-Location"),
            Tag::new("Url", "https://su.example/"),
            Tag::new("Time-To-Live", "5000"),
        ];
        let location = Location::from_tags(&tags, day).unwrap();
        assert_eq!(location.url, "https://su.example");
        assert_eq!(location.ttl, Duration::from_millis(5000));
        let no_ttl = [Tag::new("Url", "http://127.0.0.1:9000")];
        assert_eq!(Location::from_tags(&no_ttl, day).unwrap().ttl, day);
        assert_eq!(Location::from_tags(&[], day), Err(LocationError::NoUrl));
        let ftp = [Tag::new("Url", "ftp://x")];
        assert!(matches!(
            Location::from_tags(&ftp, day),
            Err(LocationError::NotHttp(_))
        ));
    }
}
