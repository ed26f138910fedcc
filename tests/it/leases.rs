//! Job leases on both backends: exclusion, expiry, renewal, release, and a real race.

use std::sync::Arc;

use carburoam::db::Db;
use carburoam::db::leases::{self, LeaseInfo};

use crate::db_test;

const JOB: &str = "import";

db_test!(first_acquire_wins_and_second_is_refused, |t| {
    let db = &t.db;
    assert_eq!(leases::current(db, JOB).await.expect("current"), None);
    assert!(leases::try_acquire(db, JOB, "a", 1000, 60).await.expect("a"));
    assert!(!leases::try_acquire(db, JOB, "b", 1000, 60).await.expect("b"));
    assert!(!leases::try_acquire(db, JOB, "b", 1059, 60).await.expect("b later"));
    assert_eq!(
        leases::current(db, JOB).await.expect("current"),
        Some(LeaseInfo { holder: "a".into(), expires_at: 1060, acquired_at: 1000 })
    );
    // Other job names are independent.
    assert!(leases::try_acquire(db, "other", "b", 1000, 60).await.expect("other"));
    // The holder may re-acquire (extends it).
    assert!(leases::try_acquire(db, JOB, "a", 1010, 60).await.expect("a again"));
    assert_eq!(leases::current(db, JOB).await.expect("current").map(|l| l.expires_at), Some(1070));
});

db_test!(expired_lease_is_taken_over, |t| {
    let db = &t.db;
    assert!(leases::try_acquire(db, JOB, "a", 1000, 60).await.expect("a"));
    // Expiry is inclusive: at expires_at the lease is free.
    assert!(leases::try_acquire(db, JOB, "b", 1060, 60).await.expect("b"));
    let cur = leases::current(db, JOB).await.expect("current").expect("held");
    assert_eq!(cur.holder, "b");
    assert_eq!(cur.acquired_at, 1060);
    assert!(cur.is_live(1119) && !cur.is_live(1120));
    // The previous holder lost it: it can neither renew nor release.
    assert!(!leases::renew(db, JOB, "a", 1061, 60).await.expect("renew a"));
    assert!(!leases::release(db, JOB, "a").await.expect("release a"));
    assert_eq!(leases::current(db, JOB).await.expect("current").map(|l| l.holder), Some("b".into()));
});

db_test!(renew_only_by_the_holder, |t| {
    let db = &t.db;
    assert!(!leases::renew(db, JOB, "a", 1000, 60).await.expect("no row yet"));
    assert!(leases::try_acquire(db, JOB, "a", 1000, 60).await.expect("a"));
    assert!(leases::renew(db, JOB, "a", 1050, 60).await.expect("renew"));
    let cur = leases::current(db, JOB).await.expect("current").expect("held");
    assert_eq!(cur.expires_at, 1110);
    assert_eq!(cur.acquired_at, 1000, "renewal keeps the acquisition time");
    assert!(!leases::renew(db, JOB, "b", 1050, 600).await.expect("renew b"));
    // Still refused to b at the old expiry, because a renewed.
    assert!(!leases::try_acquire(db, JOB, "b", 1060, 60).await.expect("b"));
});

db_test!(release_frees_the_lease_at_once, |t| {
    let db = &t.db;
    assert!(leases::try_acquire(db, JOB, "a", 1000, 600).await.expect("a"));
    assert!(!leases::release(db, JOB, "b").await.expect("not b's"));
    assert!(leases::release(db, JOB, "a").await.expect("release"));
    assert_eq!(leases::current(db, JOB).await.expect("current"), None);
    assert!(!leases::release(db, JOB, "a").await.expect("twice"));
    assert!(!leases::renew(db, JOB, "a", 1001, 600).await.expect("renew released"));
    assert!(leases::try_acquire(db, JOB, "b", 1001, 600).await.expect("b"));
});

db_test!(sixteen_racers_one_winner, |t| {
    const RACERS: usize = 16;
    // One pool per racer, so on PostgreSQL each really runs on its own connection and on
    // SQLite each contends for the file's write lock like a separate process would. Every
    // round uses a fresh job name, so the racers also race to create the row.
    let mut dbs = Vec::with_capacity(RACERS);
    for _ in 0..RACERS {
        // Already migrated by the test database: no need to race the migrator too.
        let db = Db::connect_without_migrating(&t.url).await.expect("connect racer");
        dbs.push(db);
    }
    for round in 0..3i64 {
        let name = format!("race-{round}");
        let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
        let mut tasks = Vec::with_capacity(RACERS);
        for (i, db) in dbs.iter().enumerate() {
            let db = db.clone();
            let barrier = barrier.clone();
            let name = name.clone();
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                leases::try_acquire(&db, &name, &format!("racer-{i}"), 5000, 60).await.expect("try_acquire")
            }));
        }
        let mut winners = 0;
        for task in tasks {
            if task.await.expect("join") {
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "round {round}: exactly one racer wins");
        let holder = leases::current(&t.db, &name).await.expect("current").expect("held").holder;
        assert!(holder.starts_with("racer-"), "{holder}");
    }
    for db in dbs {
        db.close().await;
    }
});

#[test]
fn holder_ids_differ() {
    assert_ne!(leases::new_holder_id(), leases::new_holder_id());
}
