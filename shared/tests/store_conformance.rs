//! The store conformance suite: every case runs on the embedded backend and on DynamoDB Local,
//! and both must give the same answers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use shared::store::{
    Cmp, Condition, Cursor, Item, Key, Query, SortKey, Store, StoreError, Update, Write,
};
use shared::testkit::TestStore;

shared::on_both_backends!(
    missing_item_reads_as_none,
    values_round_trip_unchanged,
    put_if_not_exists_refuses_a_second_put,
    optimistic_update_fails_on_a_stale_version,
    conditional_delete_returns_the_old_item,
    update_creates_missing_items_and_returns_the_result,
    comparisons_agree_on_missing_attributes_and_types,
    add_to_a_non_number_is_refused,
    atomic_counter_is_exact_under_50_concurrent_updates,
    exactly_one_of_20_concurrent_consumers_wins,
    exactly_one_of_20_concurrent_creates_wins,
    transaction_with_a_failing_condition_writes_nothing,
    transaction_applies_every_write,
    exactly_one_of_20_concurrent_transactions_wins,
    pagination_walks_every_item_once_in_both_directions,
    sort_key_conditions_select_the_same_items,
    index_queries_page_in_index_order,
    cursor_of_another_partition_is_refused,
    sort_order_is_by_utf8_bytes,
    expired_items_are_absent_everywhere,
    update_of_an_expired_item_starts_afresh,
    invalid_requests_are_refused_alike,
    whole_floats_read_back_as_integers,
    a_cursor_reused_outside_its_range_is_refused,
);

fn key(sk: &str) -> Key {
    Key::new("P#1", sk)
}

async fn missing_item_reads_as_none(t: TestStore) {
    assert_eq!(t.store.get(&key("nothing")).await.unwrap(), None);
    assert_eq!(t.store.delete(&key("nothing"), None).await.unwrap(), None);
    t.store.ping().await.unwrap();
}

async fn values_round_trip_unchanged(t: TestStore) {
    let item = Item::new(&key("A"))
        .with("text", "héllo ✓ 日本")
        .with("empty", "")
        .with("int", 42)
        .with("negative", -7)
        .with("big", 9_007_199_254_740_993_i64)
        .with("float", 2.5)
        .with("yes", true)
        .with("nothing", serde_json::Value::Null)
        .with("list", json!([1, "two", {"three": 3}, []]))
        .with(
            "map",
            json!({"nested": {"deep": [true, null]}, "empty": {}}),
        );
    t.store.put(item.clone(), None).await.unwrap();
    assert_eq!(t.store.get(&key("A")).await.unwrap(), Some(item));
}

async fn put_if_not_exists_refuses_a_second_put(t: TestStore) {
    let first = Item::new(&key("U")).with("owner", "first");
    t.store
        .put(first.clone(), Some(Condition::NotExists))
        .await
        .unwrap();
    let second = Item::new(&key("U")).with("owner", "second");
    let err = t
        .store
        .put(second, Some(Condition::NotExists))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::ConditionFailed { index: None }),
        "{err:?}"
    );
    assert_eq!(t.store.get(&key("U")).await.unwrap(), Some(first));
}

async fn optimistic_update_fails_on_a_stale_version(t: TestStore) {
    t.store
        .put(
            Item::new(&key("V")).with("version", 1).with("name", "a"),
            None,
        )
        .await
        .unwrap();
    let updated = t
        .store
        .update(
            &key("V"),
            vec![Update::set("name", "b"), Update::add("version", 1)],
            Some(Condition::eq("version", 1)),
        )
        .await
        .unwrap();
    assert_eq!(updated.get("version"), Some(&json!(2)));
    assert_eq!(updated.get("name"), Some(&json!("b")));
    let stale = t
        .store
        .update(
            &key("V"),
            vec![Update::set("name", "c")],
            Some(Condition::eq("version", 1)),
        )
        .await
        .unwrap_err();
    assert!(stale.is_condition_failed());
    assert_eq!(
        t.store.get(&key("V")).await.unwrap().unwrap().get("name"),
        Some(&json!("b"))
    );
    // Exists guards an update against creating the item.
    let absent = t
        .store
        .update(
            &key("none"),
            vec![Update::set("x", 1)],
            Some(Condition::Exists),
        )
        .await
        .unwrap_err();
    assert!(absent.is_condition_failed());
    assert_eq!(t.store.get(&key("none")).await.unwrap(), None);
}

async fn conditional_delete_returns_the_old_item(t: TestStore) {
    let item = Item::new(&key("D")).with("state", "open");
    t.store.put(item.clone(), None).await.unwrap();
    let refused = t
        .store
        .delete(&key("D"), Some(Condition::eq("state", "closed")))
        .await
        .unwrap_err();
    assert!(refused.is_condition_failed());
    let old = t
        .store
        .delete(&key("D"), Some(Condition::eq("state", "open")))
        .await
        .unwrap();
    assert_eq!(old, Some(item));
    assert_eq!(t.store.get(&key("D")).await.unwrap(), None);
    let gone = t
        .store
        .delete(&key("D"), Some(Condition::Exists))
        .await
        .unwrap_err();
    assert!(gone.is_condition_failed());
}

async fn update_creates_missing_items_and_returns_the_result(t: TestStore) {
    let created = t
        .store
        .update(
            &key("N"),
            vec![
                Update::add("count", 3),
                Update::set_if_absent("first_seen", 100),
                Update::set("gsi_ready", true),
            ],
            None,
        )
        .await
        .unwrap();
    assert_eq!(created.key(), Some(key("N")));
    assert_eq!(created.get("count"), Some(&json!(3)));
    let again = t
        .store
        .update(
            &key("N"),
            vec![
                Update::add("count", -1),
                Update::set_if_absent("first_seen", 200),
                Update::remove("gsi_ready"),
            ],
            None,
        )
        .await
        .unwrap();
    assert_eq!(again.get("count"), Some(&json!(2)));
    assert_eq!(again.get("first_seen"), Some(&json!(100)));
    assert_eq!(again.get("gsi_ready"), None);
    assert_eq!(t.store.get(&key("N")).await.unwrap(), Some(again));
}

async fn comparisons_agree_on_missing_attributes_and_types(t: TestStore) {
    t.store
        .put(
            Item::new(&key("C"))
                .with("n", 5)
                .with("s", "abc")
                .with("f", 5.0),
            None,
        )
        .await
        .unwrap();
    let cases: Vec<(Condition, bool)> = vec![
        (Condition::compare("missing", Cmp::Ne, 1), false),
        (Condition::compare("missing", Cmp::Eq, 1), false),
        (Condition::compare("missing", Cmp::Lt, 1), false),
        (Condition::compare("s", Cmp::Ne, 1), true),
        (Condition::compare("s", Cmp::Lt, 1), false),
        (Condition::compare("s", Cmp::Eq, 1), false),
        (Condition::compare("n", Cmp::Eq, 5.0), true),
        (Condition::compare("f", Cmp::Eq, 5), true),
        (Condition::compare("n", Cmp::Gt, 4.5), true),
        (Condition::compare("s", Cmp::Lt, "abd"), true),
        (Condition::compare("s", Cmp::Ge, "abc"), true),
        (Condition::attribute_not_exists("missing"), true),
        (
            Condition::attribute_exists("n").and(Condition::compare("n", Cmp::Le, 5)),
            true,
        ),
        (Condition::eq("n", 1).or(Condition::eq("s", "abc")), true),
        (Condition::eq("n", 5).not(), false),
        (Condition::NotExists, false),
    ];
    for (condition, expected) in cases {
        let result = t
            .store
            .update(
                &key("C"),
                vec![Update::set("touched", true)],
                Some(condition.clone()),
            )
            .await;
        assert_eq!(result.is_ok(), expected, "{condition:?}: {result:?}");
        if let Err(err) = result {
            assert!(err.is_condition_failed(), "{condition:?}: {err:?}");
        }
    }
    // On an absent item: only conditions that hold for "nothing" pass.
    let absent: Vec<(Condition, bool)> = vec![
        (Condition::NotExists, true),
        (Condition::attribute_not_exists("x"), true),
        (Condition::compare("x", Cmp::Ne, 1), false),
        (Condition::eq("x", 1).not(), true),
        (Condition::Exists, false),
    ];
    for (i, (condition, expected)) in absent.into_iter().enumerate() {
        let k = key(&format!("absent-{i}"));
        let result = t.store.put(Item::new(&k), Some(condition.clone())).await;
        assert_eq!(result.is_ok(), expected, "{condition:?}: {result:?}");
    }
}

async fn add_to_a_non_number_is_refused(t: TestStore) {
    t.store
        .put(Item::new(&key("S")).with("s", "text"), None)
        .await
        .unwrap();
    let err = t
        .store
        .update(&key("S"), vec![Update::add("s", 1)], None)
        .await
        .unwrap_err();
    assert!(!err.is_condition_failed() && !err.is_transient(), "{err:?}");
    assert_eq!(
        t.store.get(&key("S")).await.unwrap().unwrap().get("s"),
        Some(&json!("text"))
    );
}

async fn atomic_counter_is_exact_under_50_concurrent_updates(t: TestStore) {
    let store = Arc::new(t.store);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .update(&key("COUNTER"), vec![Update::add("hits", 1)], None)
                    .await
            })
        })
        .collect();
    let mut seen = HashSet::new();
    for task in tasks {
        let item = task.await.unwrap().unwrap();
        seen.insert(item.get_i64("hits").unwrap());
    }
    // Every update saw a different count: none was lost or applied twice.
    assert_eq!(seen, (1..=50).collect::<HashSet<i64>>());
    let item = store.get(&key("COUNTER")).await.unwrap().unwrap();
    assert_eq!(item.get_i64("hits"), Some(50));
}

async fn exactly_one_of_20_concurrent_consumers_wins(t: TestStore) {
    t.store
        .put(Item::new(&key("TOKEN")).with("user", "u1"), None)
        .await
        .unwrap();
    let store = Arc::new(t.store);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.delete(&key("TOKEN"), Some(Condition::Exists)).await })
        })
        .collect();
    let (mut winners, mut refused) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(Some(item)) => {
                assert_eq!(item.get_str("user"), Some("u1"));
                winners += 1;
            }
            Err(err) if err.is_condition_failed() => refused += 1,
            other => panic!("unexpected outcome: {other:?}"),
        }
    }
    assert_eq!((winners, refused), (1, 19));
}

async fn exactly_one_of_20_concurrent_creates_wins(t: TestStore) {
    let store = Arc::new(t.store);
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let item = Item::new(&key("EMAIL#a@b.c")).with("owner", i);
                store
                    .put(item, Some(Condition::NotExists))
                    .await
                    .map(|()| i)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(i) => winners.push(i),
            Err(err) => assert!(err.is_condition_failed(), "{err:?}"),
        }
    }
    assert_eq!(winners.len(), 1);
    let stored = store.get(&key("EMAIL#a@b.c")).await.unwrap().unwrap();
    assert_eq!(stored.get("owner"), Some(&json!(winners[0])));
}

async fn transaction_with_a_failing_condition_writes_nothing(t: TestStore) {
    t.store
        .put(Item::new(&key("EXISTING")).with("v", 1), None)
        .await
        .unwrap();
    t.store
        .put(Item::new(&key("GUARD")).with("v", 1), None)
        .await
        .unwrap();
    t.store
        .put(Item::new(&key("TO_DELETE")), None)
        .await
        .unwrap();
    let err = t
        .store
        .transact(vec![
            Write::Put {
                item: Item::new(&key("NEW")).with("v", 1),
                condition: Some(Condition::NotExists),
            },
            Write::Update {
                key: key("EXISTING"),
                updates: vec![Update::add("v", 1)],
                condition: None,
            },
            Write::Delete {
                key: key("TO_DELETE"),
                condition: None,
            },
            Write::Check {
                key: key("GUARD"),
                condition: Condition::eq("v", 99),
            },
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::ConditionFailed { index: Some(3) }),
        "{err:?}"
    );
    assert_eq!(t.store.get(&key("NEW")).await.unwrap(), None);
    assert_eq!(
        t.store
            .get(&key("EXISTING"))
            .await
            .unwrap()
            .unwrap()
            .get("v"),
        Some(&json!(1))
    );
    assert!(t.store.get(&key("TO_DELETE")).await.unwrap().is_some());
}

async fn transaction_applies_every_write(t: TestStore) {
    t.store
        .put(Item::new(&key("EXISTING")).with("v", 1), None)
        .await
        .unwrap();
    t.store
        .put(Item::new(&key("GUARD")).with("v", 1), None)
        .await
        .unwrap();
    t.store
        .put(Item::new(&key("TO_DELETE")), None)
        .await
        .unwrap();
    t.store
        .transact(vec![
            Write::Put {
                item: Item::new(&key("NEW")).with("v", 1),
                condition: Some(Condition::NotExists),
            },
            Write::Update {
                key: key("EXISTING"),
                updates: vec![Update::add("v", 1)],
                condition: Some(Condition::Exists),
            },
            Write::Delete {
                key: key("TO_DELETE"),
                condition: Some(Condition::Exists),
            },
            Write::Check {
                key: key("GUARD"),
                condition: Condition::eq("v", 1),
            },
        ])
        .await
        .unwrap();
    assert!(t.store.get(&key("NEW")).await.unwrap().is_some());
    assert_eq!(
        t.store
            .get(&key("EXISTING"))
            .await
            .unwrap()
            .unwrap()
            .get("v"),
        Some(&json!(2))
    );
    assert_eq!(t.store.get(&key("TO_DELETE")).await.unwrap(), None);
}

async fn exactly_one_of_20_concurrent_transactions_wins(t: TestStore) {
    let store = Arc::new(t.store);
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .transact(vec![
                        Write::Put {
                            item: Item::new(&key("UNIQUE#x")).with("owner", i),
                            condition: Some(Condition::NotExists),
                        },
                        Write::Put {
                            item: Item::new(&key(&format!("ACCOUNT#{i}"))),
                            condition: None,
                        },
                    ])
                    .await
                    .map(|()| i)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(i) => winners.push(i),
            Err(StoreError::ConditionFailed { index: Some(0) }) => {}
            Err(other) => panic!("unexpected outcome: {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    // Losers wrote nothing at all: only the winner's account exists.
    let accounts = store
        .query(Query::table("P#1").prefix("ACCOUNT#"))
        .await
        .unwrap();
    assert_eq!(accounts.items.len(), 1);
    assert_eq!(
        accounts.items[0].key(),
        Some(key(&format!("ACCOUNT#{}", winners[0])))
    );
}

async fn put_many(store: &Store, partition: &str, count: usize) {
    for i in 0..count {
        let item = Item::new(&Key::new(partition, format!("ITEM#{i:03}"))).with("i", i);
        store.put(item, None).await.unwrap();
    }
}

async fn walk(store: &Store, query: Query) -> (Vec<String>, usize) {
    let mut keys = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<Cursor> = None;
    loop {
        let page = store
            .query(query.clone().after(cursor.take()))
            .await
            .unwrap();
        pages += 1;
        assert!(page.items.len() <= query.limit as usize);
        keys.extend(page.items.iter().map(|i| i.key().unwrap().sk));
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
        assert!(pages < 100, "pagination does not end");
    }
    (keys, pages)
}

async fn pagination_walks_every_item_once_in_both_directions(t: TestStore) {
    put_many(&t.store, "PAGED", 25).await;
    let expected: Vec<String> = (0..25).map(|i| format!("ITEM#{i:03}")).collect();

    let (forward, pages) = walk(&t.store, Query::table("PAGED").limit(10)).await;
    assert_eq!(forward, expected);
    assert_eq!(pages, 3);

    let (backward, _) = walk(&t.store, Query::table("PAGED").limit(7).backward()).await;
    let mut reversed = expected.clone();
    reversed.reverse();
    assert_eq!(backward, reversed);

    // An exact multiple of the page size ends without an empty extra page.
    let (exact, pages) = walk(&t.store, Query::table("PAGED").limit(5)).await;
    assert_eq!((exact.len(), pages), (25, 5));
}

async fn sort_key_conditions_select_the_same_items(t: TestStore) {
    for sk in [
        "DAY#2024-03-01#a",
        "DAY#2024-03-01#b",
        "DAY#2024-03-02#a",
        "DAY#2024-03-03#a",
        "MED#1",
    ] {
        t.store
            .put(Item::new(&Key::new("U#1", sk)), None)
            .await
            .unwrap();
    }
    let sks = |page: shared::store::Page| {
        page.items
            .iter()
            .map(|i| i.key().unwrap().sk)
            .collect::<Vec<_>>()
    };
    let q = || Query::table("U#1");
    assert_eq!(
        sks(t.store.query(q().prefix("DAY#2024-03-01")).await.unwrap()).len(),
        2
    );
    assert_eq!(sks(t.store.query(q().prefix("")).await.unwrap()).len(), 5);
    assert_eq!(
        sks(t
            .store
            .query(q().between("DAY#2024-03-02", "DAY#2024-03-03~"))
            .await
            .unwrap()),
        vec!["DAY#2024-03-02#a", "DAY#2024-03-03#a"]
    );
    assert_eq!(
        sks(t
            .store
            .query(q().sort_key(SortKey::Eq("MED#1".into())))
            .await
            .unwrap()),
        vec!["MED#1"]
    );
    assert_eq!(
        sks(t
            .store
            .query(q().sort_key(SortKey::Lt("DAY#2024-03-02".into())))
            .await
            .unwrap())
        .len(),
        2
    );
    assert_eq!(
        sks(t
            .store
            .query(q().sort_key(SortKey::Le("DAY#2024-03-02#a".into())))
            .await
            .unwrap())
        .len(),
        3
    );
    assert_eq!(
        sks(t
            .store
            .query(q().sort_key(SortKey::Gt("DAY#2024-03-03#a".into())))
            .await
            .unwrap()),
        vec!["MED#1"]
    );
    assert_eq!(
        sks(t
            .store
            .query(q().sort_key(SortKey::Ge("DAY#2024-03-03#a".into())))
            .await
            .unwrap())
        .len(),
        2
    );
    assert_eq!(
        sks(t
            .store
            .query(q().prefix("DAY#").backward().limit(1))
            .await
            .unwrap()),
        vec!["DAY#2024-03-03#a"]
    );
    assert!(
        t.store
            .query(Query::table("U#2"))
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

async fn index_queries_page_in_index_order(t: TestStore) {
    // Items of several partitions, gathered in one index partition, ordered by the index key.
    for i in 0..12 {
        let item = Item::new(&Key::new(format!("USER#{i}"), "PROFILE"))
            .with_gsi1("EMAILS", format!("user{:02}@example.com", 11 - i))
            .with("n", i);
        t.store.put(item, None).await.unwrap();
    }
    // Not in the index: only one of the two index attributes.
    t.store
        .put(
            Item::new(&Key::new("USER#x", "PROFILE")).with(shared::store::GSI1PK, "EMAILS"),
            None,
        )
        .await
        .unwrap();
    let (keys, pages) = walk(&t.store, Query::gsi1("EMAILS").limit(5)).await;
    assert_eq!(pages, 3);
    assert_eq!(keys.len(), 12);
    let page = t
        .store
        .query(Query::gsi1("EMAILS").prefix("user0").limit(100))
        .await
        .unwrap();
    let emails: Vec<_> = page
        .items
        .iter()
        .map(|i| i.gsi1().unwrap().1.to_owned())
        .collect();
    let mut sorted = emails.clone();
    sorted.sort();
    assert_eq!(emails, sorted);
    assert_eq!(emails.len(), 10);
}

async fn cursor_of_another_partition_is_refused(t: TestStore) {
    put_many(&t.store, "MINE", 3).await;
    put_many(&t.store, "THEIRS", 3).await;
    let page = t
        .store
        .query(Query::table("THEIRS").limit(1))
        .await
        .unwrap();
    let theirs = page.cursor.unwrap();
    let err = t
        .store
        .query(Query::table("MINE").after(Some(theirs)))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidCursor), "{err:?}");
    let forged = Cursor::from_token("definitely-not-a-cursor");
    let err = t
        .store
        .query(Query::table("MINE").after(Some(forged)))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidCursor), "{err:?}");
}

async fn sort_order_is_by_utf8_bytes(t: TestStore) {
    for sk in ["b", "B", "é", "z", "Z", "a~", "a"] {
        t.store
            .put(Item::new(&Key::new("ORDER", sk)), None)
            .await
            .unwrap();
    }
    let page = t.store.query(Query::table("ORDER")).await.unwrap();
    let order: Vec<_> = page.items.iter().map(|i| i.key().unwrap().sk).collect();
    assert_eq!(order, vec!["B", "Z", "a", "a~", "b", "z", "é"]);
}

async fn expired_items_are_absent_everywhere(t: TestStore) {
    let now = t.clock.epoch_seconds();
    t.store
        .put(
            Item::new(&key("LOCK"))
                .with_ttl(now + 60)
                .with("reason", "x"),
            None,
        )
        .await
        .unwrap();
    t.store
        .put(Item::new(&key("PAST")).with_ttl(now - 1), None)
        .await
        .unwrap();
    t.store.put(Item::new(&key("KEEP")), None).await.unwrap();
    assert!(t.store.get(&key("LOCK")).await.unwrap().is_some());
    assert_eq!(t.store.get(&key("PAST")).await.unwrap(), None);

    t.clock.advance(Duration::from_secs(60));
    assert_eq!(t.store.get(&key("LOCK")).await.unwrap(), None);
    let page = t.store.query(Query::table("P#1")).await.unwrap();
    let keys: Vec<_> = page.items.iter().map(|i| i.key().unwrap().sk).collect();
    assert_eq!(keys, vec!["KEEP"]);
    // A page of live items fills past expired ones, and its cursor still works.
    for i in 0..5 {
        t.store
            .put(Item::new(&key(&format!("OLD#{i}"))).with_ttl(now), None)
            .await
            .unwrap();
    }
    let (all, _) = walk(&t.store, Query::table("P#1").limit(1)).await;
    assert_eq!(all, vec!["KEEP"]);

    // Conditions see an expired item as absent.
    t.store
        .put(
            Item::new(&key("LOCK")).with("reason", "new"),
            Some(Condition::NotExists),
        )
        .await
        .unwrap();
    let err = t
        .store
        .delete(&key("PAST"), Some(Condition::Exists))
        .await
        .unwrap_err();
    assert!(err.is_condition_failed());
    // Deleting an expired item reports nothing to delete.
    t.store
        .put(Item::new(&key("GONE")).with_ttl(now + 1), None)
        .await
        .unwrap();
    t.clock.advance(Duration::from_secs(2));
    assert_eq!(t.store.delete(&key("GONE"), None).await.unwrap(), None);
}

async fn update_of_an_expired_item_starts_afresh(t: TestStore) {
    let now = t.clock.epoch_seconds();
    let window = |hits: i64| {
        vec![
            Update::add("hits", hits),
            Update::set_if_absent("expires_at", now + 10),
        ]
    };
    t.store.update(&key("RATE"), window(1), None).await.unwrap();
    let item = t.store.update(&key("RATE"), window(1), None).await.unwrap();
    assert_eq!(item.get_i64("hits"), Some(2));
    t.clock.advance(Duration::from_secs(10));
    // The expired counter is not built upon: the count restarts with a new expiry.
    let later = now + 20;
    let item = t
        .store
        .update(
            &key("RATE"),
            vec![
                Update::add("hits", 1),
                Update::set_if_absent("expires_at", later),
            ],
            None,
        )
        .await
        .unwrap();
    assert_eq!(item.get_i64("hits"), Some(1));
    assert_eq!(item.expires_at(), Some(later));
    // The same holds inside a transaction.
    t.clock.advance(Duration::from_secs(10));
    t.store
        .transact(vec![Write::Update {
            key: key("RATE"),
            updates: vec![
                Update::add("hits", 5),
                Update::set_if_absent("expires_at", now + 100),
            ],
            condition: Some(Condition::NotExists),
        }])
        .await
        .unwrap();
    let item = t.store.get(&key("RATE")).await.unwrap().unwrap();
    assert_eq!(item.get_i64("hits"), Some(5));
}

async fn invalid_requests_are_refused_alike(t: TestStore) {
    let invalid = |r: Result<(), StoreError>| matches!(r, Err(StoreError::Invalid(_)));
    let s = &t.store;
    assert!(invalid(s.put(Item::new(&Key::new("", "x")), None).await));
    assert!(invalid(
        s.put(
            Item::new(&key("big")).with("blob", "x".repeat(410 * 1024)),
            None
        )
        .await
    ));
    assert!(invalid(s.update(&key("u"), vec![], None).await.map(|_| ())));
    assert!(invalid(
        s.update(&key("u"), vec![Update::set("SK", "x")], None)
            .await
            .map(|_| ())
    ));
    assert!(invalid(s.transact(vec![]).await));
    let twice = vec![
        Write::Delete {
            key: key("same"),
            condition: None,
        },
        Write::Put {
            item: Item::new(&key("same")),
            condition: None,
        },
    ];
    assert!(invalid(s.transact(twice).await));
    // Apart in the list, and among other writes, which are not made either.
    let apart = vec![
        Write::Check {
            key: key("same"),
            condition: Condition::NotExists,
        },
        Write::Put {
            item: Item::new(&key("other")),
            condition: None,
        },
        Write::Update {
            key: key("same"),
            updates: vec![Update::set("a", 1)],
            condition: None,
        },
    ];
    assert!(invalid(s.transact(apart).await));
    assert_eq!(s.get(&key("other")).await.unwrap(), None);
    assert!(invalid(
        s.update(
            &key("u"),
            vec![
                Update::set("a", 1),
                Update::set("b", 2),
                Update::add("a", 1)
            ],
            None
        )
        .await
        .map(|_| ())
    ));
    assert!(invalid(
        s.query(Query::table("P#1").limit(0)).await.map(|_| ())
    ));
    let empty_bound = Query::table("P#1").sort_key(SortKey::Ge(String::new()));
    assert!(invalid(s.query(empty_bound).await.map(|_| ())));
    let unordered = Condition::compare("flag", Cmp::Lt, true);
    assert!(invalid(
        s.put(Item::new(&key("flag")), Some(unordered)).await
    ));
    assert_eq!(s.get(&key("big")).await.unwrap(), None);
}

async fn whole_floats_read_back_as_integers(t: TestStore) {
    t.store
        .put(
            Item::new(&key("F"))
                .with("one", 1.0)
                .with("half", 0.5)
                .with("list", json!([2.0, 2.5])),
            None,
        )
        .await
        .unwrap();
    let item = t.store.get(&key("F")).await.unwrap().unwrap();
    assert_eq!(item.get("one"), Some(&json!(1)));
    assert_eq!(item.get("half"), Some(&json!(0.5)));
    assert_eq!(item.get("list"), Some(&json!([2, 2.5])));
    let item = t
        .store
        .update(
            &key("F"),
            vec![Update::add("one", 1), Update::set("three", 3.0)],
            None,
        )
        .await
        .unwrap();
    assert_eq!(item.get("one"), Some(&json!(2)));
    assert_eq!(item.get("three"), Some(&json!(3)));
    assert_eq!(item.get_i64("one"), Some(2));
}

async fn a_cursor_reused_outside_its_range_is_refused(t: TestStore) {
    put_many(&t.store, "R", 6).await;
    let page = t
        .store
        .query(Query::table("R").prefix("ITEM#").limit(2))
        .await
        .unwrap();
    let cursor = page.cursor.unwrap();
    // Fine with the query it came from …
    let next = t
        .store
        .query(
            Query::table("R")
                .prefix("ITEM#")
                .limit(2)
                .after(Some(cursor.clone())),
        )
        .await
        .unwrap();
    assert_eq!(next.items[0].key().unwrap().sk, "ITEM#002");
    // … refused (never a backend error) with a range that excludes its position.
    let moved = Query::table("R")
        .sort_key(SortKey::Ge("ITEM#004".into()))
        .after(Some(cursor));
    assert!(matches!(
        t.store.query(moved).await,
        Err(StoreError::InvalidCursor)
    ));
}
