//! ao-core benchmark: decode+verify of real items (aoconnect RSA-4096, ed25519, Ethereum),
//! signing with each key type, the deep hash of 1 MiB, and a bundle round trip.
//! Prints one `name value unit` line per figure. Run: `cargo bench -p ao-core --bench core`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ao_core::wallet::Jwk;
use ao_core::{DataItem, ItemBuilder, Signer, b64, bundle};
use serde_json::Value;

/// Runs `f` repeatedly for about `budget` and returns the mean time per call.
fn time_per_call(budget: Duration, mut f: impl FnMut()) -> Duration {
    f(); // warm up
    let start = Instant::now();
    let mut calls = 0u32;
    while start.elapsed() < budget {
        f();
        calls += 1;
    }
    start.elapsed() / calls.max(1)
}

fn report(name: &str, per_call: Duration) {
    let micros = per_call.as_secs_f64() * 1e6;
    println!("{name}_us {micros:.1} us");
    println!("{name}_per_s {:.0} ops/s", 1e6 / micros);
}

fn vectors(name: &str) -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/vectors/");
    serde_json::from_str(&std::fs::read_to_string(format!("{path}{name}")).unwrap()).unwrap()
}

fn item_bytes(items: &Value, name: &str) -> Vec<u8> {
    let case = items
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no item {name}"));
    b64::decode(case["raw_b64url"].as_str().unwrap(), "raw").unwrap()
}

fn main() {
    let budget = Duration::from_millis(
        std::env::var("BENCH_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000),
    );
    let items = vectors("items.json");
    for (label, name) in [
        ("decode_verify_rsa4096_aoconnect", "aoconnect_message_eval"),
        ("decode_verify_ed25519", "ed25519_target_anchor_tags"),
        ("decode_verify_ethereum", "ethereum_type3"),
    ] {
        let raw = item_bytes(&items, name);
        // Correctness first: a fast wrong answer does not count.
        DataItem::decode(&raw).unwrap().verify().unwrap();
        report(
            label,
            time_per_call(budget, || {
                let item = DataItem::decode(black_box(&raw)).unwrap();
                item.verify().unwrap();
            }),
        );
    }

    let keys = vectors("keys.json");
    let rsa = Jwk::from_json(&keys["rsa"]["jwk"].to_string())
        .unwrap()
        .signer()
        .unwrap();
    let ed = Jwk::from_json(&keys["ed25519"]["jwk"].to_string())
        .unwrap()
        .signer()
        .unwrap();
    let eth_secret: [u8; 32] = hex_decode(keys["ethereum"]["private_key_hex"].as_str().unwrap());
    let eth = Signer::from_ethereum_secret(&eth_secret).unwrap();
    let builder = ItemBuilder::new()
        .target(ao_core::Id([7; 32]))
        .tag("Data-Protocol", "ao")
        .tag("Type", "Message")
        .tag("Action", "Ping")
        .data(&b"ping"[..]);
    for (label, signer) in [
        ("sign_item_ed25519", &ed),
        ("sign_item_rsa4096", &rsa),
        ("sign_item_ethereum", &eth),
    ] {
        builder.clone().sign(signer).unwrap().verify().unwrap();
        report(
            label,
            time_per_call(budget, || {
                black_box(builder.clone().sign(signer).unwrap());
            }),
        );
    }

    let mib: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    let per = time_per_call(budget, || {
        black_box(ao_core::deep_hash::deep_hash_blob(black_box(&mib)));
    });
    println!("deep_hash_1mib_us {:.1} us", per.as_secs_f64() * 1e6);
    println!("deep_hash_throughput {:.0} MiB/s", 1.0 / per.as_secs_f64());

    let signed: Vec<DataItem> = (0..100)
        .map(|i| builder.clone().data(format!("item {i}")).sign(&ed).unwrap())
        .collect();
    let bytes = bundle::encode(&signed);
    let per = time_per_call(budget, || {
        black_box(bundle::verify(black_box(&bytes)).unwrap());
    });
    println!(
        "bundle_verify_100_ed25519_us {:.1} us",
        per.as_secs_f64() * 1e6
    );
}

fn hex_decode<const N: usize>(text: &str) -> [u8; N] {
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}
