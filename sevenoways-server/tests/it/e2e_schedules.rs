//! Schedules fire: through the durable queue, once per run, across daylight saving,
//! after downtime, and with two servers on one database.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use sevenoways_sdk::models::queue::QueueStatus;
use sevenoways_sdk::models::schedules::{CreateScheduleRequest, ScheduleTarget};
use sevenoways_sdk::{Client, Content, GroupTarget, InstanceId, ScheduleId, Target};
use sevenoways_server::config::EngineKind;
use sevenoways_server::config::SchedulerConfig;
use sevenoways_server::limits::Plans;
use sevenoways_server::store::sqlite::SqliteStore;
use sevenoways_server::store::{AccountId, Store};
use sevenoways_server::testing::{self, TEAM_A, TEAM_B, at, paired_instance};
use sevenoways_server::{Config, Server, auth, cron};
use sqlx::ConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;

fn config(dir: &std::path::Path, tick_ms: u64) -> Config {
    Config {
        scheduler: SchedulerConfig { tick_ms },
        ..testing::fast_config(dir)
    }
}

fn spec(cron_expr: &str, tz: &str, target: Target, content: Content) -> CreateScheduleRequest {
    let target = ScheduleTarget::try_from(target).unwrap();
    CreateScheduleRequest::new(
        InstanceId::new("n1").unwrap(),
        "test",
        cron_expr.parse().unwrap(),
        tz.parse().unwrap(),
        target,
        content,
    )
    .unwrap()
}

fn text(s: &str) -> Content {
    Content::Text {
        message: s.try_into().unwrap(),
    }
}

fn phone() -> Target {
    Target::Phone("971501234567".parse().unwrap())
}

async fn account_of(server: &Server, key: &str) -> AccountId {
    server
        .store()
        .account_by_key_hash(&auth::hash_key(key))
        .await
        .unwrap()
        .unwrap()
        .id
}

/// Saves a schedule whose next run is `next_run_at` (as if created earlier).
async fn save(
    store: &dyn Store,
    account: AccountId,
    n: usize,
    spec: &CreateScheduleRequest,
    next_run_at: DateTime<Utc>,
) -> ScheduleId {
    let id = ScheduleId::new(format!("sch_test{n}")).unwrap();
    store
        .create_schedule(account, &id, spec, Some(next_run_at), Utc::now(), 0)
        .await
        .unwrap();
    id
}

async fn outbox_len(client: &Client) -> usize {
    client
        .sandbox()
        .outbox(&InstanceId::new("n1").unwrap())
        .await
        .unwrap()
        .messages
        .len()
}

async fn wait_for_outbox(client: &Client, n: usize) {
    testing::eventually(15, || {
        let client = client.clone();
        async move { (outbox_len(&client).await >= n).then_some(()) }
    })
    .await;
    // And no more arrive: each run fired once.
    tokio::time::sleep(StdDuration::from_millis(600)).await;
    assert_eq!(outbox_len(client).await, n);
}

/// Waits, when fewer than `room` seconds are left in this minute, for the next one: an
/// every-minute schedule made now then cannot come due again while the test counts its
/// runs (on a loaded machine a test can take several seconds).
async fn clear_of_a_minute_boundary(room: u32) {
    clear_of_a_boundary(60, room).await;
}

/// Waits, when fewer than `room` seconds are left before the next multiple of `every`
/// seconds of the day (UTC), until just after it.
async fn clear_of_a_boundary(every: u32, room: u32) {
    use chrono::Timelike;
    let left = every - Utc::now().num_seconds_from_midnight() % every;
    if left < room {
        tokio::time::sleep(StdDuration::from_secs(u64::from(left) + 1)).await;
    }
}

#[tokio::test]
async fn a_schedule_fires_once_when_due_and_lists_its_next_run() {
    clear_of_a_minute_boundary(30).await;
    let dir = tempfile::tempdir().unwrap();
    let server = testing::launch(config(dir.path(), 25)).await;
    let key = server.create_key("t", "default").await.unwrap();
    let client = testing::client(&server.base_url(), &key, sevenoways_sdk::BodyEncoding::Json);
    paired_instance(&client, "n1").await;

    // Created through the API, every minute: the next run is the next minute boundary.
    let req = spec(
        "* * * * *",
        "UTC",
        Target::Groups(GroupTarget::ids([TEAM_A]).unwrap()),
        text("Good morning team! ☀️"),
    );
    let before = Utc::now();
    let created = client.schedules().create(&req).await.unwrap().schedule;
    let next = created.next_run_at.unwrap();
    assert!(next > before && next <= before + Duration::minutes(1));
    assert_eq!(next.timestamp() % 60, 0);

    // One due in a moment, as that one will be at its minute.
    let account = account_of(&server, &key).await;
    // Whole milliseconds, as stored.
    let due = DateTime::from_timestamp_millis(
        (Utc::now() + Duration::milliseconds(300)).timestamp_millis(),
    )
    .unwrap();
    let id = save(&*server.store(), account, 1, &req, due).await;
    wait_for_outbox(&client, 1).await;
    let sent = client
        .sandbox()
        .outbox(&InstanceId::new("n1").unwrap())
        .await
        .unwrap()
        .messages;
    assert_eq!(sent[0].to, TEAM_A);
    assert_eq!(sent[0].content, text("Good morning team! ☀️"));
    assert!(sent[0].sent_at >= due);
    // Its queue entry records the schedule; the list shows last and next run.
    let entry = client.queue().status(sent[0].queue_id).await.unwrap();
    assert_ne!(entry.status, QueueStatus::Failed);
    let list = client.schedules().list().await.unwrap().schedules;
    let fired = list.iter().find(|s| s.id == id).unwrap();
    let last = fired.last_run_at.unwrap();
    assert!(last >= due && last < due + Duration::seconds(5));
    assert_eq!(fired.next_run_at, cron::next_run(&req, last));
    assert!(fired.next_run_at.unwrap() > last);
    // The API-created one is untouched until its minute.
    assert_eq!(
        list.iter()
            .find(|s| s.id == created.id)
            .unwrap()
            .next_run_at,
        Some(next)
    );
    server.shutdown().await;
}

#[tokio::test]
async fn every_recipient_and_content_kind_fires() {
    let dir = tempfile::tempdir().unwrap();
    let server = testing::launch(config(dir.path(), 25)).await;
    let key = server.create_key("t", "default").await.unwrap();
    let client = testing::client(&server.base_url(), &key, sevenoways_sdk::BodyEncoding::Json);
    paired_instance(&client, "n1").await;
    let account = account_of(&server, &key).await;
    let image = Content::Image {
        image_url: "https://example.com/banner.jpg".parse().unwrap(),
        caption: Some("Sale 🎉".into()),
    };
    let document = Content::Document {
        file_url: "https://example.com/report.pdf".parse().unwrap(),
        filename: "report.pdf".into(),
        mimetype: Some("application/pdf".into()),
    };
    let specs = [
        spec(
            "0 9 * * *",
            "Asia/Dubai",
            Target::Groups(GroupTarget::ids([TEAM_A]).unwrap()),
            text("by id"),
        ),
        spec(
            "0 9 * * 1-5",
            "Europe/London",
            Target::Groups(GroupTarget::names(["team b"]).unwrap()),
            image.clone(),
        ),
        spec(
            "*/30 * * * *",
            "America/New_York",
            Target::Groups(GroupTarget::All),
            document.clone(),
        ),
        spec("0 8,17 * * *", "UTC", phone(), text("to a number")),
    ];
    let now = Utc::now();
    for (i, s) in specs.iter().enumerate() {
        save(&*server.store(), account, i, s, now - Duration::seconds(1)).await;
    }
    wait_for_outbox(&client, 5).await;
    let mut got: Vec<(String, Content)> = client
        .sandbox()
        .outbox(&InstanceId::new("n1").unwrap())
        .await
        .unwrap()
        .messages
        .into_iter()
        .map(|m| (m.to, m.content))
        .collect();
    got.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    let mut want = vec![
        (TEAM_A.to_owned(), text("by id")),
        (TEAM_B.to_owned(), image),
        (TEAM_A.to_owned(), document.clone()),
        (TEAM_B.to_owned(), document),
        ("971501234567".to_owned(), text("to a number")),
    ];
    want.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    assert_eq!(got, want);
    // Each advanced to its own next run, computed in its own zone.
    for s in client.schedules().list().await.unwrap().schedules {
        let last = s.last_run_at.expect("fired");
        assert_eq!(
            s.next_run_at,
            cron::next_run(&s.spec, last),
            "{}",
            s.spec.cron_expr
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_schedule_missed_while_down_fires_once_at_start_up() {
    // A start-up just before a five-minute boundary would also fire the run due at it (a
    // third message, rightly): a full-suite run met this at 02:25.
    clear_of_a_boundary(300, 20).await;
    let dir = tempfile::tempdir().unwrap();
    let server = testing::launch(config(dir.path(), 25)).await;
    let key = server.create_key("t", "default").await.unwrap();
    let client = testing::client(&server.base_url(), &key, sevenoways_sdk::BodyEncoding::Json);
    paired_instance(&client, "n1").await;
    let account = account_of(&server, &key).await;
    server.shutdown().await;

    // While it is down: an hourly schedule whose run was due three hours ago, so three
    // hourly runs (and a 5-minute one's 36) were missed.
    {
        let store = testing::open_store(dir.path()).await;
        let hourly = spec("0 * * * *", "Europe/London", phone(), text("hourly"));
        save(
            &*store,
            account,
            1,
            &hourly,
            Utc::now() - Duration::hours(3),
        )
        .await;
        let five = spec("*/5 * * * *", "UTC", phone(), text("every five minutes"));
        save(&*store, account, 2, &five, Utc::now() - Duration::hours(3)).await;
    }
    let started = Utc::now();
    let server = testing::launch(config(dir.path(), 25)).await;
    let client = testing::client(&server.base_url(), &key, sevenoways_sdk::BodyEncoding::Json);
    wait_for_outbox(&client, 2).await;
    for s in client.schedules().list().await.unwrap().schedules {
        let last = s.last_run_at.unwrap();
        assert!(last >= started);
        // Advanced from the start-up, not from the missed run.
        assert_eq!(s.next_run_at, cron::next_run(&s.spec, last));
        assert!(s.next_run_at.unwrap() > started);
    }
    server.shutdown().await;
}

/// The scheduler sleeps until the earliest run is due, not until its next tick: with an
/// hour-long tick, a run due two seconds after start-up fires at its instant.
#[tokio::test]
async fn a_run_fires_at_its_instant_not_at_the_next_tick() {
    let dir = tempfile::tempdir().unwrap();
    let server = testing::launch(config(dir.path(), 3_600_000)).await;
    let key = server.create_key("t", "default").await.unwrap();
    let client = testing::client(&server.base_url(), &key, sevenoways_sdk::BodyEncoding::Json);
    paired_instance(&client, "n1").await;
    let account = account_of(&server, &key).await;
    server.shutdown().await;
    let due = {
        let store = testing::open_store(dir.path()).await;
        let daily = spec("0 9 * * *", "UTC", phone(), text("on time"));
        // Whole milliseconds, as stored.
        let due =
            DateTime::from_timestamp_millis((Utc::now() + Duration::seconds(2)).timestamp_millis())
                .unwrap();
        save(&*store, account, 1, &daily, due).await;
        due
    };
    let server = testing::launch(config(dir.path(), 3_600_000)).await;
    let client = testing::client(&server.base_url(), &key, sevenoways_sdk::BodyEncoding::Json);
    wait_for_outbox(&client, 1).await;
    let last = client.schedules().list().await.unwrap().schedules[0]
        .last_run_at
        .expect("fired");
    assert!(last >= due, "not before its instant: {last} < {due}");
    server.shutdown().await;
}

#[tokio::test]
async fn two_servers_on_one_database_fire_each_run_once() {
    let dir = tempfile::tempdir().unwrap();
    let a = testing::launch(config(dir.path(), 5)).await;
    let b = testing::launch(config(dir.path(), 5)).await;
    let key = a.create_key("t", "default").await.unwrap();
    let client = testing::client(&a.base_url(), &key, sevenoways_sdk::BodyEncoding::Json);
    paired_instance(&client, "n1").await;
    let account = account_of(&a, &key).await;
    let now = Utc::now();
    for i in 0..30 {
        let s = spec("0 9 * * *", "UTC", phone(), text(&format!("run {i}")));
        // Half through each server's store; all due within the next half second.
        let store = if i % 2 == 0 { a.store() } else { b.store() };
        save(
            &*store,
            account,
            i,
            &s,
            now + Duration::milliseconds(i as i64 * 15),
        )
        .await;
    }
    wait_for_outbox(&client, 30).await;
    let mut texts: Vec<String> = client
        .sandbox()
        .outbox(&InstanceId::new("n1").unwrap())
        .await
        .unwrap()
        .messages
        .into_iter()
        .map(|m| match m.content {
            Content::Text { message } => message.as_str().to_owned(),
            other => panic!("{other:?}"),
        })
        .collect();
    texts.sort();
    texts.dedup();
    assert_eq!(texts.len(), 30);
    a.shutdown().await;
    b.shutdown().await;
}

// The firing path with an injected clock: the store the server uses, driven through
// simulated days on both sides of daylight-saving changes.

/// Ticks every `step` from `from` to `to`, like the scheduler, and returns the instants
/// the schedule fired at.
async fn simulate(
    cron_expr: &str,
    tz: &str,
    from: &str,
    to: &str,
    step: Duration,
) -> Vec<DateTime<Utc>> {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let account = store
        .create_account("t", "default", &[1; 32])
        .await
        .unwrap();
    let s = spec(cron_expr, tz, phone(), text("tick"));
    let (from, to) = (at(from), at(to));
    save(&store, account, 1, &s, cron::next_run(&s, from).unwrap()).await;
    let plans = Plans::default();
    let mut fired = Vec::new();
    let mut now = from;
    while now <= to {
        let runs = store
            .fire_due_schedules(now, &plans, cron::next_run, 10)
            .await
            .unwrap();
        assert!(runs.len() <= 1);
        if let Some(run) = runs.first() {
            assert_eq!(run.queued.len(), 1);
            fired.push(now);
        }
        now += step;
    }
    fired
}

fn hhmm(ts: &[DateTime<Utc>]) -> Vec<String> {
    ts.iter()
        .map(|t| t.format("%m-%d %H:%M").to_string())
        .collect()
}

#[tokio::test]
async fn daylight_saving_with_an_injected_clock() {
    let step = Duration::minutes(10);
    // London, spring forward (29 March 2026, 01:00 GMT → 02:00 BST): 01:30 does not
    // exist that night, so the job runs once, right after the gap (01:00 UTC).
    assert_eq!(
        hhmm(
            &simulate(
                "30 1 * * *",
                "Europe/London",
                "2026-03-28T02:00:00Z",
                "2026-03-31T02:00:00Z",
                step
            )
            .await
        ),
        ["03-29 01:00", "03-30 00:30", "03-31 00:30"]
    );
    // London, fall back (25 October 2026, 02:00 BST → 01:00 GMT): 01:30 happens twice
    // and the job runs once, at the first.
    assert_eq!(
        hhmm(
            &simulate(
                "30 1 * * *",
                "Europe/London",
                "2026-10-24T02:00:00Z",
                "2026-10-27T02:00:00Z",
                step
            )
            .await
        ),
        ["10-25 00:30", "10-26 01:30", "10-27 01:30"]
    );
    // New York both ways.
    assert_eq!(
        hhmm(
            &simulate(
                "30 2 * * *",
                "America/New_York",
                "2026-03-07T12:00:00Z",
                "2026-03-10T12:00:00Z",
                step
            )
            .await
        ),
        ["03-08 07:00", "03-09 06:30", "03-10 06:30"]
    );
    assert_eq!(
        hhmm(
            &simulate(
                "30 1 * * *",
                "America/New_York",
                "2026-10-31T12:00:00Z",
                "2026-11-03T12:00:00Z",
                step
            )
            .await
        ),
        ["11-01 05:30", "11-02 06:30", "11-03 06:30"]
    );
    // Dubai has no daylight saving: the same UTC time every day, whatever London does.
    assert_eq!(
        hhmm(
            &simulate(
                "30 1 * * *",
                "Asia/Dubai",
                "2026-03-28T00:00:00Z",
                "2026-03-31T00:00:00Z",
                step
            )
            .await
        ),
        ["03-28 21:30", "03-29 21:30", "03-30 21:30"]
    );
    // An hourly job through the repeated hour runs every real hour, once each.
    let hourly = simulate(
        "0 * * * *",
        "Europe/London",
        "2026-10-24T22:30:00Z",
        "2026-10-25T03:30:00Z",
        step,
    )
    .await;
    assert_eq!(
        hhmm(&hourly),
        [
            "10-24 23:00",
            "10-25 00:00",
            "10-25 01:00",
            "10-25 02:00",
            "10-25 03:00"
        ]
    );
}

/// The rows and event names the database holds, read directly: what a run wrote.
async fn written(dir: &std::path::Path) -> (i64, Vec<(String, serde_json::Value)>) {
    let queue = testing::count(dir, "SELECT COUNT(*) FROM queue").await;
    let events = testing::rows(dir, "SELECT event_type, payload FROM events ORDER BY seq").await;
    let events = events
        .into_iter()
        .filter(|(t, _)| !t.starts_with("instance."))
        .map(|(t, payload)| {
            let body: serde_json::Value = serde_json::from_slice(&payload).unwrap();
            (t, body["data"].clone())
        })
        .collect();
    (queue, events)
}

/// A run over the plan's cap writes one `schedule.skipped` event and nothing else: no
/// queue row and no event per recipient (each used to get a failed row with a copy of
/// the content, every run, for ever). The plan's `schedule_pause_after` such runs in a
/// row pause the schedule, which says so in the list and in a `schedule.paused` event,
/// until it is resumed.
#[tokio::test]
async fn runs_over_the_cap_write_one_event_each_and_pause_the_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let one = testing::plan("one", |p| {
        p.daily_cap = 1;
        p.schedule_pause_after = 2;
    });
    // A long tick: only the test fires schedules here.
    let server = testing::launch(Config {
        plans: vec![one.clone()],
        ..config(dir.path(), 3_600_000)
    })
    .await;
    let key = server.create_key("t", "one").await.unwrap();
    let client = testing::client(&server.base_url(), &key, sevenoways_sdk::BodyEncoding::Json);
    paired_instance(&client, "n1").await;
    let account = account_of(&server, &key).await;
    let store = server.store();
    let plans = Plans::from_config(&[one]).unwrap();
    let (queue_before, events_before) = written(dir.path()).await;

    // Two recipients; the plan allows one message a day: every run is over the cap.
    let both = spec(
        "0 9 * * *",
        "UTC",
        Target::Groups(GroupTarget::ids([TEAM_A, TEAM_B]).unwrap()),
        text("everyone"),
    );
    let now = Utc::now();
    let id = save(&*store, account, 1, &both, now - Duration::seconds(1)).await;
    let fired = store
        .fire_due_schedules(now, &plans, cron::next_run, 10)
        .await
        .unwrap();
    assert_eq!(fired.len(), 1);
    let run = &fired[0];
    assert!(run.queued.is_empty() && run.failed.is_empty());
    assert!(!run.paused);
    let reason = run.skipped.clone().expect("skipped for the cap");
    assert!(reason.starts_with("Daily message cap reached"), "{reason}");
    let next = run.next_run_at.expect("still scheduled");
    let (queue, events) = written(dir.path()).await;
    assert_eq!(queue, queue_before, "no queue row for a skipped run");
    assert_eq!(events.len(), events_before.len() + 1);
    let (event, data) = events.last().unwrap();
    assert_eq!(event, "schedule.skipped");
    assert_eq!(data["scheduleId"], id.as_str());
    assert_eq!(data["recipients"], 2);
    assert_eq!(data["skippedRuns"], 1);
    assert_eq!(data["reason"], reason.as_str());
    let listed = client.schedules().list().await.unwrap().schedules;
    assert_eq!((listed[0].skipped_runs, listed[0].is_paused()), (1, false));
    // Fired once: a second call at the same instant finds nothing due.
    assert!(
        store
            .fire_due_schedules(now, &plans, cron::next_run, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // The second skipped run in a row pauses it.
    let fired = store
        .fire_due_schedules(next, &plans, cron::next_run, 10)
        .await
        .unwrap();
    assert!(fired[0].paused && fired[0].queued.is_empty());
    assert_eq!(fired[0].next_run_at, None);
    let (queue, events) = written(dir.path()).await;
    assert_eq!(queue, queue_before);
    assert_eq!(events.len(), events_before.len() + 2);
    let (event, data) = events.last().unwrap();
    assert_eq!(event, "schedule.paused");
    assert_eq!(data["skippedRuns"], 2);
    let paused = client.schedules().list().await.unwrap().schedules.remove(0);
    assert!(paused.is_paused());
    assert_eq!(paused.next_run_at, None);
    assert!(
        paused
            .pause_reason
            .as_deref()
            .unwrap()
            .starts_with("paused after 2 runs in a row were skipped: Daily message cap reached"),
        "{:?}",
        paused.pause_reason
    );
    // Paused: nothing runs, however late it gets.
    assert!(
        store
            .fire_due_schedules(next + Duration::days(30), &plans, cron::next_run, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Resumed through the API: running again from its next cron time, the count reset.
    let resumed = client.schedules().resume(&id).await.unwrap().schedule;
    assert!(!resumed.is_paused() && resumed.pause_reason.is_none());
    assert_eq!(resumed.skipped_runs, 0);
    let next = resumed.next_run_at.expect("scheduled again");
    assert!(next > Utc::now());
    assert_eq!(
        client.schedules().list().await.unwrap().schedules[0],
        resumed
    );
    // Resuming a running schedule changes nothing; another key's is not found.
    assert_eq!(
        client.schedules().resume(&id).await.unwrap().schedule,
        resumed
    );
    let other = testing::client(
        &server.base_url(),
        &server.create_key("o", "default").await.unwrap(),
        sevenoways_sdk::BodyEncoding::Json,
    );
    assert!(matches!(
        other.schedules().resume(&id).await,
        Err(sevenoways_sdk::Error::NotFound { .. })
    ));
    let fired = store
        .fire_due_schedules(next, &plans, cron::next_run, 10)
        .await
        .unwrap();
    assert_eq!(fired.len(), 1);
    assert!(fired[0].skipped.is_some() && !fired[0].paused);
    server.shutdown().await;
}

#[tokio::test]
async fn runs_to_unknown_groups_are_recorded_as_failed() {
    let dir = tempfile::tempdir().unwrap();
    let server = testing::launch(config(dir.path(), 3_600_000)).await;
    let key = server.create_key("t", "default").await.unwrap();
    let client = testing::client(&server.base_url(), &key, sevenoways_sdk::BodyEncoding::Json);
    paired_instance(&client, "n1").await;
    let account = account_of(&server, &key).await;
    let store = server.store();
    let now = Utc::now();
    let names = spec(
        "0 9 * * *",
        "UTC",
        Target::Groups(GroupTarget::names(["Team A", "Nobody", "NOBODY"]).unwrap()),
        text("hi"),
    );
    save(&*store, account, 2, &names, now - Duration::seconds(1)).await;
    let fired = store
        .fire_due_schedules(now, &Plans::default(), cron::next_run, 10)
        .await
        .unwrap();
    let run = fired
        .iter()
        .find(|f| f.schedule_id.as_str() == "sch_test2")
        .unwrap();
    assert_eq!(run.queued.len(), 1);
    assert_eq!(
        run.failed.len(),
        1,
        "one failure per name, however often named"
    );
    let entry = client.queue().status(run.failed[0]).await.unwrap();
    assert_eq!(entry.status, QueueStatus::Failed);
    assert_eq!(entry.to, "Nobody");
    assert!(entry.error.unwrap().contains("no group named \"Nobody\""));
    server.shutdown().await;
}

/// Where the planning step takes the database's write lock, if it does: `next` is called
/// once per due schedule while its run is planned, and this one tries to take the write
/// lock from a connection of its own, without waiting.
static PLANNING_DB: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
static PLANNED_UNLOCKED: AtomicUsize = AtomicUsize::new(0);
static PLANNED_LOCKED: AtomicUsize = AtomicUsize::new(0);

fn next_run_checking_the_write_lock(
    spec: &CreateScheduleRequest,
    after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let path = PLANNING_DB.get().expect("set by the test").clone();
    // Its own thread and runtime: this is called from inside the store's async code.
    let free = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let mut conn = SqliteConnectOptions::new()
                .filename(path)
                .busy_timeout(StdDuration::ZERO)
                .connect()
                .await
                .unwrap();
            let free = sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut conn)
                .await
                .is_ok();
            if free {
                sqlx::query("ROLLBACK").execute(&mut conn).await.unwrap();
            }
            free
        })
    })
    .join()
    .unwrap();
    let counter = if free {
        &PLANNED_UNLOCKED
    } else {
        &PLANNED_LOCKED
    };
    counter.fetch_add(1, Ordering::SeqCst);
    cron::next_run(spec, after)
}

/// A schedule's run is planned (recipients resolved, next run computed) before its
/// write transaction begins, so however many names and groups it has, no tenant's
/// schedule holds the write lock every other tenant's sends wait on.
#[tokio::test]
async fn runs_are_planned_outside_the_write_transaction() {
    let dir = tempfile::tempdir().unwrap();
    PLANNING_DB.set(dir.path().join("sevenoways.db")).unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let account = store
        .create_account("t", "default", &[2; 32])
        .await
        .unwrap();
    let n1 = InstanceId::new("n1").unwrap();
    store
        .create_instance(account, &n1, "n1", EngineKind::Sandbox, 0)
        .await
        .unwrap();
    for i in 0..50 {
        let group = sevenoways_sdk::models::groups::Group {
            id: format!("1203630000000001{i:02}@g.us").parse().unwrap(),
            name: if i % 2 == 0 { "Even" } else { "Odd" }.into(),
            participants: 3,
        };
        store.upsert_group(account, &n1, &group, 0).await.unwrap();
    }
    let now = Utc::now();
    for (n, names) in [["even", "EVEN"], ["odd", "Even"]].iter().enumerate() {
        let s = spec(
            "0 9 * * *",
            "UTC",
            Target::Groups(GroupTarget::names(*names).unwrap()),
            text("hi"),
        );
        save(&store, account, n, &s, now - Duration::seconds(1)).await;
    }
    let plans = Plans::from_config(&[testing::plan("default", |p| p.daily_cap = 0)]).unwrap();
    let fired = store
        .fire_due_schedules(now, &plans, next_run_checking_the_write_lock, 10)
        .await
        .unwrap();
    let queued: Vec<usize> = fired.iter().map(|f| f.queued.len()).collect();
    assert_eq!(queued, [25, 50]);
    assert_eq!(
        PLANNED_LOCKED.load(Ordering::SeqCst),
        0,
        "planned under the write lock"
    );
    assert_eq!(PLANNED_UNLOCKED.load(Ordering::SeqCst), 2);
}

/// Many large runs due at once are fired in several short transactions (at most about
/// 2048 rows each), and every one of them is queued once.
#[tokio::test]
async fn many_large_runs_due_at_once_all_fire_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let account = store
        .create_account("t", "default", &[3; 32])
        .await
        .unwrap();
    let n1 = InstanceId::new("n1").unwrap();
    store
        .create_instance(account, &n1, "n1", EngineKind::Sandbox, 0)
        .await
        .unwrap();
    for i in 0..900 {
        let group = sevenoways_sdk::models::groups::Group {
            id: format!("120363000000{i:06}@g.us").parse().unwrap(),
            name: format!("group {i}"),
            participants: 3,
        };
        store.upsert_group(account, &n1, &group, 0).await.unwrap();
    }
    let now = Utc::now();
    let all = spec(
        "0 9 * * *",
        "UTC",
        Target::Groups(GroupTarget::All),
        text("hi"),
    );
    for n in 0..5 {
        save(&store, account, n, &all, now - Duration::seconds(1)).await;
    }
    let plans = Plans::from_config(&[testing::plan("default", |p| {
        p.daily_cap = 0;
        p.monthly_cap = 0;
    })])
    .unwrap();
    let fired = store
        .fire_due_schedules(now, &plans, cron::next_run, 100)
        .await
        .unwrap();
    let queued: Vec<usize> = fired.iter().map(|f| f.queued.len()).collect();
    assert_eq!(queued, [900; 5]);
    let mut ids: Vec<u64> = fired
        .iter()
        .flat_map(|f| f.queued.iter().map(|q| q.0))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 4500);
    assert!(
        store
            .fire_due_schedules(now, &plans, cron::next_run, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Runs fired together count against the cap together: the second of two runs due at
/// once is skipped when both would pass the cap, and what the first queued is on the
/// counter afterwards (the counters are read and written once per firing transaction).
#[tokio::test]
async fn runs_fired_together_share_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let three = testing::plan("three", |p| {
        p.daily_cap = 3;
        p.schedule_pause_after = 0;
    });
    let server = testing::launch(Config {
        plans: vec![three.clone()],
        ..config(dir.path(), 3_600_000)
    })
    .await;
    let key = server.create_key("t", "three").await.unwrap();
    let client = testing::client(&server.base_url(), &key, sevenoways_sdk::BodyEncoding::Json);
    paired_instance(&client, "n1").await;
    let account = account_of(&server, &key).await;
    let store = server.store();
    let plans = Plans::from_config(&[three]).unwrap();
    let two = || {
        spec(
            "0 9 * * *",
            "UTC",
            Target::Groups(GroupTarget::ids([TEAM_A, TEAM_B]).unwrap()),
            text("both"),
        )
    };
    let one = || {
        spec(
            "0 9 * * *",
            "UTC",
            Target::Groups(GroupTarget::ids([TEAM_A]).unwrap()),
            text("one"),
        )
    };
    let now = Utc::now();
    let first = save(&*store, account, 1, &two(), now - Duration::seconds(4)).await;
    let second = save(&*store, account, 2, &two(), now - Duration::seconds(3)).await;
    let fired = store
        .fire_due_schedules(now, &plans, cron::next_run, 10)
        .await
        .unwrap();
    let outcome = |id: &ScheduleId, fired: &[sevenoways_server::store::FiredSchedule]| {
        let f = fired.iter().find(|f| &f.schedule_id == id).unwrap();
        (f.queued.len(), f.skipped.is_some())
    };
    assert_eq!(outcome(&first, &fired), (2, false));
    assert_eq!(outcome(&second, &fired), (0, true), "2 + 2 is over 3");
    // The counter holds the first run's two: one more fits, a second does not.
    let third = save(&*store, account, 3, &one(), now - Duration::seconds(2)).await;
    let fourth = save(&*store, account, 4, &one(), now - Duration::seconds(1)).await;
    let fired = store
        .fire_due_schedules(now, &plans, cron::next_run, 10)
        .await
        .unwrap();
    assert_eq!(outcome(&third, &fired), (1, false));
    assert_eq!(outcome(&fourth, &fired), (0, true), "3 + 1 is over 3");
}
