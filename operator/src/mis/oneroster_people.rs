//! OneRoster users, roles and demographics, split into the students, staff, contacts and
//! demographics areas.
//!
//! A user's roles come from `roles.csv` in OneRoster 1.2 and from the `role` column
//! otherwise. Contacts are linked to pupils through `agentSourcedIds`, which exporters
//! fill in on the pupil, on the contact, or both: both directions are read.
//! Demographics rows are kept only for students, so a pupil agreement never carries
//! staff members' details.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use csv::StringRecord;
use serde_json::Value;

use crate::catalogue::Area;
use crate::mis::bundle::Bundle;
use crate::mis::cell::{self, Status};
use crate::mis::manifest::{Mode, Version};
use crate::mis::oneroster_csv::{Context, Identifiers, absent, mark_delta, open_table, status};
use crate::mis::{MisError, Record, oneroster_demographics};

const USER_COLUMNS: &[&str] = &[
    "sourcedId",
    "status",
    "dateLastModified",
    "enabledUser",
    "orgSourcedIds",
    "role",
    "username",
    "userIds",
    "givenName",
    "familyName",
    "middleName",
    "identifier",
    "email",
    "sms",
    "phone",
    "agentSourcedIds",
    "grades",
    "password",
    "userMasterIdentifier",
    "preferredGivenName",
    "preferredMiddleName",
    "preferredFamilyName",
    "primaryOrgSourcedId",
    "pronouns",
    "metadata.uk.upn",
    "metadata.uk.preferredName",
];

const ROLE_COLUMNS: &[&str] = &[
    "sourcedId",
    "status",
    "dateLastModified",
    "userSourcedId",
    "roleType",
    "role",
    "beginDate",
    "endDate",
    "orgSourcedId",
    "userProfileSourcedId",
];

const PEOPLE: [Area; 3] = [Area::Students, Area::Staff, Area::Contacts];

/// Reads the people areas that are requested. Returns the identifiers of users that are
/// not marked for deletion when `users.csv` is a bulk file, for checking enrollments.
pub(crate) fn read(
    bundle: &mut Bundle,
    cx: &mut Context<'_>,
) -> Result<Option<HashSet<String>>, MisError> {
    let wanted = [
        Area::Students,
        Area::Staff,
        Area::Contacts,
        Area::Demographics,
        Area::Enrollments,
    ];
    if !wanted.iter().any(|area| cx.fields.has_area(*area)) {
        return Ok(None);
    }
    let roles = match cx.manifest.version {
        Version::V1_2 => read_roles(bundle, cx)?,
        Version::V1_1 => None,
    };

    let Some(mut people) = read_users(bundle, cx, roles.as_ref())? else {
        for area in PEOPLE.into_iter().chain([Area::Demographics]) {
            absent(cx, area, "users.csv");
        }
        return Ok(None);
    };
    oneroster_demographics::read(bundle, cx, &mut people)?;
    link_contacts(cx, &mut people);

    for (area, records) in [
        (Area::Students, people.students),
        (Area::Staff, people.staff),
        (Area::Contacts, people.contacts),
    ] {
        records
            .into_values()
            .for_each(|record| cx.extract.push(area, record));
    }
    Ok(people.bulk.then_some(people.live))
}

/// Where a role puts a user. The one mapping of OneRoster roles to areas, for the CSV and
/// REST readers alike.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Student,
    Staff,
    Contact,
}

/// The area a OneRoster role belongs to, if any.
pub(crate) fn part(role: &str) -> Option<Part> {
    match role {
        "student" => Some(Part::Student),
        "teacher"
        | "administrator"
        | "aide"
        | "proctor"
        | "counselor"
        | "principal"
        | "siteAdministrator"
        | "districtAdministrator"
        | "systemAdministrator" => Some(Part::Staff),
        "parent" | "guardian" | "relative" => Some(Part::Contact),
        _ => None,
    }
}

/// Users read so far, before demographics and contact links are added.
pub(crate) struct People {
    pub students: BTreeMap<String, Record>,
    pub staff: BTreeMap<String, Record>,
    pub contacts: BTreeMap<String, Record>,
    /// Users with a student role, whether or not students are requested.
    pub pupils: HashSet<String>,
    /// Users with a contact role, whether or not contacts are requested.
    pub carers: HashSet<String>,
    /// Users with no student role, so their demographics are not kept.
    pub not_students: HashSet<String>,
    /// Each user's `agentSourcedIds`, kept only when contact links are requested.
    pub agents: HashMap<String, Vec<String>>,
    pub live: HashSet<String>,
    pub bulk: bool,
}

/// `userSourcedId` → its roles, primary roles first.
type Roles = HashMap<String, Vec<String>>;

fn read_roles(bundle: &mut Bundle, cx: &mut Context<'_>) -> Result<Option<Roles>, MisError> {
    let Some((mut table, mode)) = open_table(bundle, cx, "roles", ROLE_COLUMNS)? else {
        return Ok(None);
    };
    for column in ["userSourcedId", "role"] {
        table.require(column)?;
    }
    let mut ids = Identifiers::default();
    let mut ranked: HashMap<String, Vec<(bool, String)>> = HashMap::new();
    let mut record = StringRecord::new();
    while let Some(line) = table.next_row(&mut record, &mut cx.extract.warnings)? {
        ids.take(&table, &record, line)?;
        if status(cx, &table, &record, line, mode)? == Status::ToBeDeleted {
            continue;
        }
        let (Some(user), Some(role)) = (
            table.cell(&record, "userSourcedId"),
            table.cell(&record, "role"),
        ) else {
            continue;
        };
        let secondary = table.cell(&record, "roleType") != Some("primary");
        ranked
            .entry(user.to_owned())
            .or_default()
            .push((secondary, role.to_owned()));
    }
    let roles = ranked
        .into_iter()
        .map(|(user, mut list)| {
            list.sort_by_key(|(secondary, _)| *secondary);
            (user, list.into_iter().map(|(_, role)| role).collect())
        })
        .collect();
    Ok(Some(roles))
}

fn read_users(
    bundle: &mut Bundle,
    cx: &mut Context<'_>,
    roles: Option<&Roles>,
) -> Result<Option<People>, MisError> {
    let Some((mut table, mode)) = open_table(bundle, cx, "users", USER_COLUMNS)? else {
        return Ok(None);
    };
    if roles.is_none() {
        table.require("role")?;
    }
    let fields = cx.fields;
    for column in ["givenName", "familyName"] {
        if PEOPLE.iter().any(|area| fields.wants(*area, column)) {
            table.require(column)?;
        }
    }
    for area in PEOPLE.into_iter().chain([Area::Demographics]) {
        mark_delta(cx, area, mode);
    }
    let keep_agents = fields.wants(Area::Contacts, "studentSourcedIds");

    let mut people = People {
        students: BTreeMap::new(),
        staff: BTreeMap::new(),
        contacts: BTreeMap::new(),
        pupils: HashSet::new(),
        carers: HashSet::new(),
        not_students: HashSet::new(),
        agents: HashMap::new(),
        live: HashSet::new(),
        bulk: mode == Mode::Bulk,
    };
    let mut ids = Identifiers::default();
    let mut record = StringRecord::new();
    while let Some(line) = table.next_row(&mut record, &mut cx.extract.warnings)? {
        let id = ids.take(&table, &record, line)?;
        let row_status = status(cx, &table, &record, line, mode)?;
        let user_roles: Vec<&str> = match roles {
            Some(roles) => roles
                .get(&id)
                .into_iter()
                .flatten()
                .map(String::as_str)
                .collect(),
            None => table.cell(&record, "role").into_iter().collect(),
        };
        let staff_role = user_roles.iter().find(|r| part(r) == Some(Part::Staff));
        let contact_role = user_roles.iter().find(|r| part(r) == Some(Part::Contact));
        let is_student = user_roles.contains(&"student");

        if row_status == Status::ToBeDeleted {
            let known = is_student || staff_role.is_some() || contact_role.is_some();
            for (area, is) in [
                (Area::Students, is_student || !known),
                (Area::Staff, staff_role.is_some() || !known),
                (Area::Contacts, contact_role.is_some() || !known),
                (Area::Demographics, is_student || !known),
            ] {
                if is {
                    cx.extract.delete(area, &id);
                }
            }
            continue;
        }
        if !is_student && staff_role.is_none() && contact_role.is_none() {
            let how = "user whose roles are outside students, staff and contacts left out";
            cx.note(table.file(), line, "role", how);
        }
        people.live.insert(id.clone());
        if is_student {
            people.pupils.insert(id.clone());
        } else {
            people.not_students.insert(id.clone());
        }
        if contact_role.is_some() {
            people.carers.insert(id.clone());
        }
        if keep_agents && let Some(agents) = table.cell(&record, "agentSourcedIds") {
            people.agents.insert(id.clone(), cell::list(agents));
        }

        let text = |column| {
            table
                .cell(&record, column)
                .map(|s| Value::String(s.to_owned()))
        };
        let common = |area: Area, person: &mut Record| {
            person.put(fields, area, "givenName", text("givenName"));
            person.put(fields, area, "familyName", text("familyName"));
            person.put(fields, area, "email", text("email"));
            person.put(fields, area, "phone", text("phone"));
        };
        if is_student && fields.has_area(Area::Students) {
            let mut student = Record::new(id.clone());
            common(Area::Students, &mut student);
            let preferred =
                text("preferredGivenName").or_else(|| text("metadata.uk.preferredName"));
            let year = table.cell(&record, "grades").and_then(cell::year_group);
            student.put(fields, Area::Students, "middleName", text("middleName"));
            student.put(fields, Area::Students, "preferredName", preferred);
            student.put(fields, Area::Students, "yearGroup", year.map(Value::String));
            student.put(fields, Area::Students, "username", text("username"));
            student.put(fields, Area::Students, "upn", text("metadata.uk.upn"));
            let status_word = Value::String(row_status.as_str().to_owned());
            student.put(fields, Area::Students, "status", Some(status_word));
            people.students.insert(id.clone(), student);
        }
        if let Some(role) = staff_role.filter(|_| fields.has_area(Area::Staff)) {
            let mut member = Record::new(id.clone());
            common(Area::Staff, &mut member);
            member.put(
                fields,
                Area::Staff,
                "role",
                Some(Value::String((*role).to_owned())),
            );
            people.staff.insert(id.clone(), member);
        }
        if let Some(role) = contact_role.filter(|_| fields.has_area(Area::Contacts)) {
            let mut contact = Record::new(id.clone());
            common(Area::Contacts, &mut contact);
            let relationship = Some(Value::String((*role).to_owned()));
            contact.put(fields, Area::Contacts, "relationship", relationship);
            people.contacts.insert(id.clone(), contact);
        }
    }
    Ok(Some(people))
}

/// Fills each contact's `studentSourcedIds` from agent links in either direction.
fn link_contacts(cx: &Context<'_>, people: &mut People) {
    if !cx.fields.wants(Area::Contacts, "studentSourcedIds") {
        return;
    }
    let links = contact_links(&people.agents, &people.pupils, &people.carers);
    for (id, contact) in &mut people.contacts {
        let pupils = links.get(id).cloned().map(Value::from);
        contact.put(cx.fields, Area::Contacts, "studentSourcedIds", pupils);
    }
}

/// Which pupils each contact is linked to, from OneRoster `agents` given in either
/// direction (a pupil naming a carer, or a carer naming a pupil). The one reading of agent
/// links, for the CSV and REST readers alike.
pub(crate) fn contact_links(
    agents: &HashMap<String, Vec<String>>,
    pupils: &HashSet<String>,
    carers: &HashSet<String>,
) -> BTreeMap<String, Vec<String>> {
    let mut links: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (user, user_agents) in agents {
        for agent in user_agents {
            if pupils.contains(user) && carers.contains(agent) {
                links.entry(agent).or_default().insert(user);
            }
            if carers.contains(user) && pupils.contains(agent) {
                links.entry(user).or_default().insert(agent);
            }
        }
    }
    links
        .into_iter()
        .map(|(contact, linked)| {
            (
                contact.to_owned(),
                linked.into_iter().map(str::to_owned).collect(),
            )
        })
        .collect()
}
