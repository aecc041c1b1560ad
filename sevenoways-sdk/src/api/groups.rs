use crate::Client;
use crate::client::segment;
use crate::error::Result;
use crate::ids::InstanceId;
use crate::models::groups::GroupList;

/// The groups of a paired number. Get one with [`Client::groups`].
#[derive(Debug)]
pub struct GroupsApi<'a> {
    pub(crate) client: &'a Client,
}

impl GroupsApi<'_> {
    /// `GET /api/instances/:id/groups`.
    pub async fn list(&self, instance: &InstanceId) -> Result<GroupList> {
        self.client
            .get(&format!(
                "/api/instances/{}/groups",
                segment(instance.as_str())
            ))
            .await
    }
}
