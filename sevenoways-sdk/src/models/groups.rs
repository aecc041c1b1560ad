//! Groups: the WhatsApp groups a paired number belongs to.

use serde::{Deserialize, Serialize};

use crate::endpoint::{Answer, path_endpoint};
use crate::ids::{GroupId, InstanceId};
use crate::page::{Cursor, list_endpoint, page_of};

/// A group of an instance, as `GET /api/instances/:id/groups` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// The stable id (`120363…@g.us`). Prefer it to the name in sends.
    pub id: GroupId,
    /// The current name.
    pub name: String,
    /// Member count, when known.
    #[serde(default)]
    pub participants: u32,
}

/// `GET /api/instances/:id/groups`: `{"success":true,"instanceId":"…","groups":[…]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct GroupList {
    /// The instance whose groups these are.
    pub instance_id: InstanceId,
    /// Sorted by name.
    pub groups: Vec<Group>,
    /// The next page's `?cursor=`; absent on the last page.
    #[serde(
        rename = "nextCursor",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub next_cursor: Option<Cursor>,
}

page_of!(GroupList, groups: Group);

list_endpoint! {
    /// `GET /api/instances/{id}/groups`: the groups of a paired number, by name, a page at
    /// a time.
    ListGroups {
        /// The instance whose groups to list.
        instance_id: InstanceId,
    } => "/api/instances/{id}/groups" -> GroupList
}

path_endpoint! {
    /// `POST /api/instances/{id}/groups/refresh`: reads the number's groups from its engine
    /// again (new groups, renames, groups it left) and answers the list's first page as
    /// `GET /api/instances/{id}/groups` would (its `nextCursor` continues with that
    /// operation). The server also does this when a number
    /// pairs. A sandbox instance's groups are what the sandbox endpoints made; a Meta Cloud
    /// API instance has none (422).
    RefreshGroups {
        /// The instance whose groups to read again.
        instance_id: InstanceId,
    } => Post "/api/instances/{id}/groups/refresh" -> GroupList {
        answers: [
            Answer::new(409, "A WAHA number that is not online: pair it first."),
            crate::models::instances::ENGINE_CANNOT,
            crate::models::instances::ENGINE_FAILED,
        ],
    }
}
