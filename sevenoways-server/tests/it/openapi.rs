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
