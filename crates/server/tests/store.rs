//! The organisation store, on SQLite always and on PostgreSQL when `TESSERA_TEST_DATABASE_URL`
//! names a server (each test makes a database of its own there, and drops it).

use std::collections::BTreeMap;
use std::time::Duration;

use sqlx::Connection as _;
use sqlx::Executor as _;
use tessera_core::{Agreement, Org, Project, Threshold, Timestamp, User};
use tessera_generate::{Scale, generate};
use tessera_server::store::{Notice, Store, StoreError, listen};

use crate::support::{DEMO_ORG, Database, Scratch, with_database};

fn demo() -> Org {
    serde_json::from_slice(&std::fs::read(DEMO_ORG).unwrap()).unwrap()
}

fn small() -> Org {
    generate(&Scale { users: 300, projects: 800, networks: 3, offices: 12, seed: 7 })
}

async fn round_trips(store: &Store) {
    assert!(matches!(store.load().await, Err(StoreError::Empty)));
    assert_eq!(store.current_revision().await.unwrap(), 0);
    let corpus = tessera_conformance::corpus().unwrap();
    assert!(corpus.len() >= 10);
    let mut last = 0;
    let orgs = corpus
        .into_iter()
        .map(|(file, case)| (file.to_owned(), case.org))
        .chain([("tests/demo/org.json".to_owned(), demo()), ("generated".to_owned(), small())]);
    for (name, org) in orgs {
        let revision = store.import(&org, "test").await.unwrap_or_else(|e| panic!("{name}: {e}"));
        // An import renews everyone, at a number no lower than the Unix time.
        assert!(revision > last.max(1_700_000_000), "{name}");
        last = revision;
        let (loaded_revision, loaded) = store.load().await.unwrap();
        assert_eq!(loaded_revision, revision, "{name}");
        assert!(loaded == org, "{name} does not come back as it went in");
    }
}

async fn refuses_an_invalid_import(store: &Store) {
    let org = demo();
    let first = store.import(&org, "test").await.unwrap();
    let mut invalid = org.clone();
    invalid.users[0].home_office = "o-nowhere".to_owned();
    invalid.projects.clear();
    match store.import(&invalid, "test").await {
        Err(StoreError::Invalid(errors)) => assert!(errors.to_string().contains("o-nowhere"), "{errors}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(store.current_revision().await.unwrap(), first);
    assert!(store.load().await.unwrap() == (first, org));
}

/// A change of an organisation, and what it is.
type Change = (&'static str, Box<dyn Fn(&mut Org)>);

/// Commits each change in turn and reads it back.
async fn commits(store: &Store) {
    let mut org = small();
    let mut revision = store.import(&org, "test").await.unwrap();
    let changes: Vec<Change> = vec![
        ("nothing", Box::new(|_| {})),
        ("a name", Box::new(|org| org.users[3].name = "Renamed".to_owned())),
        (
            "users gone from the middle, others appended and put first",
            Box::new(|org| {
                org.users.remove(10);
                org.users.remove(5);
                let mut extra = org.users[0].clone();
                extra.id = "u-appended".to_owned();
                org.users.push(extra.clone());
                extra.id = "u-first".to_owned();
                org.users.insert(0, extra);
            }),
        ),
        (
            "a user in the gap one left",
            Box::new(|org| {
                let mut extra = org.users[1].clone();
                extra.id = "u-in-the-gap".to_owned();
                extra.additional_offices = vec!["o-x".to_owned(), "o-y".to_owned()];
                org.users.insert(5, extra);
            }),
        ),
        (
            "a user between neighbours (every position again)",
            Box::new(|org| {
                let mut extra = org.users[1].clone();
                extra.id = "u-squeezed".to_owned();
                org.users.insert(20, extra);
            }),
        ),
        (
            "teams, creators, a Project's name",
            Box::new(|org| {
                org.projects[3].team.reverse();
                org.projects[4].created_by = None;
                org.projects[5].team.clear();
                org.projects[7].name = "Renamed Project".to_owned();
                let last = org.projects.len() - 1;
                org.projects.swap(0, last);
            }),
        ),
        (
            "Network defaults, messaging and announcements",
            Box::new(|org| {
                let network = &mut org.networks[0];
                network.defaults.insert("custom".to_owned(), Vec::new());
                network
                    .defaults
                    .insert("client".to_owned(), vec!["wiki.manage".to_owned(), "file.upload".to_owned()]);
                network.messaging = BTreeMap::from([("dm.start".to_owned(), Threshold::Admin)]);
                network.features.announcements = !network.features.announcements;
                org.networks[1].defaults.clear();
            }),
        ),
        (
            "Office overrides",
            Box::new(|org| {
                org.offices[0].overrides.insert("vendor".to_owned(), BTreeMap::new());
                org.offices[1].overrides.clear();
                org.offices[2]
                    .overrides
                    .entry("client".to_owned())
                    .or_default()
                    .insert("task.create".to_owned(), false);
            }),
        ),
        (
            "Agreements: listed users, expiry, one gone, one new",
            Box::new(|org| {
                let template = Agreement {
                    id: "a-new".to_owned(),
                    host_office: org.offices[0].id.clone(),
                    guest_office: org.offices[5].id.clone(),
                    users: Some(Vec::new()),
                    profile: "vendor".to_owned(),
                    expires_at: Some(Timestamp::from_unix(-62_167_219_200)),
                };
                if let Some(first) = org.agreements.first_mut() {
                    first.users = None;
                    first.expires_at = Some(Timestamp::from_unix(1_900_000_000));
                }
                if org.agreements.len() > 2 {
                    org.agreements.remove(1);
                }
                org.agreements.push(template);
            }),
        ),
        (
            "groups reversed, members changed",
            Box::new(|org| {
                org.groups.reverse();
                if let Some(group) = org.groups.first_mut() {
                    group.members.push("u-extra".to_owned());
                    group.owners.clear();
                }
            }),
        ),
        ("every direct message gone", Box::new(|org| org.direct_messages.clear())),
        (
            "one back, and everything else somewhere else",
            Box::new(|org| {
                org.direct_messages = small().direct_messages.into_iter().take(3).collect();
                org.users.rotate_left(7);
                org.projects.retain(|project| !project.id.ends_with('3'));
                org.projects.push(Project {
                    id: "p-last".to_owned(),
                    name: "Last".to_owned(),
                    office: "o-000".to_owned(),
                    team: vec!["u-00001".to_owned()],
                    created_by: Some("u-00001".to_owned()),
                });
            }),
        ),
        ("a whole other organisation", Box::new(|org| *org = demo())),
        ("and back", Box::new(|org| *org = small())),
        (
            "nothing at all",
            Box::new(|org| {
                *org = Org {
                    networks: vec![],
                    offices: vec![],
                    users: vec![],
                    projects: vec![],
                    agreements: vec![],
                    groups: vec![],
                    direct_messages: vec![],
                }
            }),
        ),
        ("everything again", Box::new(|org| *org = small())),
    ];
    for (what, change) in changes {
        let mut next = org.clone();
        change(&mut next);
        let edits = serde_json::json!({ "what": what });
        let committed = store
            .commit((revision, &org), &next, "tester", &edits)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(committed, revision + 1, "{what}");
        let (loaded_revision, loaded) = store.load().await.unwrap();
        assert_eq!(loaded_revision, committed, "{what}");
        assert!(loaded == next, "{what}: the organisation read back is not the one committed");
        revision = committed;
        org = next;
    }
}

async fn refuses_a_stale_commit(store: &Store) {
    let org = demo();
    let first = store.import(&org, "test").await.unwrap();
    let mut next = org.clone();
    next.users[0].name = "Ada Lovelace".to_owned();
    let second = store.commit((first, &org), &next, "one", &serde_json::json!([])).await.unwrap();
    let mut other = org.clone();
    other.users[1].name = "Someone Else".to_owned();
    match store.commit((first, &org), &other, "two", &serde_json::json!([])).await {
        Err(StoreError::Stale { expected, current }) => assert_eq!((expected, current), (first, second)),
        other => panic!("expected Stale, got {other:?}"),
    }
    assert!(store.load().await.unwrap() == (second, next));
}

async fn revisions_only_grow(db: &Database) {
    let org = demo();
    let store = db.store().await;
    let first = store.import(&org, "importer").await.unwrap();
    let mut next = org.clone();
    next.users[0].name = "Renamed".to_owned();
    let edits = serde_json::json!([{ "edit": "rename", "user": "u-ada" }]);
    let second = store.commit((first, &org), &next, "editor", &edits).await.unwrap();
    drop(store);
    // A restart.
    let store = db.store().await;
    assert_eq!(store.current_revision().await.unwrap(), second);
    let (at, loaded) = store.load().await.unwrap();
    assert_eq!(at, second);
    let renewed = ["u-ada".to_owned()];
    let third = store
        .commit_renewing((at, &loaded), &org, "editor", &serde_json::json!([]), Some(&renewed), None)
        .await
        .unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!(first.abs_diff(now) < 300, "an import is numbered by the time: {first}");
    assert_eq!((second, third), (first + 1, first + 2));
    // Snapshot versions: the commit without a list renewed everyone, the one with it only Ada.
    let loaded = store.load_revision().await.unwrap();
    assert_eq!(loaded.number, third);
    assert_eq!(loaded.versions.base, second);
    assert_eq!(loaded.versions.of("u-ada"), third);
    assert_eq!(loaded.versions.of("u-cleo"), second);
    let all = store.revisions(0, 100).await.unwrap();
    assert_eq!(all.iter().map(|r| r.number).collect::<Vec<_>>(), [first, second, third]);
    assert_eq!(all[0].who, "importer");
    assert_eq!(all[0].edits["import"]["users"], org.users.len());
    assert_eq!(all[1].who, "editor");
    assert_eq!(all[1].edits, edits);
    assert!((all[1].at.unix() - now as i64).abs() < 300, "{} is not about now", all[1].at);
    assert_eq!(
        store.revisions(first, 1).await.unwrap().iter().map(|r| r.number).collect::<Vec<_>>(),
        [second]
    );
    assert!(store.revisions(third, 10).await.unwrap().is_empty());
}

// ---- SQLite ----------------------------------------------------------------------------------------

#[tokio::test]
async fn sqlite_round_trips_the_corpus_the_demo_and_a_generated_org() {
    let db = Database::sqlite("round-trip");
    round_trips(&db.store().await).await;
}

#[tokio::test]
async fn sqlite_refuses_an_invalid_import_and_writes_nothing() {
    let db = Database::sqlite("invalid");
    refuses_an_invalid_import(&db.store().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_commits_the_rows_that_differ() {
    let db = Database::sqlite("commits");
    commits(&db.store().await).await;
}

#[tokio::test]
async fn sqlite_refuses_a_stale_commit() {
    let db = Database::sqlite("stale");
    refuses_a_stale_commit(&db.store().await).await;
}

#[tokio::test]
async fn sqlite_revisions_only_grow_across_restarts() {
    let db = Database::sqlite("restart");
    revisions_only_grow(&db).await;
}

#[tokio::test]
async fn sqlite_migrations_run_twice_and_the_file_is_made() {
    let scratch = Scratch::new("migrate");
    let path = scratch.path("new.db");
    let store = Store::connect(&format!("sqlite:{}", path.display())).await.unwrap();
    assert!(path.exists());
    assert!(!store.is_postgres());
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(store.current_revision().await.unwrap(), 0);
}

#[tokio::test]
async fn refuses_what_is_not_a_database_url() {
    for url in ["mysql://localhost/x", "org.json", "sqlite:"] {
        assert!(matches!(Store::connect(url).await, Err(StoreError::Url(_))), "{url}");
    }
    let scratch = Scratch::new("unmigrated");
    let store = Store::connect(&format!("sqlite:{}", scratch.path("db").display())).await.unwrap();
    match store.load().await {
        Err(StoreError::Database(message)) => assert!(message.contains("tessera db migrate"), "{message}"),
        other => panic!("expected a missing table, got {other:?}"),
    }
    assert!(matches!(listen("sqlite:x").await, Err(StoreError::Url(_))));
}

// ---- PostgreSQL ------------------------------------------------------------------------------------

#[tokio::test]
async fn postgres_round_trips_the_corpus_the_demo_and_a_generated_org() {
    let Some(db) = Database::postgres("round_trip").await else { return };
    let store = db.store().await;
    assert!(store.is_postgres());
    round_trips(&store).await;
    refuses_an_invalid_import(&store).await;
    drop(store);
    db.drop().await;
}

#[tokio::test]
async fn postgres_commits_the_rows_that_differ() {
    let Some(db) = Database::postgres("commits").await else { return };
    let store = db.store().await;
    commits(&store).await;
    refuses_a_stale_commit(&store).await;
    drop(store);
    db.drop().await;
}

#[tokio::test]
async fn postgres_revisions_only_grow_across_restarts() {
    let Some(db) = Database::postgres("restart").await else { return };
    revisions_only_grow(&db).await;
    db.drop().await;
}

#[tokio::test]
async fn postgres_migrations_are_safe_to_start_together() {
    let Some(db) = Database::postgres("migrate").await else { return };
    let stores = [Store::connect(&db.url).await.unwrap(), Store::connect(&db.url).await.unwrap()];
    let (a, b) = tokio::join!(stores[0].migrate(), stores[1].migrate());
    a.unwrap();
    b.unwrap();
    assert_eq!(stores[0].current_revision().await.unwrap(), 0);
    drop(stores);
    db.drop().await;
}

#[tokio::test]
async fn postgres_listeners_hear_of_each_commit() {
    let Some(db) = Database::postgres("listen").await else { return };
    let store = db.store().await;
    let mut notices = listen(&db.url).await.unwrap();
    let org = demo();
    let first = store.import(&org, "test").await.unwrap();
    let mut next = org.clone();
    next.users[2].name = "Heard".to_owned();
    let second = store.commit((first, &org), &next, "test", &serde_json::json!([])).await.unwrap();
    for expected in [first, second] {
        let notice = tokio::time::timeout(Duration::from_secs(10), notices.recv()).await.unwrap().unwrap();
        assert_eq!(notice, Notice::Revision(expected));
    }
    // The listening connection dies: the listener connects again and says to read again.
    let mut admin = sqlx::PgConnection::connect(&db.url).await.unwrap();
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
        .await
        .unwrap();
    for expected in [Notice::Lost, Notice::Resync] {
        let notice = tokio::time::timeout(Duration::from_secs(10), notices.recv()).await.unwrap().unwrap();
        assert_eq!(notice, expected);
    }
    let third = store.commit((second, &next), &org, "test", &serde_json::json!([])).await.unwrap();
    let notice = tokio::time::timeout(Duration::from_secs(10), notices.recv()).await.unwrap().unwrap();
    assert_eq!(notice, Notice::Revision(third));
    drop(store);
    db.drop().await;
}

#[tokio::test]
async fn postgres_one_of_two_concurrent_commits_on_a_base_wins() {
    let Some(db) = Database::postgres("race_one").await else { return };
    let (one, two) = (db.store().await, db.store().await);
    let org = demo();
    let base = one.import(&org, "test").await.unwrap();
    let mut a = org.clone();
    a.users[0].name = "A".to_owned();
    let mut b = org.clone();
    b.users[0].name = "B".to_owned();
    let edits = serde_json::json!([]);
    let (ra, rb) =
        tokio::join!(one.commit((base, &org), &a, "a", &edits), two.commit((base, &org), &b, "b", &edits));
    let (winner, loser) = match (&ra, &rb) {
        (Ok(_), Err(_)) => (&a, rb),
        (Err(_), Ok(_)) => (&b, ra),
        _ => panic!("exactly one must win: {ra:?} {rb:?}"),
    };
    assert!(
        matches!(loser, Err(StoreError::Stale { expected, current }) if expected == base && current == base + 1)
    );
    assert!(one.load().await.unwrap() == (base + 1, winner.clone()));
    drop((one, two));
    db.drop().await;
}

// On two threads: the store's CPU work (the comparison of a commit) runs in place there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_raced_commits_all_land_once_in_order() {
    let Some(db) = Database::postgres("race_many").await else { return };
    let stores = [db.store().await, db.store().await];
    let org = demo();
    let first = stores[0].import(&org, "test").await.unwrap();
    const TASKS: usize = 8;
    const EACH: usize = 25;
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let store = stores[task % 2].clone();
        tasks.spawn(async move {
            let mut landed = Vec::new();
            let mut stale = 0;
            for n in 0..EACH {
                loop {
                    let (revision, org) = store.load().await.unwrap();
                    let mut next = org.clone();
                    let mut user: User = org.users[0].clone();
                    user.id = format!("u-race-{task}-{n}");
                    next.users.push(user);
                    let edits = serde_json::json!({ "task": task, "n": n });
                    match store.commit((revision, &org), &next, "racer", &edits).await {
                        Ok(number) => {
                            landed.push(number);
                            break;
                        }
                        Err(StoreError::Stale { .. }) => stale += 1,
                        Err(other) => panic!("{other}"),
                    }
                }
            }
            (landed, stale)
        });
    }
    let mut landed = Vec::new();
    let mut stale = 0;
    while let Some(result) = tasks.join_next().await {
        let (numbers, refused) = result.unwrap();
        landed.extend(numbers);
        stale += refused;
    }
    landed.sort_unstable();
    let expected: Vec<u64> = (first + 1..=first + (TASKS * EACH) as u64).collect();
    assert_eq!(landed, expected, "every commit lands once, numbered without a gap");
    println!("{} commits raced, {stale} refused as stale and retried", TASKS * EACH);
    let log = stores[1].revisions(0, 1000).await.unwrap();
    assert_eq!(log.len(), TASKS * EACH + 1);
    assert!(log.windows(2).all(|pair| pair[1].number == pair[0].number + 1));
    let (revision, last) = stores[1].load().await.unwrap();
    assert_eq!(revision, first + (TASKS * EACH) as u64);
    assert_eq!(last.users.len(), org.users.len() + TASKS * EACH);
    for task in 0..TASKS {
        for n in 0..EACH {
            let id = format!("u-race-{task}-{n}");
            assert_eq!(last.users.iter().filter(|user| user.id == id).count(), 1, "{id}");
        }
    }
    drop(stores);
    db.drop().await;
}

#[test]
fn a_database_is_named_in_the_url() {
    assert_eq!(with_database("postgres://u@h:5/postgres", "x"), "postgres://u@h:5/x");
    assert_eq!(
        with_database("postgres://u@h:5/postgres?sslmode=disable", "x"),
        "postgres://u@h:5/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://u@h:5", "x"), "postgres://u@h:5/x");
}

/// The issuer spawns what the store does: its futures must be `Send`.
#[test]
fn the_stores_futures_are_send() {
    fn send<T: Send>(_: &T) {}
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let db = Database::sqlite("send");
    let store = runtime.block_on(db.store());
    let org = demo();
    let edits = serde_json::json!([]);
    send(&store.load());
    send(&store.import(&org, "x"));
    send(&store.commit((1, &org), &org, "x", &edits));
    send(&store.revisions(0, 1));
    send(&store.current_revision());
    send(&store.migrate());
    send(&listen("postgres://nowhere/x"));
}
