//! Sends to communities (`/api/send-*community`), through [`super::messages::send`].

use axum::Router;
use sevenoways_sdk::Endpoint;
use sevenoways_sdk::models::communities::{
    SendDocumentToCommunityRequest, SendImageToCommunityRequest, SendToCommunityRequest,
};

use super::messages::post_send;
use crate::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            SendToCommunityRequest::ROUTE,
            post_send::<SendToCommunityRequest>(),
        )
        .route(
            SendImageToCommunityRequest::ROUTE,
            post_send::<SendImageToCommunityRequest>(),
        )
        .route(
            SendDocumentToCommunityRequest::ROUTE,
            post_send::<SendDocumentToCommunityRequest>(),
        )
}
