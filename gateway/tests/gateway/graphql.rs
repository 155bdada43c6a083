//! GraphQL: every filter, their combinations, sorting, paging, the exact queries aoconnect and
//! aos send, selection shape (aliases, fragments, `__typename`) and errors.

use ao_core::{Id, ItemBuilder};
use serde_json::{Value, json};

use crate::{ids_of, item, signer, start};

fn rev(mut v: Vec<String>) -> Vec<String> {
    v.reverse();
    v
}

#[tokio::test]
async fn filters_by_ids_owners_recipients_and_tags() {
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), None).await;
    let (alice, bob) = (signer(1), signer(2));
    let target = Id([9; 32]);
    let a = item(&alice, &[("Type", "Process"), ("Name", "one")], b"a");
    let b = item(&alice, &[("Type", "Message"), ("Action", "Eval")], b"b");
    let c = ItemBuilder::new()
        .target(target)
        .tag("Type", "Message")
        .tag("Action", "Ping")
        .data(b"c".to_vec())
        .sign(&bob)
        .unwrap();
    let d = item(&bob, &[("Type", "Module"), ("Name", "one")], b"d");
    for i in [&a, &b, &c, &d] {
        gw.upload(i).await;
    }
    gw.mine().await;
    let q = |args: String| {
        let gw = &gw;
        async move { gw.ids(&args).await.0 }
    };
    // ids: only those, newest first; unknown and malformed ids match nothing.
    let args = format!(
        "ids: [\"{}\", \"{}\", \"{}\", \"nonsense\"]",
        a.id(),
        c.id(),
        Id([7; 32])
    );
    assert_eq!(q(args).await, rev(ids_of(&[&a, &c])));
    // owners
    let args = format!("owners: [\"{}\"]", alice.address());
    assert_eq!(q(args).await, rev(ids_of(&[&a, &b])));
    let args = format!("owners: [\"{}\", \"{}\"]", alice.address(), bob.address());
    assert_eq!(q(args).await, rev(ids_of(&[&a, &b, &c, &d])));
    assert!(q("owners: [\"0xabc\"]".into()).await.is_empty());
    // recipients
    let args = format!("recipients: [\"{target}\"]");
    assert_eq!(q(args).await, ids_of(&[&c]));
    // one tag filter with several values: ORed
    let args = "tags: [{name: \"Type\", values: [\"Process\", \"Module\"]}]".to_owned();
    assert_eq!(q(args).await, rev(ids_of(&[&a, &d])));
    // several tag filters: ANDed
    let args = "tags: [{name: \"Type\", values: [\"Message\"]}, {name: \"Action\", values: [\"Ping\", \"Eval\"]}]";
    assert_eq!(q(args.into()).await, rev(ids_of(&[&b, &c])));
    let args =
        "tags: [{name: \"Type\", values: [\"Message\"]}, {name: \"Action\", values: [\"Nope\"]}]";
    assert!(q(args.into()).await.is_empty());
    // combinations: owner AND tags, ids AND owner, recipient AND owner
    let args = format!(
        "owners: [\"{}\"], tags: [{{name: \"Name\", values: [\"one\"]}}]",
        bob.address()
    );
    assert_eq!(q(args).await, ids_of(&[&d]));
    let args = format!(
        "ids: [\"{}\", \"{}\"], owners: [\"{}\"]",
        a.id(),
        c.id(),
        bob.address()
    );
    assert_eq!(q(args).await, ids_of(&[&c]));
    let args = format!(
        "recipients: [\"{target}\"], owners: [\"{}\"]",
        alice.address()
    );
    assert!(q(args).await.is_empty());
    // no filter: everything
    assert_eq!(q("first: 100".into()).await, rev(ids_of(&[&a, &b, &c, &d])));
    gw.stop().await;
}

#[tokio::test]
async fn sorts_both_ways_and_pages_with_cursors() {
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), None).await;
    let alice = signer(3);
    let mut items = Vec::new();
    for n in 0..25 {
        let i = item(&alice, &[("Kind", "page"), ("N", &n.to_string())], b"x");
        gw.upload(&i).await;
        items.push(i);
        if n % 10 == 9 {
            gw.mine().await;
        }
    }
    gw.mine().await;
    let all: Vec<String> = items.iter().map(|i| i.id().to_string()).collect();
    for (sort, expected) in [
        ("HEIGHT_ASC", all.clone()),
        ("HEIGHT_DESC", rev(all.clone())),
    ] {
        let mut seen = Vec::new();
        let mut after = String::new();
        let mut pages = Vec::new();
        loop {
            let query = "query Page($after: String, $sort: SortOrder) { transactions(first: 10, after: $after, sort: $sort, tags: [{name: \"Kind\", values: [\"page\"]}]) { pageInfo { hasNextPage } edges { cursor node { id block { height } } } } }";
            let data = gw
                .graphql(query, json!({"after": after, "sort": sort}))
                .await;
            let edges = data["transactions"]["edges"].as_array().unwrap().clone();
            let heights: Vec<u64> = edges
                .iter()
                .map(|e| e["node"]["block"]["height"].as_u64().unwrap())
                .collect();
            let mut sorted = heights.clone();
            sorted.sort_unstable();
            if sort == "HEIGHT_DESC" {
                sorted.reverse();
            }
            assert_eq!(heights, sorted, "{sort} orders by height");
            seen.extend(
                edges
                    .iter()
                    .map(|e| e["node"]["id"].as_str().unwrap().to_owned()),
            );
            let more = data["transactions"]["pageInfo"]["hasNextPage"]
                .as_bool()
                .unwrap();
            pages.push((edges.len(), more));
            if !more {
                break;
            }
            after = edges.last().unwrap()["cursor"].as_str().unwrap().to_owned();
        }
        assert_eq!(pages, vec![(10, true), (10, true), (5, false)]);
        assert_eq!(seen, expected, "{sort}");
    }
    // HEIGHT_DESC is the default; `first` defaults to 10 and is clamped to 100.
    let (ids, more) = gw.ids(&format!("owners: [\"{}\"]", alice.address())).await;
    assert_eq!(ids, rev(all.clone())[..10].to_vec());
    assert!(more);
    let (ids, more) = gw.ids("first: 1000").await;
    assert_eq!((ids.len(), more), (25, false));
    let (ids, more) = gw.ids("first: 0").await;
    assert_eq!((ids.len(), more), (0, true));
    gw.stop().await;
}

#[tokio::test]
async fn aoconnect_spawn_module_query_with_variables() {
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), None).await;
    let author = signer(4);
    let module = item(
        &author,
        &[
            ("Data-Protocol", "ao"),
            ("Type", "Module"),
            ("Module-Format", "lua53"),
            ("Input-Encoding", "JSON-1"),
            ("Output-Encoding", "JSON-1"),
            ("Content-Type", "text/x-lua"),
        ],
        b"return {}",
    );
    gw.upload(&module).await;
    let height = gw.mine().await;
    let query = "query GetTransactions ($transactionIds: [ID!]!) { transactions(ids: $transactionIds) { edges { node { owner { address } tags { name value } block { id height timestamp } } } } }";
    let data = gw
        .graphql(query, json!({"transactionIds": [module.id().to_string()]}))
        .await;
    let edges = data["transactions"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 1);
    // Exactly the selected fields, nothing more.
    let node = edges[0].as_object().unwrap()["node"].as_object().unwrap();
    assert_eq!(
        node.keys().collect::<Vec<_>>(),
        ["block", "owner", "tags"].iter().collect::<Vec<_>>()
    );
    assert_eq!(node["owner"], json!({"address": author.address()}));
    let tags: Vec<(String, String)> = node["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().into(),
                t["value"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = module
        .tags
        .iter()
        .map(|t| (t.name.clone(), t.value.clone()))
        .collect();
    assert_eq!(tags, expected);
    let block = node["block"].as_object().unwrap();
    assert_eq!(block.len(), 3);
    assert_eq!(block["height"], height);
    assert_eq!(block["id"].as_str().unwrap().len(), 64);
    assert!(block["timestamp"].as_u64().unwrap() > 1_600_000_000);
    // The required variable is required.
    let (status, body) = gw.graphql_raw(query, json!({})).await;
    assert_eq!(status, 400);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("transactionIds")
    );
    gw.stop().await;
}

#[tokio::test]
async fn aos_finds_a_process_by_owner_and_name() {
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), None).await;
    let (me, other) = (signer(5), signer(6));
    let process = |who, name: &str, n: &str| {
        item(
            who,
            &[
                ("Data-Protocol", "ao"),
                ("Variant", "ao.TN.1"),
                ("Type", "Process"),
                ("Name", name),
                ("N", n),
            ],
            b"",
        )
    };
    let mine_old = process(&me, "default", "1");
    let theirs = process(&other, "default", "2");
    let mine_other_name = process(&me, "chat", "3");
    let mine_new = process(&me, "default", "4");
    for p in [&mine_old, &theirs, &mine_other_name] {
        gw.upload(p).await;
    }
    gw.mine().await;
    gw.upload(&mine_new).await;
    gw.mine().await;
    // aos's query, as it sends it (owner and name as variables, first and sort inline).
    let query = r#"query ($owners: [String!]!, $name: [String!]!) {
        transactions(
          first: 1,
          owners: $owners,
          sort: HEIGHT_DESC,
          tags: [
            { name: "Data-Protocol", values: ["ao"] },
            { name: "Type", values: ["Process"] },
            { name: "Name", values: $name }
          ]
        ) { edges { node { id tags { name value } } } }
      }"#;
    let data = gw
        .graphql(
            query,
            json!({"owners": [me.address()], "name": ["default"]}),
        )
        .await;
    let edges = data["transactions"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 1);
    assert_eq!(edges[0]["node"]["id"], mine_new.id().to_string());
    let data = gw
        .graphql(query, json!({"owners": [me.address()], "name": ["nobody"]}))
        .await;
    assert_eq!(data["transactions"]["edges"], json!([]));
    gw.stop().await;
}

#[tokio::test]
async fn answers_exactly_the_selection_with_aliases_and_fragments() {
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), None).await;
    let me = signer(7);
    let target = Id([3; 32]);
    let anchor = [b'1'; 32];
    let one = ItemBuilder::new()
        .target(target)
        .anchor(anchor)
        .tag("Content-Type", "text/plain")
        .data(b"hello".to_vec())
        .sign(&me)
        .unwrap();
    gw.upload(&one).await;
    let query = r#"
      query Q($id: ID!, $skipTags: Boolean = true) {
        tx: transaction(id: $id) { ...Basics owner { key } tags @skip(if: $skipTags) { name } }
        __typename
        list: transactions(ids: [$id]) { __typename edges { ... on TransactionEdge { node { id } } } }
      }
      fragment Basics on Transaction {
        id recipient anchor signature data { size type } fee { winston } block { height }
        bundledIn { id }
      }"#;
    let data = gw.graphql(query, json!({"id": one.id().to_string()})).await;
    let expected = json!({
        "tx": {
            "id": one.id().to_string(),
            "recipient": target.to_string(),
            "anchor": ao_core::b64::encode(anchor),
            "signature": ao_core::b64::encode(&one.signature),
            "data": {"size": "5", "type": "text/plain"},
            "fee": {"winston": "0"},
            "block": null,
            "bundledIn": null,
            "owner": {"key": ao_core::b64::encode(&one.owner)},
        },
        "__typename": "Query",
        "list": {"__typename": "TransactionConnection", "edges": [{"node": {"id": one.id().to_string()}}]},
    });
    assert_eq!(data, expected);
    // Field order follows the query.
    let response = gw
        .client
        .post(format!("{}/graphql", gw.url))
        .json(&json!({"query": "{ transaction(id: \"".to_owned() + &one.id().to_string() + "\") { tags { value name } id } }"}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let expected = format!(
        "{{\"data\":{{\"transaction\":{{\"tags\":[{{\"value\":\"text/plain\",\"name\":\"Content-Type\"}}],\"id\":\"{}\"}}}}}}",
        one.id()
    );
    assert_eq!(response, expected);
    // A missing transaction is null; GET /graphql works too.
    let response: Value = gw
        .get(&format!(
            "/graphql?query={{transaction(id:%22{}%22){{id}}}}",
            Id([1; 32])
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(response, json!({"data": {"transaction": null}}));
    gw.stop().await;
}

#[tokio::test]
async fn graphql_errors_have_the_graphql_shape() {
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), None).await;
    for (query, needle) in [
        ("{ transactions { edges { node { id }", "Syntax Error"),
        (
            "{ transactions { edges { node { nope } } } }",
            "Cannot query field \"nope\"",
        ),
        (
            "{ transactions(colour: 1) { edges { cursor } } }",
            "Unknown argument \"colour\"",
        ),
        (
            "{ transactions { edges { node { owner } } } }",
            "must have a selection",
        ),
        (
            "{ transactions(after: \"!!\") { edges { cursor } } }",
            "cursor",
        ),
        (
            "{ transactions(sort: SIDEWAYS) { edges { cursor } } }",
            "HEIGHT_DESC",
        ),
        ("mutation { x }", "Only queries"),
        (
            "{ transactions { ...Loop } } fragment Loop on TransactionConnection { ...Loop }",
            "Fragments nest",
        ),
        (
            &format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
            "nest deeper",
        ),
    ] {
        let (status, body) = gw.graphql_raw(query, Value::Null).await;
        assert_eq!(status, 400, "{query:.80}: {body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{query:.80}: {message}");
    }
    // A body that is not JSON.
    let response = gw.post_bytes("/graphql", b"query { x }".to_vec()).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(body["errors"][0]["message"].is_string());
    gw.stop().await;
}
