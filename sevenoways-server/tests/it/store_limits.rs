//! The send rate limit and the per-plan caps in the store the server uses, driven with
//! injected instants: the sliding window and the caps as time passes, without waiting
//! for it. The same limits through HTTP are in `e2e_rate_limits`.

use chrono::{DateTime, Duration, TimeZone, Utc};
use sevenoways_sdk::{Content, InstanceId, RATE_LIMIT_MESSAGE};
use sevenoways_server::config::{EngineKind, PlanConfig};
use sevenoways_server::limits::{Admission, CapPeriod, PlanLimits, Plans, Refusal};
use sevenoways_server::store::sqlite::SqliteStore;
use sevenoways_server::store::{AccountId, NewEntry, RecipientKind, Store};
use sevenoways_server::testing::at;

async fn store_with_account() -> (tempfile::TempDir, SqliteStore, AccountId) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let account = store
        .create_account("t", "default", &[7; 32])
        .await
        .unwrap();
    // The number the sends go from: the group commit refuses a send whose instance is
    // not there.
    store
        .create_instance(
            account,
            &InstanceId::new("n1").unwrap(),
            "n1",
            EngineKind::Sandbox,
            0,
        )
        .await
        .unwrap();
    (dir, store, account)
}

fn entries(account: AccountId, n: usize) -> Vec<NewEntry> {
    (0..n)
        .map(|i| NewEntry {
            account_id: account,
            instance_id: InstanceId::new("n1").unwrap(),
            to: format!("97150000000{i}"),
            kind: RecipientKind::Phone,
            content: Content::Text {
                message: "hi".try_into().unwrap(),
            },
            schedule_id: None,
        })
        .collect()
}

async fn send_at(
    store: &SqliteStore,
    account: AccountId,
    limits: &PlanLimits,
    now: DateTime<Utc>,
    n: usize,
) -> Result<usize, Refusal> {
    let admission = Admission {
        account_id: account,
        limits: limits.clone(),
        now,
    };
    store
        .enqueue_admitted(admission, entries(account, n))
        .await
        .unwrap()
        .map(|ids| ids.len())
}

#[tokio::test]
async fn the_allowance_refills_a_minute_after_each_request() {
    let (_dir, store, account) = store_with_account().await;
    let limits = Plans::default().get("default").clone();
    let t0 = at("2026-05-10T10:00:00Z");
    // 60 requests over 59 seconds: all admitted.
    for i in 0..60 {
        assert_eq!(
            send_at(
                &store,
                account,
                &limits,
                t0 + Duration::milliseconds(i * 1000),
                1
            )
            .await,
            Ok(1)
        );
    }
    // The 61st, within a minute of the first, is refused until the first leaves the window.
    let refusal = send_at(
        &store,
        account,
        &limits,
        t0 + Duration::milliseconds(59_500),
        1,
    )
    .await
    .unwrap_err();
    assert_eq!(
        refusal,
        Refusal::RateLimited {
            limit: 60,
            retry_at: t0 + Duration::seconds(60)
        }
    );
    assert_eq!(refusal.message(), RATE_LIMIT_MESSAGE);
    assert!(
        send_at(
            &store,
            account,
            &limits,
            t0 + Duration::milliseconds(59_999),
            1
        )
        .await
        .is_err()
    );
    // One slot frees at t0 + 60 s, exactly one.
    assert_eq!(
        send_at(&store, account, &limits, t0 + Duration::seconds(60), 1).await,
        Ok(1)
    );
    let refusal = send_at(&store, account, &limits, t0 + Duration::seconds(60), 1)
        .await
        .unwrap_err();
    assert_eq!(
        refusal,
        Refusal::RateLimited {
            limit: 60,
            retry_at: t0 + Duration::seconds(61)
        }
    );
    // After a quiet minute the whole allowance is back.
    let later = t0 + Duration::seconds(200);
    for i in 0..60 {
        assert_eq!(
            send_at(
                &store,
                account,
                &limits,
                later + Duration::milliseconds(i),
                1
            )
            .await,
            Ok(1),
            "{i}"
        );
    }
    assert!(
        send_at(
            &store,
            account,
            &limits,
            later + Duration::milliseconds(60),
            1
        )
        .await
        .is_err()
    );
    // Never more than 60 in any minute: across the old fixed-minute boundary, too.
    let snapshot = store
        .usage(
            account,
            &sevenoways_server::limits::periods(later, limits.timezone),
            later + Duration::milliseconds(60),
        )
        .await
        .unwrap();
    assert_eq!(snapshot.window.len(), 60);
}

#[tokio::test]
async fn caps_reset_with_the_day_and_the_month_in_the_plan_zone() {
    let (_dir, store, account) = store_with_account().await;
    let plans = Plans::from_config(&[PlanConfig {
        name: "tiny".into(),
        requests_per_minute: 0,
        daily_cap: 4,
        monthly_cap: 10,
        timezone: "Asia/Dubai".into(),
        ..PlanConfig::default()
    }])
    .unwrap();
    let limits = plans.get("tiny").clone();
    // 19:30 UTC is 23:30 in Dubai: the Dubai day ends at 20:00 UTC.
    let evening = at("2026-05-10T19:30:00Z");
    assert_eq!(send_at(&store, account, &limits, evening, 3).await, Ok(3));
    match send_at(&store, account, &limits, evening, 2)
        .await
        .unwrap_err()
    {
        Refusal::Cap {
            period: CapPeriod::Daily,
            used: 3,
            requested: 2,
            resets_at,
            ..
        } => {
            assert_eq!(resets_at, at("2026-05-10T20:00:00Z"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(send_at(&store, account, &limits, evening, 1).await, Ok(1));
    // A new Dubai day at 20:00 UTC.
    let next_day = at("2026-05-10T20:00:01Z");
    assert_eq!(send_at(&store, account, &limits, next_day, 4).await, Ok(4));
    assert!(
        send_at(&store, account, &limits, next_day, 1)
            .await
            .is_err()
    );
    // The month: 8 used, 2 left.
    let day3 = at("2026-05-12T08:00:00Z");
    match send_at(&store, account, &limits, day3, 3)
        .await
        .unwrap_err()
    {
        Refusal::Cap {
            period: CapPeriod::Monthly,
            used: 8,
            resets_at,
            ..
        } => {
            assert_eq!(
                resets_at,
                Utc.with_ymd_and_hms(2026, 5, 31, 20, 0, 0).unwrap()
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(send_at(&store, account, &limits, day3, 2).await, Ok(2));
    // June in Dubai starts at 20:00 UTC on 31 May.
    assert_eq!(
        send_at(&store, account, &limits, at("2026-05-31T20:00:00Z"), 4).await,
        Ok(4)
    );
    // No rate limit on this plan: many requests in one instant are fine.
    let june = at("2026-06-02T10:00:00Z");
    for _ in 0..4 {
        assert_eq!(send_at(&store, account, &limits, june, 1).await, Ok(1));
    }
}

/// The group commit reads a counter only where a cap is checked and writes what it adds
/// as an increment: sends made while the account's plan had no cap still count once a
/// cap is set, in the day and in the month.
#[tokio::test]
async fn sends_under_an_uncapped_plan_count_toward_a_cap_set_later() {
    let (_dir, store, account) = store_with_account().await;
    let plans = Plans::from_config(&[
        PlanConfig {
            name: "open".into(),
            requests_per_minute: 0,
            daily_cap: 0,
            monthly_cap: 0,
            ..PlanConfig::default()
        },
        PlanConfig {
            name: "capped".into(),
            requests_per_minute: 0,
            daily_cap: 5,
            monthly_cap: 8,
            ..PlanConfig::default()
        },
    ])
    .unwrap();
    let (open, capped) = (plans.get("open").clone(), plans.get("capped").clone());
    let morning = at("2026-05-10T08:00:00Z");
    assert_eq!(send_at(&store, account, &open, morning, 3).await, Ok(3));
    assert_eq!(send_at(&store, account, &open, morning, 1).await, Ok(1));
    match send_at(&store, account, &capped, morning, 2).await {
        Err(Refusal::Cap {
            period: CapPeriod::Daily,
            used: 4,
            requested: 2,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(send_at(&store, account, &capped, morning, 1).await, Ok(1));
    // The next day: the month holds all five.
    let next_day = at("2026-05-11T08:00:00Z");
    assert_eq!(send_at(&store, account, &open, next_day, 2).await, Ok(2));
    match send_at(&store, account, &capped, next_day, 2).await {
        Err(Refusal::Cap {
            period: CapPeriod::Monthly,
            used: 7,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}
