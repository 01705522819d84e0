//! OneRoster REST users and demographics onto the students, staff, contacts and
//! demographics areas, by the rules of the CSV reader's `oneroster_people` and
//! `oneroster_demographics`.
//!
//! A user's roles come from a OneRoster 1.2 `roles` array when the server sends one, and
//! from `role` otherwise.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use crate::catalogue::Area;
use crate::mis::Record;
use crate::mis::cell::{self, Status};
use crate::mis::oneroster_people::{Part, contact_links, part};
use crate::mis::rest::error::RestError;
use crate::mis::rest::item::Item;
use crate::mis::rest::records::{Context, Fetch, Fetched, Source};

const PEOPLE: [Area; 3] = [Area::Students, Area::Staff, Area::Contacts];

/// Reads the requested people areas and demographics. Returns the identifiers of users
/// not marked for deletion in a full read, for checking enrollments.
pub(crate) fn read(
    cx: &mut Context<'_>,
    fetched: &Fetched,
    delta: bool,
) -> Result<Option<HashSet<String>>, RestError> {
    let Some(users) = fetched.get(Source::Users) else {
        return Ok(None);
    };
    let Some(mut people) = read_users(cx, users, delta)? else {
        for area in PEOPLE.into_iter().chain([Area::Demographics]) {
            cx.absent(area, &users.path);
        }
        return Ok(None);
    };
    if let Some(demographics) = fetched.get(Source::Demographics) {
        read_demographics(cx, demographics, &mut people)?;
    }
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

/// Users read so far, before demographics and contact links are added.
struct People {
    students: BTreeMap<String, Record>,
    staff: BTreeMap<String, Record>,
    contacts: BTreeMap<String, Record>,
    pupils: HashSet<String>,
    carers: HashSet<String>,
    not_students: HashSet<String>,
    agents: HashMap<String, Vec<String>>,
    live: HashSet<String>,
    bulk: bool,
}

/// A user's roles, primary roles first.
fn roles(item: &Item<'_>) -> Vec<String> {
    let listed = item.json.get("roles").and_then(Value::as_array);
    let Some(listed) = listed.filter(|list| !list.is_empty()) else {
        return item.text("role").into_iter().collect();
    };
    let mut ranked: Vec<(bool, String)> = listed
        .iter()
        .filter_map(|entry| {
            let role = entry.get("role")?.as_str()?.trim();
            let secondary = entry.get("roleType").and_then(Value::as_str) != Some("primary");
            (!role.is_empty()).then(|| (secondary, role.to_owned()))
        })
        .collect();
    ranked.sort_by_key(|(secondary, _)| *secondary);
    ranked.into_iter().map(|(_, role)| role).collect()
}

fn read_users(
    cx: &mut Context<'_>,
    fetch: &Fetch,
    delta: bool,
) -> Result<Option<People>, RestError> {
    let Some(collection) = &fetch.collection else {
        return Ok(None);
    };
    let fields = cx.fields;
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
        bulk: !delta,
    };

    for item in Item::all(&fetch.path, collection) {
        let item = item?;
        let id = item.id.clone();
        let row_status = item.status()?;
        let user_roles = roles(&item);
        let staff_role = user_roles.iter().find(|r| part(r) == Some(Part::Staff));
        let contact_role = user_roles.iter().find(|r| part(r) == Some(Part::Contact));
        let is_student = user_roles.iter().any(|r| r == "student");

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
            cx.note(item.path, item.position, "role", how);
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
        if keep_agents
            && let Some(agents) = item.refs("agents").or_else(|| item.list("agentSourcedIds"))
        {
            people.agents.insert(id.clone(), agents);
        }

        let common = |area: Area, person: &mut Record| {
            for name in ["givenName", "familyName", "email", "phone"] {
                person.put(fields, area, name, item.string(name));
            }
        };
        if is_student && fields.has_area(Area::Students) {
            let mut student = Record::new(id.clone());
            common(Area::Students, &mut student);
            let preferred = item
                .text("preferredGivenName")
                .or_else(|| item.meta("uk.preferredName"));
            let year = item
                .list("grades")
                .and_then(|grades| grades.into_iter().next())
                .and_then(|first| cell::year_group(&first));
            let upn = item.meta("uk.upn");
            let status_word = Value::String(row_status.as_str().to_owned());
            let put = |record: &mut Record, name, value| {
                record.put(fields, Area::Students, name, value);
            };
            put(&mut student, "middleName", item.string("middleName"));
            put(&mut student, "preferredName", preferred.map(Value::String));
            put(&mut student, "yearGroup", year.map(Value::String));
            put(&mut student, "username", item.string("username"));
            put(&mut student, "upn", upn.map(Value::String));
            put(&mut student, "status", Some(status_word));
            people.students.insert(id.clone(), student);
        }
        if let Some(role) = staff_role.filter(|_| fields.has_area(Area::Staff)) {
            let mut member = Record::new(id.clone());
            common(Area::Staff, &mut member);
            member.put(
                fields,
                Area::Staff,
                "role",
                Some(Value::from(role.as_str())),
            );
            people.staff.insert(id.clone(), member);
        }
        if let Some(role) = contact_role.filter(|_| fields.has_area(Area::Contacts)) {
            let mut contact = Record::new(id.clone());
            common(Area::Contacts, &mut contact);
            let relationship = Some(Value::from(role.as_str()));
            contact.put(fields, Area::Contacts, "relationship", relationship);
            people.contacts.insert(id.clone(), contact);
        }
    }
    Ok(Some(people))
}

/// Reads demographics for the pupils in `people`.
fn read_demographics(
    cx: &mut Context<'_>,
    fetch: &Fetch,
    people: &mut People,
) -> Result<(), RestError> {
    let Some(collection) = &fetch.collection else {
        cx.absent(Area::Demographics, &fetch.path);
        if ["dateOfBirth", "sex"]
            .iter()
            .any(|f| cx.fields.wants(Area::Students, f))
        {
            let message = "demographics are not served, so students have no dateOfBirth or sex";
            let warning = crate::mis::Warning::file(&fetch.path, message);
            cx.extract.warnings.push(warning);
        }
        return Ok(());
    };
    let fields = cx.fields;
    for item in Item::all(&fetch.path, collection) {
        let item = item?;
        let id = item.id.clone();
        if item.status()? == Status::ToBeDeleted {
            cx.extract.delete(Area::Demographics, &id);
            continue;
        }
        // Only pupils' demographics are kept; a full read names every pupil.
        let pupil = people.pupils.contains(&id);
        if people.not_students.contains(&id) || (people.bulk && !pupil) {
            continue;
        }

        let birth = match item.text("birthDate") {
            Some(text) => {
                let (day, how) = cell::date(&text, None).map_err(|p| item.bad("birthDate", p))?;
                if let Some(how) = how {
                    cx.note(item.path, item.position, "birthDate", how);
                }
                Some(Value::String(day))
            }
            None => None,
        };
        let sex = match item.text("sex") {
            Some(text) => {
                let (word, how) = cell::sex(&text).map_err(|p| item.bad("sex", p))?;
                if let Some(how) = how {
                    cx.note(item.path, item.position, "sex", how);
                }
                Some(Value::from(word))
            }
            None => None,
        };
        if let Some(student) = people.students.get_mut(&id) {
            student.put(fields, Area::Students, "dateOfBirth", birth.clone());
            student.put(fields, Area::Students, "sex", sex.clone());
        }
        let meta = |key| item.meta(key).map(Value::String);
        let mut row = Record::new(id);
        row.put(fields, Area::Demographics, "birthDate", birth);
        row.put(fields, Area::Demographics, "sex", sex);
        row.put(
            fields,
            Area::Demographics,
            "ethnicity",
            meta("uk.ethnicity"),
        );
        row.put(
            fields,
            Area::Demographics,
            "senStatus",
            meta("uk.senStatus"),
        );
        row.put(
            fields,
            Area::Demographics,
            "firstLanguage",
            meta("uk.firstLanguage"),
        );
        cx.extract.push(Area::Demographics, row);
    }
    Ok(())
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
