//! `GET /api/openapi.json`: an OpenAPI 3.1 description built from the SDK's types.
//!
//! The operations are the SDK's own list ([`sevenoways_sdk::endpoint::OPERATIONS`], visited
//! with their types), so every route, method and schema here is the one the router
//! registers and the client calls: nothing is written twice. Schemas come from `schemars`
//! on the very types the handlers parse and answer, and each validating type states its
//! own rule (pattern, lengths, enum) next to the code that checks it.
//!
//! What each operation can answer is worked out from its shape and completed by its
//! [`Endpoint`] metadata, declared once beside the endpoint type in the SDK:
//!
//! - every operation: `200`, `401`, `408` (the request timeout), `500`, and `503` with
//!   `Retry-After` (the store cannot take writes, as on a full disk);
//! - every `POST`, which reads a body: `400`, `413`, `415`; a route with `{…}`: `404`;
//! - [`Endpoint::ANSWERS`]: the rest (`404` for an id in the body, `409`, `429` with
//!   `Retry-After`, `400` for query parameters, ...), each with when it happens;
//! - [`Endpoint::ALSO_ANSWERS_AS`], [`Endpoint::EXAMPLES`], [`Endpoint::LINKS`],
//!   [`Endpoint::AUTH`], [`Endpoint::query_schema`] and [`Endpoint::path_schemas`].
//!
//! A form body is described by the JSON body's schema without `null` (a form has no
//! null: leave the field out). A committed snapshot (`tests/it/openapi.rs`) shows every
//! contract change in review, and `tests/it/openapi_conformance.rs` runs Schemathesis
//! and Redocly against it.

use axum::extract::State;
use schemars::generate::SchemaSettings;
use schemars::{Schema, SchemaGenerator};
use serde_json::{Map, Value, json};
use sevenoways_sdk::endpoint::{
    self, Answer, Auth, Example, Link, MediaType, Method, OPERATIONS, Operation,
};
use sevenoways_sdk::models::webhooks::{SUBSCRIBABLE_EVENTS, TEST_EVENT};
use sevenoways_sdk::page::MAX_CURSOR_CHARS;
use sevenoways_sdk::{Endpoint, ErrorBody, RATE_LIMIT_MESSAGE};

use super::{HEALTHZ, OPENAPI, READYZ};
use crate::AppState;
use crate::auth::qr_token::PAIR_TOKEN_HEADER;
use crate::engine::EngineKind;
use crate::store::ListKind;

/// One operation of the document, with what its endpoint type declares.
struct Op {
    op: Operation,
    body: Option<Schema>,
    /// Whether the body has a required field (so an absent body is a 400).
    body_required: bool,
    response: Schema,
    path: Option<Vec<Schema>>,
    query: Option<Schema>,
    answers: &'static [Answer],
    media: &'static [MediaType],
    examples: &'static [Example],
    links: &'static [Link],
    auth: Auth,
}

struct Builder {
    generator: SchemaGenerator,
    ops: Vec<Op>,
}

impl endpoint::Visitor for Builder {
    fn visit<E: Endpoint>(&mut self, op: Operation) {
        // Every POST reads a body (an empty one at least); GET and DELETE read none.
        let body = (E::METHOD == Method::Post).then(|| self.generator.subschema_for::<E::Body>());
        // An absent body reads as `{}`: it is refused only where a field is required.
        let body_required = body.is_some()
            && self
                .generator
                .root_schema_for::<E::Body>()
                .get("required")
                .and_then(Value::as_array)
                .is_some_and(|r| !r.is_empty());
        let response = self.generator.subschema_for::<E::Response>();
        let path = E::path_schemas(&mut self.generator);
        let query = E::query_schema(&mut self.generator);
        self.ops.push(Op {
            op,
            body,
            body_required,
            response,
            path,
            query,
            answers: E::ANSWERS,
            media: E::ALSO_ANSWERS_AS,
            examples: E::EXAMPLES,
            links: E::LINKS,
            auth: E::AUTH,
        });
    }
}

/// Descriptions of the statuses the document works out itself.
fn derived_answers(op: &Op) -> Vec<Answer> {
    let mut out = Vec::new();
    if op.body.is_some() || op.query.is_some() {
        out.push(Answer::new(
            400,
            "A field or parameter is invalid or missing; the message starts with its name \
             (`phone: expected digits only, …`).",
        ));
    }
    out.push(Answer::new(
        401,
        "The x-api-key header is missing or names no key.",
    ));
    if op.op.route.contains('{') {
        out.push(Answer::new(
            404,
            "Nothing with that id for this API key (another key's ids are not found either).",
        ));
    }
    out.push(Answer::new(
        408,
        "The request (its body included) took longer than the server's request timeout.",
    ));
    if op.body.is_some() {
        out.push(Answer::new(
            413,
            "The body is larger than the server's limit (64 KiB by default).",
        ));
        out.push(Answer::new(
            415,
            "The Content-Type is neither application/json nor application/x-www-form-urlencoded.",
        ));
    }
    out.push(Answer::new(
        500,
        "The server failed (its log has the details); nothing was accepted.",
    ));
    out.push(UNAVAILABLE);
    out
}

/// Every operation reads or writes the store (the key is looked up there first).
const UNAVAILABLE: Answer = Answer::new(
    503,
    "The storage cannot take this now (a full disk, or the database is being restarted); \
     nothing was stored. Retry-After says when to try again.",
);

/// The `Retry-After` header of a 429 or 503.
fn retry_after() -> Value {
    json!({"Retry-After": {
        "required": true,
        "description": "Seconds until a retry can succeed.",
        "schema": {"type": "integer", "minimum": 1},
    }})
}

/// The whole document.
pub fn document() -> Value {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    let mut b = Builder {
        generator: settings.into_generator(),
        ops: Vec::new(),
    };
    endpoint::visit_all(&mut b);

    let error = b.generator.subschema_for::<ErrorBody>();
    let event = b.generator.subschema_for::<sevenoways_sdk::Event>();
    let mut paths = Map::new();
    let mut form_bodies = Vec::new();
    for op in &b.ops {
        let item = paths
            .entry(op.op.route)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("object");
        item.insert(
            op.op.method.as_str().to_ascii_lowercase(),
            operation(op, &error, &mut form_bodies),
        );
    }
    let status = |s: &str| {
        json!({"type": "object", "required": ["success", "status"], "properties": {
            "success": {"const": true}, "status": {"const": s}}})
    };
    let timeout = json!({"description": "The request took longer than the server's request timeout.",
        "content": {"application/json": {"schema": error}}});
    paths.insert(HEALTHZ.into(), json!({"get": {
        "tags": ["operations"], "summary": "Liveness: the process serves HTTP", "operationId": "healthz",
        "security": [],
        "responses": {
            "200": {"description": "alive", "content": {"application/json": {"schema": status("ok")}}},
            "408": timeout,
        }}}));
    let mut ready = status("ready");
    ready["required"] = json!(["success", "status", "loops"]);
    ready["properties"]["loops"] = json!({
        "type": "object",
        "description": "Each background loop (queue, scheduler, webhooks, ...): whether it runs, and how often it was restarted.",
        "additionalProperties": {"type": "object", "required": ["running", "restarts"], "properties": {
            "running": {"type": "boolean"}, "restarts": {"type": "integer", "minimum": 0}}},
    });
    paths.insert(READYZ.into(), json!({"get": {
        "tags": ["operations"], "summary": "Readiness: every background loop runs and the store takes writes", "operationId": "readyz",
        "security": [],
        "responses": {
            "200": {"description": "ready", "content": {"application/json": {"schema": ready}}},
            "408": timeout,
            "500": {"description": "The server failed (its log has the details).", "content": {"application/json": {"schema": error}}},
            "503": {"description": "Not ready: a background loop is down, or the store cannot take writes (a full disk); the message says which.",
                "headers": retry_after(),
                "content": {"application/json": {"schema": error}}},
        }}}));
    paths.insert(OPENAPI.into(), json!({"get": {
        "tags": ["operations"], "summary": "This document", "operationId": "openapi", "security": [],
        "responses": {
            "200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}},
            "408": timeout,
        }}}));

    let mut schemas = b.generator.take_definitions(true);
    for name in form_bodies {
        if let Some(json_schema) = schemas.get(&name) {
            let form = form_schema(json_schema.clone());
            schemas.insert(format!("{name}Form"), form);
        }
    }

    let mut webhooks = Map::new();
    for name in SUBSCRIBABLE_EVENTS.iter().copied().chain([TEST_EVENT]) {
        let body = event_body(name, &event, &mut b.generator);
        webhooks.insert(name.into(), webhook(name, body));
    }
    schemas.extend(b.generator.take_definitions(true));

    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Sevenoways Relay API",
            "version": env!("CARGO_PKG_VERSION"),
            "license": {"name": env!("CARGO_PKG_LICENSE"), "identifier": env!("CARGO_PKG_LICENSE")},
            "description": "Send WhatsApp messages over HTTP. Every POST takes application/json or \
                application/x-www-form-urlencoded (lists as groupIds[]=A&groupIds[]=B or a repeated key; \
                booleans as true|1|on). Every error is {\"success\":false,\"error\":\"...\"}; a 400's message \
                starts with the field name. Send endpoints are limited to 60 requests per minute per API key.\n\n\
                Values are checked exactly as sent: surrounding white space is not trimmed, and ids, \
                group ids and URLs are strings (only `phone` also takes a JSON number, as spreadsheets \
                send it). A list field also takes a single value, and a boolean also takes \
                true|false|1|0|on|off|yes|no as text, so JSON and form bodies read alike. `null` is the \
                same as leaving an optional field out. Unknown fields are ignored, except by the POSTs \
                that take no fields, which refuse any. GET and DELETE ignore a body."
        },
        "servers": [{"url": "https://sevenoways.app"}, {"url": "http://127.0.0.1:8080", "description": "local sevenoways-server"}],
        "security": [{"apiKey": []}],
        "tags": tags(),
        "paths": paths,
        "webhooks": webhooks,
        "components": {
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                "qrToken": {"type": "apiKey", "in": "query", "name": "token",
                    "description": "The token of a QR link (qrUrl of POST /api/instances): opens that instance's pairing page without the API key, for 30 minutes."},
                "sandboxPairToken": {"type": "apiKey", "in": "header", "name": PAIR_TOKEN_HEADER,
                    "description": "The pairing token of a sandbox instance (the #pair= fragment of sandboxPairUrl in the POST /api/instances answer): the QR page's scan button sends it, for 10 minutes."},
            },
            "schemas": schemas,
        },
    });
    super::idempotency::describe(&mut doc);
    doc
}

/// The tags, in the order the operations first use them, with what each resource is.
fn tags() -> Vec<Value> {
    let describe = |tag: &str| match tag {
        "instances" => "The WhatsApp numbers of an account, paired by scanning a QR code.",
        "groups" => "The groups a paired number belongs to.",
        "messages" => "Sends to groups and phone numbers; each answers a queueId.",
        "communities" => "Sends to communities (…@newsletter) the number is a member of.",
        "channels" => "Saved channels (newsletters) and sends to them.",
        "schedules" => "Messages sent on a cron schedule in an IANA time zone.",
        "queue" => "Where an accepted message is.",
        "sandbox" => "The sandbox transport's simulated phone (development only).",
        "usage" => "The key's rate limit and message caps.",
        "webhooks" => "Subscriptions to the signed events the server POSTs.",
        "operations" => "Health and this document.",
        _ => "",
    };
    let mut seen: Vec<&str> = Vec::new();
    for op in OPERATIONS {
        if !seen.contains(&op.tag) {
            seen.push(op.tag);
        }
    }
    seen.push("operations");
    seen.into_iter()
        .map(|t| json!({"name": t, "description": describe(t)}))
        .collect()
}

/// The body of the `name` event: the common envelope with that name and its own `data`.
fn event_body(name: &str, event: &Schema, generator: &mut SchemaGenerator) -> Value {
    use sevenoways_sdk::models::schedules::{SCHEDULE_EVENT_TYPES, ScheduleEvent};
    use sevenoways_sdk::models::webhooks::{
        InstanceEvent, MessageEvent, MessageFailed, MessageReceived, WEBHOOK_DISABLED_EVENT,
        WebhookDisabled,
    };
    let data = match name {
        "message.sent" | "message.delivered" | "message.read" => {
            generator.subschema_for::<MessageEvent>().to_value()
        }
        "message.failed" => generator.subschema_for::<MessageFailed>().to_value(),
        "message.received" => generator.subschema_for::<MessageReceived>().to_value(),
        "instance.online" | "instance.offline" => {
            generator.subschema_for::<InstanceEvent>().to_value()
        }
        n if n == WEBHOOK_DISABLED_EVENT => generator.subschema_for::<WebhookDisabled>().to_value(),
        n if SCHEDULE_EVENT_TYPES.contains(&n) => {
            generator.subschema_for::<ScheduleEvent>().to_value()
        }
        _ => json!({"type": "object", "required": ["webhookId", "message"], "properties": {
            "webhookId": {"type": "string"}, "message": {"type": "string"}}}),
    };
    json!({"allOf": [event, {"properties": {"event": {"const": name}, "data": data}}]})
}

/// The document's entry for a webhook event: the signed POST the server sends.
fn webhook(name: &str, body: Value) -> Value {
    use sevenoways_sdk::signature::{
        ID_HEADER, SIGNATURE_HEADER, STANDARD_ID_HEADER, STANDARD_SIGNATURE_HEADER,
        STANDARD_TIMESTAMP_HEADER, TIMESTAMP_HEADER,
    };
    // `message.sent` → `onMessageSent`.
    let id: String = std::iter::once("on".to_owned())
        .chain(name.split('.').map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        }))
        .collect();
    let seconds = json!({"type": "string", "pattern": "^[0-9]{1,12}$"});
    json!({"post": {
        "operationId": id,
        "summary": format!("The `{name}` event"),
        "description": "POSTed to every subscription whose events include it (POST /api/webhooks; \
            `webhook.test` only by POST /api/webhooks/{id}/test), retried with backoff for 3 days \
            until the receiver answers 2xx. Signed twice: X-Webhook-Signature (the documented \
            receiver's HMAC of the body) and the Standard Webhooks headers (webhook-id, \
            webhook-timestamp, webhook-signature), which stock Standard Webhooks libraries verify.",
        "parameters": [
            {"name": SIGNATURE_HEADER, "in": "header", "required": true, "schema": {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"},
             "description": "sha256=<hex>: HMAC-SHA256 of the exact body with the subscription's (current) secret."},
            {"name": ID_HEADER, "in": "header", "required": true, "schema": {"type": "string"},
             "description": "The event id, the same on every retry: deduplicate by it."},
            {"name": TIMESTAMP_HEADER, "in": "header", "required": true, "schema": seconds,
             "description": "When this attempt was sent (Unix seconds)."},
            {"name": STANDARD_ID_HEADER, "in": "header", "required": true, "schema": {"type": "string"},
             "description": "Standard Webhooks: the event id (the same as X-Webhook-Id)."},
            {"name": STANDARD_TIMESTAMP_HEADER, "in": "header", "required": true, "schema": seconds,
             "description": "Standard Webhooks: the attempt's Unix time in seconds, covered by the signature; refuse one more than 5 minutes off."},
            {"name": STANDARD_SIGNATURE_HEADER, "in": "header", "required": true,
             "schema": {"type": "string", "pattern": "^v1,[A-Za-z0-9+/]{43}=( v1,[A-Za-z0-9+/]{43}=)*$"},
             "description": "Standard Webhooks: v1,<base64 HMAC-SHA256 of id.timestamp.body>, space-separated when two secrets sign (for 24 hours after POST /api/webhooks/{id}/rotate-secret)."},
        ],
        "requestBody": {"required": true, "content": {"application/json": {"schema": body}}},
        "responses": {"2XX": {"description": "Received; any other answer is retried."}},
        "security": [],
    }})
}

/// `SendNumberImageRequest` → `sendNumberImage`: the endpoint type's name, without
/// `Request`, in lower camel case. Type names are unique, so ids are too.
fn operation_id(name: &str) -> String {
    let name = name.strip_suffix("Request").unwrap_or(name);
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_ascii_lowercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// The operation id of the operation at `method route`.
fn operation_id_at(method: Method, route: &str) -> String {
    let op = OPERATIONS
        .iter()
        .find(|o| o.method == method && o.route == route)
        .expect("a link names a listed operation");
    operation_id(op.name)
}

fn operation(op: &Op, error: &Schema, form_bodies: &mut Vec<String>) -> Value {
    let envelope = json!({"allOf": [
        {"type": "object", "required": ["success"], "properties": {"success": {"const": true}}},
        op.response,
    ]});
    let mut content = Map::new();
    content.insert("application/json".into(), json!({"schema": envelope}));
    for m in op.media {
        let schema = if m.binary {
            json!({"type": "string", "contentMediaType": m.mime})
        } else {
            json!({"type": "string"})
        };
        content.insert(m.mime.into(), json!({"schema": schema}));
    }
    let mut success = json!({"description": success_description(op), "content": content});
    if !op.links.is_empty() {
        let mut links = Map::new();
        for l in op.links {
            let target = operation_id_at(l.method, l.route);
            let parameters: Map<String, Value> = l
                .parameters
                .iter()
                .map(|(name, value)| ((*name).to_owned(), json!(value)))
                .collect();
            links.insert(
                target.clone(),
                json!({"operationId": target, "parameters": parameters}),
            );
        }
        success["links"] = Value::Object(links);
    }

    let mut answers = derived_answers(op);
    for a in op.answers {
        match answers.iter_mut().find(|d| d.status == a.status) {
            Some(d) => *d = *a,
            None => answers.push(*a),
        }
    }
    answers.sort_by_key(|a| a.status);
    let mut responses = Map::new();
    responses.insert("200".into(), success);
    for a in &answers {
        let mut response =
            json!({"description": a.when, "content": {"application/json": {"schema": error}}});
        if a.status == 429 || a.status == 503 {
            response["headers"] = retry_after();
        }
        if *a == endpoint::RATE_LIMITED {
            response["content"]["application/json"]["example"] =
                json!({"success": false, "error": RATE_LIMIT_MESSAGE});
        }
        responses.insert(a.status.to_string(), response);
    }

    let mut value = json!({
        "tags": [op.op.tag],
        "summary": op.op.summary,
        "operationId": operation_id(op.op.name),
        "responses": responses,
    });
    match op.auth {
        Auth::ApiKey => {}
        Auth::ApiKeyOrQrToken => value["security"] = json!([{"apiKey": []}, {"qrToken": []}]),
        Auth::ApiKeyOrPairToken => {
            value["security"] = json!([{"apiKey": []}, {"sandboxPairToken": []}]);
        }
    }
    let mut params: Vec<Value> = Vec::new();
    let names = op
        .op
        .route
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')));
    for (i, name) in names.enumerate() {
        let schema = op
            .path
            .as_ref()
            .and_then(|s| s.get(i))
            .map_or_else(|| json!({"type": "string"}), |s| s.clone().to_value());
        params.push(json!({"name": name, "in": "path", "required": true, "schema": schema}));
    }
    if let Some(query) = &op.query {
        let required: Vec<&str> = query
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(props) = query.get("properties").and_then(Value::as_object) {
            for (name, schema) in props {
                let mut schema = schema.clone();
                let description = schema.as_object_mut().and_then(|o| o.remove("description"));
                let mut schema = strip_null(schema);
                if name == "cursor"
                    && let Some(list) = ListKind::ALL.into_iter().find(|l| l.route() == op.op.route)
                {
                    // Each list reads only cursors of its own form: the document says which.
                    schema = json!({"type": "string", "pattern": list.cursor_pattern(),
                        "maxLength": MAX_CURSOR_CHARS});
                }
                let mut param = json!({"name": name, "in": "query", "required": required.contains(&name.as_str()), "schema": schema});
                if let Some(d) = description {
                    param["description"] = d;
                }
                params.push(param);
            }
        }
    }
    if !params.is_empty() {
        value["parameters"] = Value::Array(params);
    }
    if let Some(body) = &op.body {
        let reference = body.get("$ref").and_then(Value::as_str);
        let form = match reference.and_then(|r| r.strip_prefix("#/components/schemas/")) {
            Some(name) => {
                form_bodies.push(name.to_owned());
                json!({"$ref": format!("#/components/schemas/{name}Form")})
            }
            None => form_schema(body.clone().to_value()),
        };
        let mut json_media = json!({"schema": body});
        if !op.examples.is_empty() {
            let mut examples = Map::new();
            for (i, e) in op.examples.iter().enumerate() {
                let value: Value = serde_json::from_str(e.json).expect("examples are JSON");
                examples.insert(
                    format!("example{}", i + 1),
                    json!({"summary": e.summary, "value": value}),
                );
            }
            json_media["examples"] = Value::Object(examples);
        }
        // A POST whose fields are all optional may send no body at all.
        value["requestBody"] = json!({"required": op.body_required, "content": {
            "application/json": json_media,
            "application/x-www-form-urlencoded": {"schema": form},
        }});
    }
    value
}

fn success_description(op: &Op) -> String {
    let mut s = String::from("Success: `{\"success\":true,…}`.");
    for m in op.media {
        s.push_str(&format!(" As {} {}.", m.mime, m.when));
    }
    s
}

/// A JSON body's schema as a form's: a form has no `null` (an optional field is left
/// out), so `null` alternatives go, and a property that must be `null` must be absent.
fn form_schema(mut value: Value) -> Value {
    form_object(&mut value);
    value
}

fn form_object(value: &mut Value) {
    let Some(obj) = value.as_object_mut() else {
        return;
    };
    if let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) {
        for prop in props.values_mut() {
            *prop = strip_null(prop.take());
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(items) = obj.get_mut(key).and_then(Value::as_array_mut) {
            items.iter_mut().for_each(form_object);
        }
    }
    if let Some(not) = obj.get_mut("not") {
        form_object(not);
    }
}

/// `schema` without its `null` alternative; `false` (absent) where only `null` was allowed.
fn strip_null(mut schema: Value) -> Value {
    if schema == json!({"type": "null"}) {
        return Value::Bool(false);
    }
    if let Some(obj) = schema.as_object_mut() {
        if let Some(types) = obj.get_mut("type").and_then(Value::as_array_mut) {
            types.retain(|t| t != "null");
            if types.len() == 1 {
                let only = types[0].clone();
                obj.insert("type".into(), only);
            }
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(items) = obj.get_mut(key).and_then(Value::as_array_mut) {
                items.retain(|s| s != &json!({"type": "null"}));
                if items.len() == 1 {
                    let only = items.remove(0);
                    obj.remove(key);
                    if obj.is_empty() {
                        return only;
                    }
                    obj.insert("allOf".into(), json!([only]));
                }
            }
        }
    }
    schema
}

/// The document as the server configured with `engines` serves it: `engine` of
/// `POST /api/instances` lists only those (another is a 400 there), so the document says
/// what this server accepts. [`document`] lists every engine.
pub fn document_for(engines: &[EngineKind]) -> Value {
    let mut doc = document();
    if let Some(choice) = doc.pointer_mut("/components/schemas/EngineChoice") {
        choice["enum"] = engines.iter().map(|e| json!(e.as_str())).collect();
    }
    doc
}

/// `GET /api/openapi.json`: the document depends only on which engines are configured, so
/// each variant is built and serialised once per process (it is large, and clients and
/// health checks fetch it often).
pub async fn serve(State(state): State<AppState>) -> impl axum::response::IntoResponse {
    static DOCUMENTS: [std::sync::OnceLock<axum::body::Bytes>; 1 << EngineKind::ALL.len()] =
        [const { std::sync::OnceLock::new() }; 1 << EngineKind::ALL.len()];
    let engines: Vec<EngineKind> = EngineKind::ALL
        .into_iter()
        .filter(|e| state.config.engine_configured(*e).is_ok())
        .collect();
    let variant = EngineKind::ALL
        .iter()
        .enumerate()
        .filter(|(_, e)| engines.contains(e))
        .fold(0, |bits, (i, _)| bits | 1 << i);
    let bytes = DOCUMENTS[variant].get_or_init(|| {
        serde_json::to_vec(&document_for(&engines))
            .expect("the document serialises")
            .into()
    });
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        bytes.clone(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_come_from_the_endpoint_types() {
        assert_eq!(operation_id("SendNumberImageRequest"), "sendNumberImage");
        assert_eq!(operation_id("GetDelivery"), "getDelivery");
        assert_eq!(operation_id("ListDeliveries"), "listDeliveries");
        let ids: std::collections::HashSet<String> =
            OPERATIONS.iter().map(|o| operation_id(o.name)).collect();
        assert_eq!(ids.len(), OPERATIONS.len(), "operation ids are unique");
    }

    #[test]
    fn a_form_schema_has_no_null() {
        let s =
            strip_null(json!({"anyOf": [{"$ref": "#/x"}, {"type": "null"}], "description": "d"}));
        assert_eq!(s, json!({"allOf": [{"$ref": "#/x"}], "description": "d"}));
        assert_eq!(
            strip_null(json!({"type": ["string", "null"]})),
            json!({"type": "string"})
        );
        assert_eq!(strip_null(json!({"type": "null"})), json!(false));
    }
}
