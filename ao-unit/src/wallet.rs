//! A unit's wallet: a JWK file given by the operator (Arweave RSA or ed25519), or an ed25519
//! key created in the unit's data directory on first run and reused afterwards. Must never
//! print or log private key material, or overwrite an existing wallet file.

use std::io::Write;
use std::path::{Path, PathBuf};

use ao_core::Signer;
use ao_core::wallet::{Jwk, WalletError};

/// The generated wallet's file name inside the data directory.
pub const WALLET_FILE: &str = "wallet.json";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read wallet {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write wallet {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("wallet {path}: {source}")]
    Invalid { path: PathBuf, source: WalletError },
}

/// The signer from `wallet`, else from `data_dir/wallet.json`, created if missing.
pub fn load_or_create(wallet: Option<&Path>, data_dir: &Path) -> Result<Signer, KeyError> {
    let path = match wallet {
        Some(path) => path.to_owned(),
        None => {
            let path = data_dir.join(WALLET_FILE);
            if !path.exists() {
                create(&path)?;
            }
            path
        }
    };
    let text = std::fs::read_to_string(&path).map_err(|source| KeyError::Read {
        path: path.clone(),
        source,
    })?;
    let invalid = |source| KeyError::Invalid {
        path: path.clone(),
        source,
    };
    Jwk::from_json(&text)
        .and_then(|jwk| jwk.signer())
        .map_err(invalid)
}

fn create(path: &Path) -> Result<(), KeyError> {
    let jwk = Jwk::generate_ed25519().map_err(|source| KeyError::Invalid {
        path: path.to_owned(),
        source,
    })?;
    let write_err = |source| KeyError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(write_err)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(write_err)?;
    file.write_all(jwk.to_json().as_bytes())
        .map_err(write_err)?;
    file.sync_all().map_err(write_err)?;
    tracing::info!(path = %path.display(), "created an ed25519 wallet");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_once_then_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(None, dir.path()).unwrap();
        let again = load_or_create(None, dir.path()).unwrap();
        assert_eq!(first.address(), again.address());
        let explicit = load_or_create(Some(&dir.path().join(WALLET_FILE)), dir.path()).unwrap();
        assert_eq!(explicit.address(), first.address());
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.json");
        let err = load_or_create(Some(&missing), dir.path()).unwrap_err();
        assert!(err.to_string().contains("nope.json"), "{err}");
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{\"kty\":\"EC\"}").unwrap();
        let err = load_or_create(Some(&bad), dir.path()).unwrap_err();
        assert!(err.to_string().contains("bad.json"), "{err}");
    }
}
