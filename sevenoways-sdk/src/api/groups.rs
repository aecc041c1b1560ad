//! The groups of a paired number: `client.groups()`.

use crate::Client;
use crate::error::Result;
use crate::ids::InstanceId;
use crate::models::groups::{GroupList, ListGroups};
use crate::page::PageParams;

/// The groups of a paired number. Get one with [`Client::groups`].
#[derive(Debug)]
pub struct GroupsApi<'a> {
    pub(crate) client: &'a Client,
}

impl GroupsApi<'_> {
    /// `GET /api/instances/{id}/groups` ([`ListGroups`]): every group of the number, by
    /// name, fetching as many pages as that takes.
    pub async fn list(&self, instance: &InstanceId) -> Result<GroupList> {
        self.client
            .list_all(self.request(instance, &PageParams::default()))
            .await
    }

    /// One page of `GET /api/instances/{id}/groups`; its `next_cursor` asks for the next.
    pub async fn list_page(&self, instance: &InstanceId, page: &PageParams) -> Result<GroupList> {
        self.client.call(&self.request(instance, page)).await
    }

    fn request(&self, instance: &InstanceId, page: &PageParams) -> ListGroups {
        ListGroups {
            instance_id: instance.clone(),
            page: page.clone(),
        }
    }
}
