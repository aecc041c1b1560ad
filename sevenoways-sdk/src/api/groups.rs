//! The groups of a paired number: `client.groups()`.

use crate::Client;
use crate::error::Result;
use crate::ids::InstanceId;
use crate::models::groups::{GroupList, ListGroups, RefreshGroups};
use crate::page::{Page, PageParams};

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

    /// `POST /api/instances/{id}/groups/refresh` ([`RefreshGroups`]): reads the number's
    /// groups from its engine again and returns all of them (the refresh answers the first
    /// page; the rest are fetched with [`ListGroups`] from its `next_cursor`).
    pub async fn refresh(&self, instance: &InstanceId) -> Result<GroupList> {
        let req = RefreshGroups {
            instance_id: instance.clone(),
        };
        let mut first = self.client.call(&req).await?;
        if let Some(cursor) = first.next_cursor.take() {
            let rest = ListGroups {
                instance_id: instance.clone(),
                page: PageParams {
                    cursor: Some(cursor),
                    ..PageParams::default()
                },
            };
            first.append(self.client.list_all(rest).await?);
        }
        Ok(first)
    }
}
