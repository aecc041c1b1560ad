//! The groups of a paired number: `client.groups()`.

use crate::Client;
use crate::error::Result;
use crate::ids::InstanceId;
use crate::models::groups::{GroupList, ListGroups, RefreshGroups};

/// The groups of a paired number. Get one with [`Client::groups`].
#[derive(Debug)]
pub struct GroupsApi<'a> {
    pub(crate) client: &'a Client,
}

impl GroupsApi<'_> {
    /// `GET /api/instances/{id}/groups` ([`ListGroups`]).
    pub async fn list(&self, instance: &InstanceId) -> Result<GroupList> {
        let req = ListGroups {
            instance_id: instance.clone(),
        };
        self.client.call(&req).await
    }

    /// `POST /api/instances/{id}/groups/refresh` ([`RefreshGroups`]): reads the number's
    /// groups from its engine again and returns them.
    pub async fn refresh(&self, instance: &InstanceId) -> Result<GroupList> {
        let req = RefreshGroups {
            instance_id: instance.clone(),
        };
        self.client.call(&req).await
    }
}
