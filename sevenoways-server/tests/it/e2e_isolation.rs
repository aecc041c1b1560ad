//! Each API key is an account: another key's ids are 404 for reads, writes, deletes and
//! sends alike.

use sevenoways_sdk::models::channels::{AddChannelRequest, SendToChannelRequest};
use sevenoways_sdk::models::instances::CreateInstanceRequest;
use sevenoways_sdk::models::messages::{SendNumberRequest, SendRequest};
use sevenoways_sdk::models::sandbox::{SandboxGroupRequest, SandboxInboundRequest};
use sevenoways_sdk::models::schedules::{CreateScheduleRequest, ScheduleTarget};
use sevenoways_sdk::{Content, Error, GroupTarget, Phone};
use sevenoways_server::testing::*;

fn not_found<T: std::fmt::Debug>(r: Result<T, Error>) {
    assert!(
        matches!(r, Err(Error::NotFound { .. })),
        "expected 404, got {r:?}"
    );
}

#[tokio::test]
async fn accounts_cannot_see_or_touch_each_other() {
    let t = start().await;
    let alice = t.client();
    let bob = t.other_client().await;
    let inst = paired_instance(&alice, "shop").await;
    let channel = alice
        .channels()
        .add(&AddChannelRequest::new(inst.clone(), "0029VaAbCdEf"))
        .await
        .unwrap()
        .channel;
    let schedule = alice
        .schedules()
        .create(
            &CreateScheduleRequest::new(
                inst.clone(),
                "daily",
                "0 9 * * *".parse().unwrap(),
                "UTC".parse().unwrap(),
                ScheduleTarget::Groups(GroupTarget::ids([TEAM_A]).unwrap()),
                Content::Text {
                    message: "x".try_into().unwrap(),
                },
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .schedule;
    let queued = alice
        .messages()
        .send_number(&SendNumberRequest::new(
            inst.clone(),
            Phone::new("971501234567").unwrap(),
            "x".try_into().unwrap(),
        ))
        .await
        .unwrap();

    // Lists are empty for Bob.
    assert!(bob.instances().list().await.unwrap().instances.is_empty());
    assert!(bob.channels().list().await.unwrap().channels.is_empty());
    assert!(bob.schedules().list().await.unwrap().schedules.is_empty());
    // Reads.
    not_found(bob.groups().list(&inst).await);
    not_found(bob.instances().qr(&inst).await);
    not_found(bob.queue().status(queued.queue_id).await);
    not_found(bob.sandbox().outbox(&inst).await);
    // Sends from Alice's number.
    not_found(
        bob.messages()
            .send(&SendRequest::new(
                inst.clone(),
                GroupTarget::all(),
                "x".try_into().unwrap(),
            ))
            .await,
    );
    not_found(
        bob.channels()
            .send(&SendToChannelRequest::new(
                inst.clone(),
                channel.channel_jid.clone(),
                "x".try_into().unwrap(),
            ))
            .await,
    );
    // Writes.
    not_found(
        bob.channels()
            .add(&AddChannelRequest::new(inst.clone(), "0029VaOther1"))
            .await,
    );
    not_found(bob.sandbox().pair(&inst).await);
    not_found(
        bob.sandbox()
            .add_group(
                &inst,
                &SandboxGroupRequest {
                    name: "x".into(),
                    id: None,
                },
            )
            .await,
    );
    not_found(
        bob.sandbox()
            .inbound(
                &inst,
                &SandboxInboundRequest {
                    from: "971501234567".into(),
                    message: "x".into(),
                },
            )
            .await,
    );
    // Deletes.
    not_found(bob.instances().delete(&inst).await);
    not_found(bob.channels().remove(&channel.id).await);
    not_found(bob.schedules().delete(&schedule.id).await);

    // Bob may use the same instance id for his own number: ids are per account.
    bob.instances()
        .create(&CreateInstanceRequest::new(inst.clone(), "Bob's"))
        .await
        .unwrap();
    assert_eq!(
        alice.instances().list().await.unwrap().instances[0].label,
        "shop label"
    );
    // Alice still has everything.
    assert_eq!(alice.channels().list().await.unwrap().channels.len(), 1);
    assert_eq!(alice.schedules().list().await.unwrap().schedules.len(), 1);
    alice.queue().status(queued.queue_id).await.unwrap();
}
