//! A webhook receiver: an axum server on 127.0.0.1:3000 that checks each delivery's
//! Standard Webhooks signature (`webhook-signature`, HMAC-SHA256 of the event id, the
//! attempt time and the body with your webhook secret), refuses deliveries signed more
//! than five minutes ago (replays), and prints the event. A missing or wrong signature is
//! answered 401 and the event is ignored.
//!
//! The signature is checked over the raw body bytes exactly as received, never over a
//! re-serialisation of the parsed JSON.
//!
//! Run:
//!
//! ```text
//! export WEBHOOK_SECRET=your-webhook-secret
//! export WEBHOOK_SECRET_PREVIOUS=old-secret   # optional, while rotating secrets
//! cargo run --example webhook_receiver
//! ```
//!
//! Then subscribe `http://127.0.0.1:3000/webhook` (with `POST /api/webhooks` or
//! `svw webhooks create`) and send it a test event (`svw webhooks test ID`).

use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use sevenoways_sdk::models::webhooks::EventData;
use sevenoways_sdk::signature::{StandardHeaders, Verifier, VerifyError};
use sevenoways_sdk::{Event, WebhookSecret};

const ADDR: &str = "127.0.0.1:3000";

#[tokio::main]
async fn main() -> ExitCode {
    let secret = match std::env::var("WEBHOOK_SECRET") {
        Ok(s) if !s.trim().is_empty() => WebhookSecret::new(s.trim()),
        _ => {
            eprintln!(
                "error: WEBHOOK_SECRET is not set.\n\
                 Export the signing secret shown when the webhook was created, then run \
                 the example again."
            );
            return ExitCode::from(2);
        }
    };
    let mut secrets = vec![secret];
    if let Ok(previous) = std::env::var("WEBHOOK_SECRET_PREVIOUS")
        && !previous.trim().is_empty()
    {
        secrets.push(WebhookSecret::new(previous.trim()));
    }
    let verifier = Arc::new(Verifier::new(secrets));

    let app = Router::new()
        .route("/webhook", post(receive))
        .with_state(verifier);
    let listener = match tokio::net::TcpListener::bind(ADDR).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("error: cannot listen on {ADDR}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on http://{ADDR}/webhook (Ctrl-C to stop)");
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn receive(
    State(verifier): State<Arc<Verifier>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let standard = StandardHeaders::from_fn(|name| headers.get(name).and_then(|v| v.to_str().ok()));
    match verifier.verify_standard(&body, &standard) {
        Ok(event) => {
            // Deliveries are at least once: deduplicate on webhook-id, the event id.
            print_event(&event, standard.id.unwrap_or("-"));
            (StatusCode::OK, "ok\n")
        }
        Err(e @ VerifyError::Body(_)) => {
            eprintln!("rejected (400): {e}");
            (StatusCode::BAD_REQUEST, "not an event\n")
        }
        Err(e) => {
            eprintln!("rejected (401): {e}");
            (StatusCode::UNAUTHORIZED, "Unauthorized\n")
        }
    }
}

fn print_event(event: &Event, delivery: &str) {
    println!(
        "{} {} instance={} id={} (webhook-id {delivery})",
        event.timestamp.format("%Y-%m-%d %H:%M:%S"),
        event.event_type(),
        event.instance_id,
        event.id,
    );
    match &event.data {
        EventData::MessageSent(m) | EventData::MessageDelivered(m) | EventData::MessageRead(m) => {
            println!("  queueId {} to {}", m.queue_id, m.to)
        }
        EventData::MessageFailed(m) => println!(
            "  queueId {} to {} failed after {} attempt(s): {}",
            m.queue_id, m.to, m.attempts, m.error
        ),
        EventData::MessageReceived(m) => {
            println!("  from {}: {}", m.from, m.message)
        }
        EventData::InstanceOnline(i) | EventData::InstanceOffline(i) => println!(
            "  status {}{}",
            i.status,
            i.phone
                .as_deref()
                .map(|p| format!(" ({p})"))
                .unwrap_or_default()
        ),
        other => println!("  {other:?}"),
    }
}
