//! A webhook receiver for tests: it checks every POST's `X-Webhook-Signature` with the
//! SDK's verifier (as a user's receiver would) and keeps the events, in arrival order.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use sevenoways_sdk::models::webhooks::CreateWebhookRequest;
use sevenoways_sdk::signature::Verifier;
use sevenoways_sdk::{Client, Event, EventData, QueueId, WebhookSecret};

/// The secret [`WebhookSink::subscribe`] registers.
pub const SECRET: &str = "whsec_engines_test_0123456789";

#[derive(Clone, Default)]
struct Seen {
    events: Arc<Mutex<Vec<Event>>>,
    forged: Arc<Mutex<usize>>,
}

/// See the module docs.
pub struct WebhookSink {
    url: String,
    seen: Seen,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WebhookSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(State(seen): State<Seen>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let signature = headers
        .get(sevenoways_sdk::signature::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    match Verifier::new([WebhookSecret::new(SECRET)]).verify(&body, signature) {
        Ok(event) => {
            let mut events = seen.events.lock().expect("not poisoned");
            // At least once: a retried delivery is the same event again.
            if !events.iter().any(|e| e.id == event.id) {
                events.push(event);
            }
            StatusCode::OK
        }
        Err(_) => {
            *seen.forged.lock().expect("not poisoned") += 1;
            StatusCode::UNAUTHORIZED
        }
    }
}

impl WebhookSink {
    /// A receiver on `127.0.0.1`.
    pub async fn start() -> Self {
        let seen = Seen::default();
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let url = format!("http://{}/hook", listener.local_addr().expect("an address"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, seen, task }
    }

    /// Subscribes it to every event of `client`'s account, with [`SECRET`].
    pub async fn subscribe(&self, client: &Client) {
        client
            .webhooks()
            .create(&CreateWebhookRequest {
                url: self.url.clone(),
                events: Vec::new(),
                secret: Some(WebhookSecret::new(SECRET)),
            })
            .await
            .expect("the webhook is created");
    }

    /// Every verified event, in arrival order.
    pub fn events(&self) -> Vec<Event> {
        self.seen.events.lock().expect("not poisoned").clone()
    }

    /// How many posts failed verification (none should).
    pub fn forged(&self) -> usize {
        *self.seen.forged.lock().expect("not poisoned")
    }

    /// The names of the message events about `queue_id`, in arrival order.
    pub fn for_queue(&self, queue_id: QueueId) -> Vec<String> {
        self.events()
            .iter()
            .filter(|e| match &e.data {
                EventData::MessageSent(m)
                | EventData::MessageDelivered(m)
                | EventData::MessageRead(m) => m.queue_id == queue_id,
                EventData::MessageFailed(m) => m.queue_id == queue_id,
                _ => false,
            })
            .map(|e| e.data.event_type().to_owned())
            .collect()
    }

    /// The names of every event, in arrival order.
    pub fn names(&self) -> Vec<String> {
        self.events()
            .iter()
            .map(|e| e.data.event_type().to_owned())
            .collect()
    }
}
