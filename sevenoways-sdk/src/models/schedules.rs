//! Schedules: a message sent on a cron schedule in an IANA time zone.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::common::{CronExpr, MediaUrl, MessageText, TimeZone};
use super::de::{bool_like, one_or_many};
use super::messages::{
    Content, GroupTarget, Target, check_caption, check_document, check_filename, check_mimetype,
    is_false,
};
use crate::endpoint::{Answer, Link, body_endpoint, path_endpoint};
use crate::ids::{GroupId, GroupName, InstanceId, Phone, ScheduleId};
use crate::models::common::Empty;
use crate::page::{Cursor, list_endpoint, page_of};
use crate::validation::{Validate, ValidationError};

/// `POST /api/schedules`.
///
/// The documentation's example sends text to `groupIds`. The same recipient fields as
/// the send endpoints work (`groupIds`, `groups`, `sendAll`, or `phone`), and the content
/// is text (`message`), an image (`imageUrl`, `caption`) or a document (`fileUrl`,
/// `filename`, `mimetype`): exactly one of each.
///
/// ```
/// use sevenoways_sdk::models::schedules::CreateScheduleRequest;
/// use sevenoways_sdk::{Content, GroupTarget};
/// let req = CreateScheduleRequest::new(
///     "number2".parse()?,
///     "Daily Morning Update",
///     "0 9 * * *".parse()?,
///     "Asia/Dubai".parse()?,
///     GroupTarget::ids(["120363025246125888@g.us"])?,
///     Content::Text { message: "Good morning team! ☀️".try_into()? },
/// )?;
/// assert_eq!(
///     serde_json::to_string(&req)?,
///     r#"{"instanceId":"number2","label":"Daily Morning Update","cronExpr":"0 9 * * *","timezone":"Asia/Dubai","groupIds":["120363025246125888@g.us"],"message":"Good morning team! ☀️"}"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(transform = schedule_rules))]
#[serde(rename_all = "camelCase")]
pub struct CreateScheduleRequest {
    /// The sending instance.
    pub instance_id: InstanceId,
    /// A label for people, at most 200 characters.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(max = 200)))]
    pub label: String,
    /// Five fields, minute first.
    pub cron_expr: CronExpr,
    /// The zone the cron fields are read in; `UTC` when omitted.
    #[serde(default)]
    pub timezone: TimeZone,
    /// Groups by id.
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    #[cfg_attr(feature = "schema", schemars(with = "super::de::OneOrMany<GroupId>"))]
    pub group_ids: Vec<GroupId>,
    /// Groups by name (case-insensitive, resolved at each run).
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    #[cfg_attr(feature = "schema", schemars(with = "super::de::OneOrMany<GroupName>"))]
    pub groups: Vec<GroupName>,
    /// Every group of the instance.
    #[serde(
        default,
        deserialize_with = "bool_like",
        skip_serializing_if = "is_false"
    )]
    #[cfg_attr(feature = "schema", schemars(with = "super::de::BoolLike"))]
    pub send_all: bool,
    /// A phone number instead of groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Phone>,
    /// Text content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<MessageText>,
    /// Image content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<MediaUrl>,
    /// The image's caption, at most 4096 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(max = 4096)))]
    pub caption: Option<String>,
    /// Document content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_url: Option<MediaUrl>,
    /// The document's file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<super::messages::FileName>")
    )]
    pub filename: Option<String>,
    /// The document's MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<super::messages::MimeType>")
    )]
    pub mimetype: Option<String>,
}

/// The rules across a schedule's fields, in JSON Schema: groups or a phone (not both), and
/// exactly one of `message`, `imageUrl` or `fileUrl` (with `filename`).
#[cfg(feature = "schema")]
fn schedule_rules(schema: &mut schemars::Schema) {
    use serde_json::json;
    let serde_json::Value::Array(mut rules) = super::messages::group_rules(true) else {
        return;
    };
    let has = |field: &str| json!({"required": [field], "properties": {field: {"not": {"type": "null"}}}});
    rules.push(json!({"oneOf": [has("message"), has("imageUrl"), has("fileUrl")]}));
    rules.push(json!({"anyOf": [{"not": has("fileUrl")}, has("filename")]}));
    schema.insert("allOf".into(), rules.into());
}

/// Who a schedule sends to: groups or one phone number. Communities and channels are not
/// schedulable (the documentation schedules group and number sends only), so this type
/// cannot name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleTarget {
    /// Groups of the sending instance, resolved at each run.
    Groups(GroupTarget),
    /// One phone number.
    Phone(Phone),
}

impl From<GroupTarget> for ScheduleTarget {
    fn from(groups: GroupTarget) -> Self {
        Self::Groups(groups)
    }
}

impl From<Phone> for ScheduleTarget {
    fn from(phone: Phone) -> Self {
        Self::Phone(phone)
    }
}

impl TryFrom<Target> for ScheduleTarget {
    type Error = ValidationError;

    /// Groups and phones convert; a community or channel is refused.
    fn try_from(target: Target) -> Result<Self, ValidationError> {
        match target {
            Target::Groups(g) => Ok(Self::Groups(g)),
            Target::Phone(p) => Ok(Self::Phone(p)),
            _ => Err(ValidationError::new(
                "groupIds",
                "schedules send to groups or a phone number",
            )),
        }
    }
}

impl From<ScheduleTarget> for Target {
    fn from(target: ScheduleTarget) -> Self {
        match target {
            ScheduleTarget::Groups(g) => Target::Groups(g),
            ScheduleTarget::Phone(p) => Target::Phone(p),
        }
    }
}

impl CreateScheduleRequest {
    /// A schedule from typed parts: `target` is a [`GroupTarget`], a [`Phone`] or a
    /// [`ScheduleTarget`]. Fails only for content the API refuses (a caption over 4096
    /// characters, a file name with a `/`).
    pub fn new(
        instance_id: InstanceId,
        label: impl Into<String>,
        cron_expr: CronExpr,
        timezone: TimeZone,
        target: impl Into<ScheduleTarget>,
        content: Content,
    ) -> Result<Self, ValidationError> {
        let mut req = Self {
            instance_id,
            label: label.into(),
            cron_expr,
            timezone,
            group_ids: Vec::new(),
            groups: Vec::new(),
            send_all: false,
            phone: None,
            message: None,
            image_url: None,
            caption: None,
            file_url: None,
            filename: None,
            mimetype: None,
        };
        match target.into() {
            ScheduleTarget::Groups(g) => {
                (req.group_ids, req.groups, req.send_all) = g.into_fields();
            }
            ScheduleTarget::Phone(p) => req.phone = Some(p),
        }
        match content {
            Content::Text { message } => req.message = Some(message),
            Content::Image { image_url, caption } => {
                req.image_url = Some(image_url);
                req.caption = caption;
            }
            Content::Document {
                file_url,
                filename,
                mimetype,
            } => {
                req.file_url = Some(file_url);
                req.filename = Some(filename);
                req.mimetype = mimetype;
            }
        }
        req.validate()?;
        Ok(req)
    }

    /// The recipients: groups or a phone, never both.
    pub fn target(&self) -> Result<Target, ValidationError> {
        let has_groups = self.send_all || !self.group_ids.is_empty() || !self.groups.is_empty();
        match (&self.phone, has_groups) {
            (Some(_), true) => Err(ValidationError::new(
                "phone",
                "expected either phone or groups (groupIds, groups, sendAll), not both",
            )),
            (Some(p), false) => Ok(Target::Phone(p.clone())),
            (None, _) => GroupTarget::from_fields(&self.group_ids, &self.groups, self.send_all)
                .map(Target::Groups)
                .map_err(|e| {
                    if has_groups {
                        e
                    } else {
                        ValidationError::new(
                            "groupIds",
                            "expected recipients: groupIds, groups, sendAll=true or phone",
                        )
                    }
                }),
        }
    }

    /// The content: exactly one of text, image or document.
    pub fn content(&self) -> Result<Content, ValidationError> {
        match (&self.message, &self.image_url, &self.file_url) {
            (Some(message), None, None) => Ok(Content::Text {
                message: message.clone(),
            }),
            (None, Some(url), None) => {
                check_caption(self.caption.as_deref())?;
                Ok(Content::Image {
                    image_url: url.clone(),
                    caption: self.caption.clone(),
                })
            }
            (None, None, Some(url)) => {
                let filename = self.filename.clone().unwrap_or_default();
                check_document(&filename, self.mimetype.as_deref())?;
                Ok(Content::Document {
                    file_url: url.clone(),
                    filename,
                    mimetype: self.mimetype.clone(),
                })
            }
            (None, None, None) => Err(ValidationError::new(
                "message",
                "expected content: message, imageUrl or fileUrl",
            )),
            _ => Err(ValidationError::new(
                "message",
                "expected exactly one of message, imageUrl or fileUrl",
            )),
        }
    }
}

impl Validate for CreateScheduleRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        if self.label.chars().count() > 200 {
            return Err(ValidationError::new(
                "label",
                "expected a label of at most 200 characters",
            ));
        }
        self.target()?;
        self.content()?;
        // Checked whenever given, whatever the content, as the schema says.
        check_caption(self.caption.as_deref())?;
        if let Some(filename) = &self.filename {
            check_filename(filename)?;
        }
        check_mimetype(self.mimetype.as_deref())?;
        Ok(())
    }
}

body_endpoint!(CreateScheduleRequest => POST "/api/schedules" -> ScheduleCreated {
    answers: [
        Answer::new(
            404,
            "The instance is not this key's, or a group id or name is not the instance's.",
        ),
        Answer::new(409, "The key has as many schedules as its plan's max_schedules allows."),
        crate::models::instances::SEND_CANNOT,
    ],
    examples: [(
        "Every morning at 9 in Dubai",
        r#"{"instanceId":"number2","label":"Daily Morning Update","cronExpr":"0 9 * * *","timezone":"Asia/Dubai","groupIds":["120363025246125888@g.us"],"message":"Good morning team! ☀️"}"#
    )],
    links: [
        Link::to::<DeleteSchedule>(&[("id", "$response.body#/schedule/id")]),
        Link::to::<ResumeSchedule>(&[("id", "$response.body#/schedule/id")]),
    ],
});

list_endpoint! {
    /// `GET /api/schedules`: the schedules with their `nextRunAt`, oldest first, a page at
    /// a time.
    ListSchedules {} => "/api/schedules" -> ScheduleList
}

path_endpoint! {
    /// `POST /api/schedules/{id}/resume`: a schedule paused after repeated runs over the
    /// plan's message cap runs again from its next cron time, its skipped runs forgotten.
    /// A schedule that is not paused is answered as it is.
    ResumeSchedule {
        /// The schedule's id (`sch_…`).
        id: ScheduleId,
    } => Post "/api/schedules/{id}/resume" -> ScheduleResumed
}

path_endpoint! {
    /// `DELETE /api/schedules/{id}`: no more runs; messages already queued stay queued.
    DeleteSchedule {
        /// The schedule's id (`sch_…`).
        id: ScheduleId,
    } => Delete "/api/schedules/{id}" -> Empty
}

/// A schedule as the server keeps it: the request that made it, plus its run times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    /// For `DELETE /api/schedules/:id`.
    pub id: ScheduleId,
    /// What was asked for.
    #[serde(flatten)]
    pub spec: CreateScheduleRequest,
    /// The next firing, in UTC. `None` if the expression never matches again.
    pub next_run_at: Option<DateTime<Utc>>,
    /// The last firing, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Runs skipped in a row because the plan's message cap was reached (0 after a run
    /// that queued). At the plan's limit the schedule is paused.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skipped_runs: u32,
    /// When it was paused; it does not run (`nextRunAt` is absent) until
    /// `POST /api/schedules/{id}/resume`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_at: Option<DateTime<Utc>>,
    /// Why it was paused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_reason: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Schedule {
    /// Whether the schedule is paused (see [`ResumeSchedule`]).
    pub fn is_paused(&self) -> bool {
        self.paused_at.is_some()
    }
}

/// `GET /api/schedules`: `{"success":true,"schedules":[…]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ScheduleList {
    /// Oldest first.
    pub schedules: Vec<Schedule>,
    /// The next page's `?cursor=`; absent on the last page.
    #[serde(
        rename = "nextCursor",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub next_cursor: Option<Cursor>,
}

page_of!(ScheduleList, schedules: Schedule);

/// `POST /api/schedules` answer: `{"success":true,"schedule":{…}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ScheduleCreated {
    /// The new schedule, with its first `nextRunAt`.
    pub schedule: Schedule,
}

/// `POST /api/schedules/{id}/resume` answer: `{"success":true,"schedule":{…}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ScheduleResumed {
    /// The schedule, running, with its next `nextRunAt`.
    pub schedule: Schedule,
}

/// The webhook event of a schedule run that queued nothing because the plan's message
/// cap was reached: one per run, whatever the number of recipients. `data` is a
/// [`ScheduleEvent`].
pub const SCHEDULE_SKIPPED_EVENT: &str = "schedule.skipped";
/// The webhook event of the skipped run that paused its schedule (the plan's
/// `schedule_pause_after` runs in a row were skipped). `data` is a [`ScheduleEvent`];
/// `POST /api/schedules/{id}/resume` starts it again.
pub const SCHEDULE_PAUSED_EVENT: &str = "schedule.paused";
/// The schedule events, beyond the seven documented message and instance events; a
/// webhook may subscribe to them by name.
pub const SCHEDULE_EVENT_TYPES: [&str; 2] = [SCHEDULE_SKIPPED_EVENT, SCHEDULE_PAUSED_EVENT];

/// `data` of [`SCHEDULE_SKIPPED_EVENT`] and [`SCHEDULE_PAUSED_EVENT`]. Receivers see these
/// events as [`EventData::Unknown`](crate::EventData::Unknown); read the data with
/// [`ScheduleEvent::from_event`].
///
/// ```
/// use sevenoways_sdk::Event;
/// use sevenoways_sdk::models::schedules::ScheduleEvent;
/// let body = r#"{"id":"evt_1","event":"schedule.skipped","timestamp":"2026-11-24T09:00:00Z","instanceId":"number2","data":{"scheduleId":"sch_1","reason":"Daily message cap reached","recipients":3,"skippedRuns":1}}"#;
/// let event: Event = serde_json::from_str(body)?;
/// let skipped = ScheduleEvent::from_event(&event).unwrap();
/// assert_eq!((skipped.schedule_id.as_str(), skipped.recipients), ("sch_1", 3));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ScheduleEvent {
    /// The schedule.
    pub schedule_id: ScheduleId,
    /// Why the run queued nothing (the cap's message, with when it resets).
    pub reason: String,
    /// How many messages the run would have queued.
    pub recipients: u64,
    /// Runs skipped in a row, this one included.
    pub skipped_runs: u32,
}

impl ScheduleEvent {
    /// The data of a `schedule.skipped` or `schedule.paused` event; `None` for any other.
    pub fn from_event(event: &crate::Event) -> Option<Self> {
        match &event.data {
            crate::EventData::Unknown { event, data }
                if SCHEDULE_EVENT_TYPES.contains(&event.as_str()) =>
            {
                serde_json::from_value(data.clone()).ok()
            }
            _ => None,
        }
    }
}
