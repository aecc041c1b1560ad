//! The OpenAPI document: a committed snapshot, so every contract change shows in review,
//! and checks that it describes what the server routes.

use sevenoways_server::routes::openapi::document;

#[test]
fn openapi_snapshot() {
    insta::assert_json_snapshot!("openapi", document());
}

#[test]
fn every_documented_endpoint_is_described() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    // The published contract, path by path (../shared/spec/api.md).
    for (method, path) in [
        ("get", "/api/instances"),
        ("post", "/api/instances"),
        ("delete", "/api/instances/{id}"),
        ("get", "/api/instances/{id}/qr"),
        ("get", "/api/instances/{id}/groups"),
        ("post", "/api/send"),
        ("post", "/api/send-image"),
        ("post", "/api/send-document"),
        ("post", "/api/send-number"),
        ("post", "/api/send-number-image"),
        ("post", "/api/send-number-document"),
        ("post", "/api/send-to-community"),
        ("post", "/api/send-image-to-community"),
        ("post", "/api/send-document-to-community"),
        ("get", "/api/channels"),
        ("post", "/api/channels"),
        ("delete", "/api/channels/{id}"),
        ("post", "/api/send-to-channel"),
        ("post", "/api/send-image-to-channel"),
        ("post", "/api/send-document-to-channel"),
        ("get", "/api/schedules"),
        ("post", "/api/schedules"),
        ("delete", "/api/schedules/{id}"),
        // Ours, beyond the documentation (issue 4): usage, webhooks, the sandbox.
        ("get", "/api/usage"),
        ("get", "/api/webhooks"),
        ("post", "/api/webhooks"),
        ("delete", "/api/webhooks/{id}"),
        ("post", "/api/webhooks/{id}/test"),
        ("get", "/api/webhooks/{id}/deliveries"),
        ("get", "/api/webhooks/{id}/deliveries/{deliveryId}"),
        (
            "post",
            "/api/webhooks/{id}/deliveries/{deliveryId}/redeliver",
        ),
        ("post", "/api/sandbox/instances/{id}/pair"),
        ("post", "/api/sandbox/instances/{id}/unpair"),
        ("post", "/api/sandbox/instances/{id}/groups"),
        ("post", "/api/sandbox/instances/{id}/inbound"),
        ("get", "/api/sandbox/outbox"),
    ] {
        let op = &paths.get(path).unwrap_or_else(|| panic!("{path} missing"))[method];
        assert!(op.is_object(), "{method} {path} missing");
        if method == "post" {
            let content = &op["requestBody"]["content"];
            assert!(
                content["application/json"].is_object()
                    && content["application/x-www-form-urlencoded"].is_object(),
                "{path}"
            );
        }
    }
    // Field names are the documentation's.
    let schemas = &doc["components"]["schemas"];
    let props = |name: &str| -> Vec<String> {
        schemas[name]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{name}"))
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(
        props("SendRequest"),
        ["instanceId", "groupIds", "groups", "sendAll", "message"]
    );
    assert_eq!(
        props("SendNumberDocumentRequest"),
        ["instanceId", "phone", "fileUrl", "filename", "mimetype"]
    );
    assert_eq!(
        props("SendToCommunityRequest"),
        ["instanceId", "communityId", "message"]
    );
    assert_eq!(
        props("Channel"),
        [
            "id",
            "channelJid",
            "name",
            "description",
            "subscribers",
            "isAdmin",
            "inviteLink",
            "instanceId"
        ]
    );
    assert!(props("CreateScheduleRequest").starts_with(&[
        "instanceId".into(),
        "label".into(),
        "cronExpr".into(),
        "timezone".into()
    ]));
    assert!(props("Queued").contains(&"queueId".to_string()));
    assert!(schemas["ErrorBody"].is_object());
    assert!(
        schemas["Event"].is_object(),
        "the webhook body is described"
    );
}

/// What the external run found undocumented is now declared: 409 on creating an
/// instance, 400 on the outbox without `instanceId`, the QR code's media types, 429 with
/// `Retry-After` and the documented body on every send (and only there), links from each
/// create, unique operation ids.
#[test]
fn statuses_media_types_and_links_are_declared() {
    let doc = document();
    let paths = doc["paths"].as_object().unwrap();
    let op = |method: &str, path: &str| paths[path][method].clone();
    assert!(op("post", "/api/instances")["responses"]["409"].is_object());
    // What the engines add: 502 when one fails, 422 for what one can never do.
    assert!(op("post", "/api/instances")["responses"]["502"].is_object());
    assert!(op("delete", "/api/instances/{id}")["responses"]["502"].is_object());
    assert!(op("post", "/api/send")["responses"]["422"].is_object());
    let refresh = op("post", "/api/instances/{id}/groups/refresh");
    for status in ["404", "409", "422", "502"] {
        assert!(refresh["responses"][status].is_object(), "refresh {status}");
    }
    assert!(op("get", "/api/instances/{id}/qr")["responses"]["409"].is_object());
    assert!(op("get", "/api/sandbox/outbox")["responses"]["400"].is_object());
    let outbox_params = op("get", "/api/sandbox/outbox")["parameters"].clone();
    assert_eq!(outbox_params[0]["name"], "instanceId");
    assert_eq!(outbox_params[0]["required"], true);
    let qr = op("get", "/api/instances/{id}/qr");
    let types: Vec<&String> = qr["responses"]["200"]["content"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(
        types,
        [
            "application/json",
            "text/html",
            "image/png",
            "image/svg+xml"
        ]
    );
    assert_eq!(qr["security"][1], serde_json::json!({"qrToken": []}));
    let pair = op("post", "/api/sandbox/instances/{id}/pair");
    assert_eq!(
        pair["security"][1],
        serde_json::json!({"sandboxPairToken": []})
    );

    let mut ids = std::collections::HashSet::new();
    let mut limited = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            assert!(
                ids.insert(op["operationId"].as_str().unwrap().to_owned()),
                "{method} {path}: duplicate operationId {}",
                op["operationId"]
            );
            let too_many = &op["responses"]["429"];
            let send = path.starts_with("/api/send");
            let manual = path.ends_with("/test") || path.ends_with("/redeliver");
            assert_eq!(too_many.is_object(), send || manual, "{method} {path}");
            if too_many.is_object() {
                limited += 1;
                assert_eq!(too_many["headers"]["Retry-After"]["required"], true);
                // The send limit's documented message is the example of the sends' 429 only.
                let example = &too_many["content"]["application/json"]["example"]["error"];
                if send {
                    assert_eq!(example, sevenoways_sdk::RATE_LIMIT_MESSAGE);
                } else {
                    assert!(example.is_null(), "{method} {path}");
                }
            }
            for status in ["401", "408", "500", "503"] {
                if path.starts_with("/api/") && path != "/api/openapi.json" {
                    assert!(
                        op["responses"][status].is_object(),
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }
    assert_eq!(
        limited, 14,
        "the twelve send endpoints, webhook test and redeliver"
    );
    let unavailable = &op("get", "/api/instances")["responses"]["503"];
    assert_eq!(unavailable["headers"]["Retry-After"]["required"], true);
    let ready = &paths["/readyz"]["get"]["responses"]["503"];
    assert_eq!(ready["headers"]["Retry-After"]["required"], true);

    // Each list's cursor is of that list's form only.
    for (path, tag) in [
        ("/api/instances", "instances"),
        ("/api/webhooks/{id}/deliveries", "deliveries"),
        ("/api/sandbox/outbox", "outbox"),
    ] {
        let params = op("get", path)["parameters"].clone();
        let cursor = params
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "cursor")
            .unwrap_or_else(|| panic!("GET {path} takes a cursor"))
            .clone();
        let pattern = cursor["schema"]["pattern"].as_str().unwrap();
        assert!(
            pattern.starts_with(&format!("^{tag}\\.")),
            "{path}: {pattern}"
        );
    }

    for (path, links) in [
        (
            "/api/instances",
            ["getQr", "listGroups", "deleteInstance"].as_slice(),
        ),
        ("/api/schedules", &["deleteSchedule", "resumeSchedule"]),
        ("/api/channels", &["removeChannel"]),
        (
            "/api/webhooks",
            &[
                "deleteWebhook",
                "testWebhook",
                "listDeliveries",
                "enableWebhook",
                "rotateWebhookSecret",
            ],
        ),
        ("/api/send", &["getQueueEntry"]),
    ] {
        let declared = &op("post", path)["responses"]["200"]["links"];
        for l in links {
            assert!(declared[l].is_object(), "POST {path} links to {l}");
        }
    }
    // A POST that takes no fields may send no body; one that takes fields must.
    assert_eq!(
        op("post", "/api/sandbox/instances/{id}/pair")["requestBody"]["required"],
        false
    );
    assert_eq!(op("post", "/api/send")["requestBody"]["required"], true);
    // One whose fields are all optional may too (`{}` asks for a generated secret).
    assert_eq!(
        op("post", "/api/webhooks/{id}/rotate-secret")["requestBody"]["required"],
        false
    );

    // Each event is described with its own `data`, and with both signatures' headers.
    let webhooks = doc["webhooks"].as_object().unwrap();
    for name in sevenoways_sdk::models::webhooks::SUBSCRIBABLE_EVENTS
        .iter()
        .chain([&sevenoways_sdk::models::webhooks::TEST_EVENT])
    {
        let post = &webhooks[*name]["post"];
        let headers: Vec<&str> = post["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        for h in [
            "X-Webhook-Signature",
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature",
        ] {
            assert!(headers.contains(&h), "{name}: {h}");
        }
        let body = &post["requestBody"]["content"]["application/json"]["schema"];
        assert_eq!(body["allOf"][1]["properties"]["event"]["const"], *name);
    }
}

/// A server documents the engines it has configured, and no other: asking one without
/// `[engines.waha]` for a WAHA number is a 400 its own document predicts.
#[tokio::test]
async fn the_served_document_lists_the_configured_engines() {
    use sevenoways_server::engine::EngineKind;
    let all = document();
    assert_eq!(
        all["components"]["schemas"]["EngineChoice"]["enum"],
        serde_json::json!(["sandbox", "waha", "meta"])
    );
    let only = sevenoways_server::routes::openapi::document_for(&[EngineKind::Sandbox]);
    assert_eq!(
        only["components"]["schemas"]["EngineChoice"]["enum"],
        serde_json::json!(["sandbox"])
    );
    let t = sevenoways_server::testing::start().await;
    let served: serde_json::Value = reqwest::get(format!("{}/api/openapi.json", t.base()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served, only);
    t.shutdown().await;
}
