//! The AO protocol, with no I/O and no async runtime: ANS-104 data items, tags, the deep hash,
//! signers and wallets, bundles, AO views over items (Process, Message, Assignment, Module,
//! Scheduler-Location), the scheduler hash chain, the JSON wire types of the SU, MU and CU, and
//! Arweave format-2 transactions (the layer-one wrapper of a bundle).
//!
//! Invariant: nothing here touches the network, the disk or the clock; randomness is used only
//! for key generation, RSA-PSS salts and assignment anchors, and callers may inject it.

pub mod ao;
pub mod arweave;
pub mod b64;
pub mod bundle;
pub mod crypto;
pub mod deep_hash;
pub mod hash;
pub mod hash_chain;
pub mod id;
pub mod item;
pub mod signature_type;
pub mod tags;
pub mod wallet;
pub mod wire;

pub use crypto::{SignatureError, Signer};
pub use id::Id;
pub use item::{DataItem, DecodeError, ItemBuilder};
pub use signature_type::SignatureType;
pub use tags::Tag;
