//! `GET /api/openapi.json`: an OpenAPI 3.1 description built from the SDK's types.
//!
//! The operations are the SDK's own list ([`sevenoways_sdk::endpoint::OPERATIONS`], visited
//! with their types), so every route, method and schema here is the one the router
//! registers and the client calls: nothing is written twice. Schemas come from `schemars`
//! derives on the very structs the handlers parse and answer. A committed snapshot
//! (`tests/it/openapi.rs`) shows every contract change in review.

use axum::Json;
use schemars::generate::SchemaSettings;
use schemars::{Schema, SchemaGenerator};
use serde_json::{Map, Value, json};
use sevenoways_sdk::endpoint::{self, Method, Operation};
use sevenoways_sdk::{Endpoint, ErrorBody};

use super::{HEALTHZ, OPENAPI, READYZ};

/// One operation of the document.
struct Op {
    op: Operation,
    body: Option<Schema>,
    response: Schema,
}

struct Builder {
    generator: SchemaGenerator,
    ops: Vec<Op>,
}

impl endpoint::Visitor for Builder {
    fn visit<E: Endpoint>(&mut self, op: Operation) {
        // Every POST takes a body (an empty object at least); GET and DELETE take none.
        let body = (E::METHOD == Method::Post).then(|| self.generator.subschema_for::<E::Body>());
        let response = self.generator.subschema_for::<E::Response>();
        self.ops.push(Op { op, body, response });
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
    endpoint::visit_all(&mut b);

    let error = b.generator.subschema_for::<ErrorBody>();
    // Every webhook POST carries one of these, signed: X-Webhook-Signature: sha256=<hex>.
    b.generator.subschema_for::<sevenoways_sdk::Event>();
    let mut paths = Map::new();
    for op in &b.ops {
        let item = paths
            .entry(op.op.route)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("object");
        item.insert(
            op.op.method.as_str().to_ascii_lowercase(),
            operation(op, &error),
        );
    }
    paths.insert(HEALTHZ.into(), json!({"get": {"tags": ["operations"], "summary": "Liveness", "security": [], "responses": {"200": {"description": "alive"}}}}));
    paths.insert(READYZ.into(), json!({"get": {"tags": ["operations"], "summary": "Readiness: the database answers", "security": [], "responses": {"200": {"description": "ready"}, "500": {"description": "not ready"}}}}));
    paths.insert(OPENAPI.into(), json!({"get": {"tags": ["operations"], "summary": "This document", "security": [], "responses": {"200": {"description": "OpenAPI 3.1"}}}}));

    let schemas = b.generator.take_definitions(true);
    let mut doc = json!({
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
    });
    super::idempotency::describe(&mut doc);
    doc
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
    if op.op.route.starts_with("/api/send") {
        responses.insert(
            "429".into(),
            err("rate limit or message cap; see Retry-After"),
        );
    }
    let mut value = json!({
        "tags": [op.op.tag],
        "summary": op.op.summary,
        "operationId": operation_id(op),
        "responses": responses,
    });
    let params: Vec<Value> = op
        .op
        .route
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
        .op
        .route
        .trim_start_matches("/api/")
        .split(['/', '-'])
        .filter(|w| !w.is_empty() && !w.starts_with('{'))
        .collect();
    let mut id = op.op.method.as_str().to_ascii_lowercase();
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
