//! Groups: the WhatsApp groups a paired number belongs to.

use serde::{Deserialize, Serialize};

use crate::endpoint::path_endpoint;
use crate::ids::{GroupId, InstanceId};

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
}

path_endpoint! {
    /// `GET /api/instances/{id}/groups`: the groups of a paired number, by name.
    ListGroups {
        /// The instance whose groups to list.
        instance_id: InstanceId,
    } => Get "/api/instances/{id}/groups" -> GroupList
}
