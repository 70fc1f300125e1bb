//! The host's Postgres pool against SPIN-BEHAVIOUR.md §4: connections are
//! handed out first-in first-out and cleaned when taken again, and a request
//! that traps inside a transaction leaves it open for the next one.
//!
//! Each test uses its own address (an `application_name` no other test
//! uses), so the host keeps a pool for it alone and the test knows every
//! connection in it.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{
    conformance, ok, owner_url_for, pg_connect, q, service, single, superuser_url, x,
};

/// The app role's URL for the conformance database, tagged so it gets its own pool.
fn own_pool_address(tag: &str) -> String {
    format!(
        "postgres://{}:{}@{}/{}?application_name={tag}",
        service("SPIN_VARIABLE_PG_APP_USER"),
        service("SPIN_VARIABLE_PG_APP_PASSWORD"),
        service("SPIN_VARIABLE_PG_HOST"),
        conformance().db
    )
}

/// The host gives a connection back once the request's instance is gone; Spin
/// may do so just after the response, so leave it a moment.
fn settle() {
    std::thread::sleep(Duration::from_millis(150));
}

#[test]
fn the_pool_is_first_in_first_out_and_cleans_a_session_when_it_is_taken() {
    let c = conformance();
    let address = own_pool_address("pool_fifo_probe");
    let pid = "SELECT pg_backend_pid() AS pid";
    // One request, two connections: the pool now holds two. Only the first
    // uses the custom setting.
    let first = c.pg_at(
        Some(&address),
        json!([
            q(0, pid, json!([])),
            q(1, pid, json!([])),
            x(0, "SET app.fifo_probe = 'set'", json!([])),
        ]),
    );
    let used = single(&first[0], "pid of conn 0");
    let unused = single(&first[1], "pid of conn 1");
    assert_ne!(used, unused);
    settle();

    // Cleaned when taken, not when given back: an idle pooled session still
    // shows the request's own last statement (the superuser sees every
    // session's query text).
    let mut su = pg_connect(superuser_url());
    let mut idle: Vec<String> = su
        .query(
            "SELECT query FROM pg_stat_activity WHERE application_name = 'pool_fifo_probe'",
            &[],
        )
        .expect("pg_stat_activity")
        .iter()
        .map(|row| row.get(0))
        .collect();
    idle.sort();
    assert_eq!(
        idle,
        [pid.to_owned(), "SET app.fifo_probe = 'set'".to_owned()],
        "each pooled session's last statement is the request's own: nothing cleans a session before it is taken again"
    );

    let probe = "SELECT pg_backend_pid() AS pid, current_setting('app.fifo_probe', true) AS v";
    let mut seen: Vec<(Value, Value)> = Vec::new();
    for _ in 0..4 {
        let result = c
            .pg_at(Some(&address), json!([q(0, probe, json!([]))]))
            .remove(0);
        let row = ok(&result, "probe")["rows"][0].clone();
        seen.push((row[0].clone(), row[1].clone()));
        settle();
    }
    assert_ne!(
        seen[0].0, seen[1].0,
        "the next request gets the other idle connection (first in, first out): {seen:?}"
    );
    assert_eq!(seen[0].0, seen[2].0, "and then the first again: {seen:?}");
    assert_eq!(seen[1].0, seen[3].0, "{seen:?}");
    assert!(
        seen.iter().all(|(pid, _)| *pid == used || *pid == unused),
        "only the two pooled connections serve: {seen:?}"
    );
    for (pid, setting) in &seen {
        let want = if *pid == used {
            json!({"kind": "str", "value": ""})
        } else {
            json!({"kind": "db-null"})
        };
        assert_eq!(
            setting, &want,
            "a custom setting once used reads back as '' after cleaning; never used, NULL (pid {pid})"
        );
    }
}

#[test]
fn a_request_that_traps_inside_a_transaction_leaves_it_open_on_its_connection() {
    let c = conformance();
    let mut owner = pg_connect(&owner_url_for(&c.db));
    owner
        .batch_execute(&format!(
            "CREATE TABLE trap_probe (x int); GRANT SELECT, INSERT ON trap_probe TO {}",
            service("SPIN_VARIABLE_PG_APP_USER")
        ))
        .expect("create trap_probe");
    let address = own_pool_address("pool_trap_probe");
    let trapped = c.app.post_json(
        "/probe/pg",
        &json!({"address": address, "ops": [
            x(0, "BEGIN", json!([])),
            x(0, "INSERT INTO trap_probe VALUES (1)", json!([])),
            {"kind": "trap"},
        ]}),
    );
    assert_eq!(trapped.status, 500, "the probe traps: {}", trapped.text());
    settle();

    // The pool holds one connection for this address: the trapped one.
    let next = c.pg_at(
        Some(&address),
        json!([
            q(
                0,
                "SELECT txid_current_if_assigned() IS NOT NULL AS in_transaction, \
                 (SELECT count(*)::int4 FROM trap_probe) AS rows_seen",
                json!([]),
            ),
            x(0, "ROLLBACK", json!([])),
            q(0, "SELECT count(*)::int4 AS n FROM trap_probe", json!([])),
        ]),
    );
    let row = ok(&next[0], "the next request")["rows"][0].clone();
    assert_eq!(
        row,
        json!([{"kind": "boolean", "value": true}, {"kind": "int32", "value": 1}]),
        "the next request is inside the trapped transaction and sees its uncommitted row"
    );
    assert!(next[1].get("ok").is_some(), "ROLLBACK: {}", next[1]);
    assert_eq!(
        single(&next[2], "after ROLLBACK"),
        json!({"kind": "int32", "value": 0})
    );
    let committed: i64 = owner
        .query_one("SELECT count(*) FROM trap_probe", &[])
        .expect("count")
        .get(0);
    assert_eq!(committed, 0, "nothing of the trapped request was committed");
}
