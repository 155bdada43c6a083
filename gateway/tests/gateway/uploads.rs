//! Uploads: single items (ed25519 and RSA), bundles (nested items found by GraphQL and served
//! byte-identical), duplicates, bad bodies, unknown ids, and a restart without loss.

use ao_core::bundle;
use ao_core::{Id, ItemBuilder};
use serde_json::{Value, json};

use crate::{ids_of, item, rsa_signer, signer, start, start_with};

async fn error_of(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (status, body["error"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn single_items_are_stored_and_served() {
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), None).await;
    let me = signer(10);
    let typed = item(&me, &[("Content-Type", "application/json")], b"{\"a\":1}");
    let untyped = item(&me, &[], &[0, 159, 146, 150]);
    gw.upload(&typed).await;
    // Past axum's 2 MB default body limit: only the configured limit (64 MiB) applies.
    let large = item(&me, &[], &vec![7u8; 3 << 20]);
    gw.upload(&large).await;
    let data = gw
        .get(&format!("/raw/{}", large.id()))
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(data, large.data);
    // POST /tx with an octet-stream body is a data item too.
    let response = gw.post_bytes("/tx", untyped.encode()).await;
    assert_eq!(response.status(), 200);
    for (i, content_type) in [
        (&typed, "application/json"),
        (&untyped, "application/octet-stream"),
    ] {
        for path in [format!("/raw/{}", i.id()), format!("/{}", i.id())] {
            let response = gw.get(&path).await;
            assert_eq!(response.status(), 200);
            assert_eq!(response.headers()["content-type"], content_type);
            assert_eq!(response.bytes().await.unwrap(), i.data);
        }
        let raw = gw
            .get(&format!("/item/{}", i.id()))
            .await
            .bytes()
            .await
            .unwrap();
        assert_eq!(raw, i.encode());
    }
    gw.stop().await;
}

#[tokio::test]
async fn rsa_items_show_the_arweave_owner() {
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), None).await;
    let rsa = rsa_signer();
    let signed = item(&rsa, &[("App-Name", "test")], b"rsa data");
    gw.upload(&signed).await;
    let query = "query($id: ID!) { transaction(id: $id) { owner { address key } } }";
    let data = gw
        .graphql(query, json!({"id": signed.id().to_string()}))
        .await;
    assert_eq!(data["transaction"]["owner"]["address"], rsa.address());
    let key = data["transaction"]["owner"]["key"].as_str().unwrap();
    assert_eq!(ao_core::b64::decode(key, "key").unwrap().len(), 512);
    let (ids, _) = gw.ids(&format!("owners: [\"{}\"]", rsa.address())).await;
    assert_eq!(ids, ids_of(&[&signed]));
    gw.stop().await;
}

#[tokio::test]
async fn bundle_items_are_indexed_and_served() {
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), None).await;
    let (bundler, user) = (signer(11), signer(12));
    let inner_a = item(
        &user,
        &[("Content-Type", "text/plain"), ("K", "a")],
        b"alpha",
    );
    let inner_b = item(&rsa_signer(), &[("K", "b")], &[1, 2, 3, 0, 255]);
    let deep = item(&user, &[("K", "deep")], b"deep data");
    let nested = bundle::nested_builder(std::slice::from_ref(&deep))
        .tag("K", "nested")
        .sign(&bundler)
        .unwrap();
    let outer = bundle::nested_builder(&[inner_a.clone(), inner_b.clone(), nested.clone()])
        .sign(&bundler)
        .unwrap();
    gw.upload(&outer).await;
    // Every item, at every depth, is found by GraphQL and served byte-identical.
    let (ids, _) = gw
        .ids("tags: [{name: \"K\", values: [\"a\", \"b\", \"nested\", \"deep\"]}]")
        .await;
    let mut expected = ids_of(&[&inner_a, &inner_b, &nested, &deep]);
    expected.reverse();
    assert_eq!(ids, expected);
    for i in [&inner_a, &inner_b, &nested, &deep, &outer] {
        let data = gw
            .get(&format!("/raw/{}", i.id()))
            .await
            .bytes()
            .await
            .unwrap();
        assert_eq!(data, i.data, "data of {}", i.id());
        let raw = gw
            .get(&format!("/item/{}", i.id()))
            .await
            .bytes()
            .await
            .unwrap();
        assert_eq!(raw, i.encode());
    }
    let response = gw.get(&format!("/raw/{}", inner_a.id())).await;
    assert_eq!(response.headers()["content-type"], "text/plain");
    // bundledIn links each item to the bundle it arrived in.
    let (ids, _) = gw.ids(&format!("bundledIn: [\"{}\"]", outer.id())).await;
    let mut expected = ids_of(&[&inner_a, &inner_b, &nested]);
    expected.reverse();
    assert_eq!(ids, expected);
    let query = "query($id: ID!) { transaction(id: $id) { bundledIn { id } owner { address } } }";
    let data = gw
        .graphql(query, json!({"id": deep.id().to_string()}))
        .await;
    assert_eq!(
        data["transaction"]["bundledIn"]["id"],
        nested.id().to_string()
    );
    assert_eq!(data["transaction"]["owner"]["address"], user.address());
    gw.stop().await;
}

#[tokio::test]
async fn duplicate_uploads_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), None).await;
    let me = signer(13);
    let one = item(&me, &[("K", "dup")], b"once");
    let first = gw.upload(&one).await;
    let again = gw.upload(&one).await;
    assert_eq!(first["timestamp"], again["timestamp"]);
    let via_tx = gw.post_bytes("/tx", one.encode()).await;
    assert_eq!(via_tx.status(), 200);
    // A bundle holding an item already stored stores the rest.
    let other = item(&me, &[("K", "dup")], b"twice");
    let wrapper = bundle::nested_builder(&[one.clone(), other.clone()])
        .sign(&me)
        .unwrap();
    gw.upload(&wrapper).await;
    gw.upload(&wrapper).await;
    let (ids, _) = gw.ids("tags: [{name: \"K\", values: [\"dup\"]}]").await;
    assert_eq!(ids, vec![other.id().to_string(), one.id().to_string()]);
    gw.stop().await;
}

#[tokio::test]
async fn bad_bodies_get_json_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = gateway::Config::new(dir.path());
    config.block_interval = None;
    config.upload_bytes_max = 4096;
    let gw = start_with(config).await;
    let me = signer(14);
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "garbage",
            b"\x02\x00garbage".to_vec(),
            400,
            "invalid data item",
        ),
        ("empty", Vec::new(), 400, "empty"),
        (
            "unknown type",
            {
                let mut bytes = vec![0u8; 100];
                bytes[0] = 0x63;
                bytes
            },
            400,
            "signature type",
        ),
        (
            "json tx",
            br#"{"format":2,"id":"x"}"#.to_vec(),
            400,
            "not supported",
        ),
        ("too large", vec![2; 5000], 413, "limit"),
        (
            "bad signature",
            {
                let mut bytes = item(&me, &[], b"payload").encode();
                *bytes.last_mut().unwrap() ^= 1;
                bytes
            },
            400,
            "signature",
        ),
        (
            "bad nested signature",
            {
                let mut inner = item(&me, &[], b"inner");
                inner.data = b"inneR".to_vec();
                bundle::nested_builder(&[inner]).sign(&me).unwrap().encode()
            },
            400,
            "nested",
        ),
        (
            "bundle tags, no bundle",
            ItemBuilder::new()
                .tags(bundle::bundle_tags())
                .data(b"not a bundle".to_vec())
                .sign(&me)
                .unwrap()
                .encode(),
            400,
            "not a valid bundle",
        ),
    ];
    for (name, body, status, needle) in cases {
        let (got, error) = error_of(gw.post_bytes("/tx/arweave", body).await).await;
        assert_eq!(got, status, "{name}: {error}");
        assert!(error.contains(needle), "{name}: {error}");
    }
    // Nothing was stored.
    assert_eq!(gw.ids("first: 100").await.0, Vec::<String>::new());
    gw.stop().await;
}

#[tokio::test]
async fn unknown_ids_are_404_and_malformed_ids_400() {
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), None).await;
    let unknown = Id([42; 32]);
    for path in [
        format!("/raw/{unknown}"),
        format!("/{unknown}"),
        format!("/item/{unknown}"),
        format!("/tx/{unknown}/status"),
        "/no/such/route".to_owned(),
    ] {
        let (status, error) = error_of(gw.get(&path).await).await;
        assert_eq!(status, 404, "{path}");
        assert!(error.contains("not found"), "{path}: {error}");
    }
    let (status, error) = error_of(gw.get("/raw/short").await).await;
    assert_eq!((status, error.contains("invalid id")), (400, true));
    let (status, error) = error_of(
        gw.client
            .delete(format!("{}/info", gw.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 405, "{error}");
    gw.stop().await;
}

#[tokio::test]
async fn restart_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let me = signer(15);
    let single = item(&me, &[("K", "kept")], b"single");
    let inner = item(&me, &[("K", "kept")], b"inner");
    let wrapper = bundle::nested_builder(std::slice::from_ref(&inner))
        .sign(&me)
        .unwrap();
    let pending = item(&me, &[("K", "kept")], b"pending");
    let height = {
        let gw = start(dir.path(), None).await;
        gw.upload(&single).await;
        gw.upload(&wrapper).await;
        let height = gw.mine().await;
        gw.upload(&pending).await;
        gw.stop().await;
        height
    };
    let gw = start(dir.path(), None).await;
    let info: Value = gw.get("/info").await.json().await.unwrap();
    assert_eq!(info["height"], height);
    let (ids, _) = gw
        .ids("tags: [{name: \"K\", values: [\"kept\"]}], sort: HEIGHT_ASC")
        .await;
    assert_eq!(ids, ids_of(&[&single, &inner, &pending]));
    for i in [&single, &inner, &pending, &wrapper] {
        let data = gw
            .get(&format!("/raw/{}", i.id()))
            .await
            .bytes()
            .await
            .unwrap();
        assert_eq!(data, i.data);
    }
    // The pending item goes into the next block; sequences continue where they were.
    let next = item(&me, &[("K", "kept")], b"after restart");
    gw.upload(&next).await;
    assert_eq!(gw.mine().await, height + 1);
    let (ids, _) = gw
        .ids("tags: [{name: \"K\", values: [\"kept\"]}], sort: HEIGHT_ASC, block: {min: 2}")
        .await;
    assert_eq!(ids, ids_of(&[&pending, &next]));
    gw.stop().await;
}
