//! `GET /api/openapi.json`: an OpenAPI 3.1 description built from the SDK's types.
//!
//! Schemas come from `schemars` derives on the very structs the handlers parse and
//! answer, and paths from their [`Endpoint::PATH`], so the document cannot drift from
//! the code. A committed snapshot (`tests/it/openapi.rs`) shows every contract change in review.

use axum::Json;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};
use sevenoways_sdk::models::channels::*;
use sevenoways_sdk::models::communities::*;
use sevenoways_sdk::models::groups::GroupList;
use sevenoways_sdk::models::instances::*;
use sevenoways_sdk::models::messages::*;
use sevenoways_sdk::models::queue::QueueEntry;
use sevenoways_sdk::models::sandbox::*;
use sevenoways_sdk::models::schedules::*;
use sevenoways_sdk::models::usage::Usage;
use sevenoways_sdk::models::webhooks::*;
use sevenoways_sdk::{Empty, Endpoint, ErrorBody};

/// One operation of the document.
struct Op {
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    body: Option<Schema>,
    response: Schema,
}

struct Builder {
    generator: SchemaGenerator,
    ops: Vec<Op>,
}

impl Builder {
    fn op<Res: JsonSchema>(
        &mut self,
        method: &'static str,
        path: &'static str,
        tag: &'static str,
        summary: &'static str,
    ) {
        let response = self.generator.subschema_for::<Res>();
        self.ops.push(Op {
            method,
            path,
            tag,
            summary,
            body: None,
            response,
        });
    }

    fn post<Req: Endpoint + JsonSchema>(&mut self, tag: &'static str, summary: &'static str)
    where
        Req::Response: JsonSchema,
    {
        let body = Some(self.generator.subschema_for::<Req>());
        let response = self.generator.subschema_for::<Req::Response>();
        self.ops.push(Op {
            method: "post",
            path: Req::PATH,
            tag,
            summary,
            body,
            response,
        });
    }

    fn post_body<Req: JsonSchema, Res: JsonSchema>(
        &mut self,
        path: &'static str,
        tag: &'static str,
        summary: &'static str,
    ) {
        let body = Some(self.generator.subschema_for::<Req>());
        let response = self.generator.subschema_for::<Res>();
        self.ops.push(Op {
            method: "post",
            path,
            tag,
            summary,
            body,
            response,
        });
    }
}

/// The whole document.
pub fn document() -> Value {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    let mut b = Builder {
        generator: settings.into_generator(),
        ops: Vec::new(),
    };

    b.op::<InstanceList>("get", "/api/instances", "instances", "List instances");
    b.post::<CreateInstanceRequest>("instances", "Create an instance; open qrUrl to pair it");
    b.op::<Empty>(
        "delete",
        "/api/instances/{id}",
        "instances",
        "Delete an instance",
    );
    b.op::<QrCode>("get", "/api/instances/{id}/qr", "instances",
        "The pairing QR code: an HTML page in a browser (with ?token= from qrUrl); ?format=png|svg|json for programs");
    b.op::<GroupList>(
        "get",
        "/api/instances/{id}/groups",
        "groups",
        "List the groups of a number",
    );

    b.post::<SendRequest>(
        "messages",
        "Send text to groups (groupIds, groups by name, or sendAll)",
    );
    b.post::<SendImageRequest>("messages", "Send an image to groups");
    b.post::<SendDocumentRequest>("messages", "Send a document to groups");
    b.post::<SendNumberRequest>("messages", "Send text to a phone number");
    b.post::<SendNumberImageRequest>("messages", "Send an image to a phone number");
    b.post::<SendNumberDocumentRequest>("messages", "Send a document to a phone number");
    b.post::<SendToCommunityRequest>("communities", "Send text to a community");
    b.post::<SendImageToCommunityRequest>("communities", "Send an image to a community");
    b.post::<SendDocumentToCommunityRequest>("communities", "Send a document to a community");

    b.op::<ChannelList>("get", "/api/channels", "channels", "List saved channels");
    b.post::<AddChannelRequest>(
        "channels",
        "Look a channel up by invite link, code or JID, and save it",
    );
    b.op::<Empty>(
        "delete",
        "/api/channels/{id}",
        "channels",
        "Remove a saved channel",
    );
    b.post::<SendToChannelRequest>("channels", "Send text to a channel");
    b.post::<SendImageToChannelRequest>("channels", "Send an image to a channel");
    b.post::<SendDocumentToChannelRequest>("channels", "Send a document to a channel");

    b.op::<ScheduleList>(
        "get",
        "/api/schedules",
        "schedules",
        "List schedules with their next run",
    );
    b.post::<CreateScheduleRequest>("schedules", "Create a cron schedule in an IANA time zone");
    b.op::<Empty>(
        "delete",
        "/api/schedules/{id}",
        "schedules",
        "Delete a schedule",
    );

    b.op::<QueueEntry>(
        "get",
        "/api/queue/{id}",
        "queue",
        "A queue entry's status, attempts, timestamps and failure reason",
    );

    b.post_body::<Empty, Empty>(
        "/api/sandbox/instances/{id}/pair",
        "sandbox",
        "Simulate the QR scan: the instance comes online",
    );
    b.post_body::<SandboxGroupRequest, SandboxGroup>(
        "/api/sandbox/instances/{id}/groups",
        "sandbox",
        "Add a group to the number, or rename it",
    );
    b.post_body::<SandboxInboundRequest, Empty>(
        "/api/sandbox/instances/{id}/inbound",
        "sandbox",
        "Simulate an incoming message",
    );
    b.op::<Outbox>(
        "get",
        "/api/sandbox/outbox",
        "sandbox",
        "What the sandbox transport sent (?instanceId=ID), oldest first",
    );

    b.post_body::<Empty, Empty>(
        "/api/sandbox/instances/{id}/unpair",
        "sandbox",
        "Simulate the phone logging out: the instance goes offline",
    );

    b.op::<Usage>("get", "/api/usage", "usage", "This key's plan: requests this minute, messages today and this month, limits and reset times");

    b.op::<WebhookList>(
        "get",
        "/api/webhooks",
        "webhooks",
        "List webhook subscriptions (secrets are never shown again)",
    );
    b.post::<CreateWebhookRequest>(
        "webhooks",
        "Subscribe a URL to events; the answer shows the signing secret once",
    );
    b.op::<Empty>(
        "delete",
        "/api/webhooks/{id}",
        "webhooks",
        "Delete a subscription",
    );
    b.post_body::<Empty, Empty>(
        "/api/webhooks/{id}/test",
        "webhooks",
        "Queue a signed webhook.test event to the subscription",
    );
    b.op::<DeliveryList>(
        "get",
        "/api/webhooks/{id}/deliveries",
        "webhooks",
        "Recent deliveries, newest first: status, response code, latency, next attempt",
    );
    b.op::<DeliveryDetail>(
        "get",
        "/api/webhooks/{id}/deliveries/{deliveryId}",
        "webhooks",
        "One delivery with every attempt",
    );
    b.post_body::<Empty, Empty>(
        "/api/webhooks/{id}/deliveries/{deliveryId}/redeliver",
        "webhooks",
        "Send a delivery again now",
    );

    let error = b.generator.subschema_for::<ErrorBody>();
    // Every webhook POST carries one of these, signed: X-Webhook-Signature: sha256=<hex>.
    b.generator.subschema_for::<sevenoways_sdk::Event>();
    let mut paths = Map::new();
    for op in &b.ops {
        let item = paths
            .entry(op.path)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("object");
        item.insert(op.method.to_owned(), operation(op, &error));
    }
    paths.insert("/healthz".into(), json!({"get": {"tags": ["operations"], "summary": "Liveness", "security": [], "responses": {"200": {"description": "alive"}}}}));
    paths.insert("/readyz".into(), json!({"get": {"tags": ["operations"], "summary": "Readiness: the database answers", "security": [], "responses": {"200": {"description": "ready"}, "500": {"description": "not ready"}}}}));
    paths.insert("/api/openapi.json".into(), json!({"get": {"tags": ["operations"], "summary": "This document", "security": [], "responses": {"200": {"description": "OpenAPI 3.1"}}}}));

    let schemas = b.generator.take_definitions(true);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Sevenoways Relay API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Send WhatsApp messages over HTTP. Every POST takes application/json or \
                application/x-www-form-urlencoded (lists as groupIds[]=A&groupIds[]=B or a repeated key; \
                booleans as true|1|on). Every error is {\"success\":false,\"error\":\"...\"}; a 400's message \
                starts with the field name. Send endpoints are limited to 60 requests per minute per API key."
        },
        "servers": [{"url": "https://sevenoways.app"}, {"url": "http://127.0.0.1:8080", "description": "local sevenoways-server"}],
        "security": [{"apiKey": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}},
            "schemas": schemas,
        },
    })
}

fn operation(op: &Op, error: &Schema) -> Value {
    let envelope = json!({"allOf": [
        {"type": "object", "required": ["success"], "properties": {"success": {"const": true}}},
        op.response,
    ]});
    let err = |description: &str| json!({"description": description, "content": {"application/json": {"schema": error}}});
    let mut responses = Map::new();
    responses.insert(
        "200".into(),
        json!({"description": "success", "content": {"application/json": {"schema": envelope}}}),
    );
    if op.body.is_some() {
        responses.insert(
            "400".into(),
            err("a field is invalid; the message starts with its name"),
        );
        responses.insert("413".into(), err("body too large"));
        responses.insert("415".into(), err("neither JSON nor form-urlencoded"));
    }
    responses.insert("401".into(), err("missing or invalid x-api-key"));
    responses.insert("404".into(), err("not found for this API key"));
    if op.path.starts_with("/api/send") {
        responses.insert(
            "429".into(),
            err("rate limit or message cap; see Retry-After"),
        );
    }
    let mut value = json!({
        "tags": [op.tag],
        "summary": op.summary,
        "operationId": operation_id(op),
        "responses": responses,
    });
    let params: Vec<Value> = op
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    if !params.is_empty() {
        value["parameters"] = Value::Array(params);
    }
    if let Some(body) = &op.body {
        value["requestBody"] = json!({"required": true, "content": {
            "application/json": {"schema": body},
            "application/x-www-form-urlencoded": {"schema": body},
        }});
    }
    value
}

/// `send-number-image` → `sendNumberImage`, prefixed by the method for non-POSTs.
fn operation_id(op: &Op) -> String {
    let words: Vec<&str> = op
        .path
        .trim_start_matches("/api/")
        .split(['/', '-'])
        .filter(|w| !w.is_empty() && !w.starts_with('{'))
        .collect();
    let mut id = String::from(op.method);
    for w in words {
        let mut c = w.chars();
        if let Some(first) = c.next() {
            id.extend(first.to_uppercase());
            id.push_str(c.as_str());
        }
    }
    id
}

/// `GET /api/openapi.json`.
pub async fn serve() -> Json<Value> {
    Json(document())
}
