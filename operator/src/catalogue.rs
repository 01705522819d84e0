//! The data catalogue: every data area Accord can share and every field in it.
//!
//! This is the one list of what may flow. Validation refuses an agreement that names a
//! field missing here, extraction reads only catalogue fields, and the record of
//! processing takes its categories of data from the same table.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A data area: a kind of record a school's MIS holds and an agreement may share.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum Area {
    /// Pupils on roll.
    Students,
    /// Teaching and support staff.
    Staff,
    /// Parents, carers and other contacts of pupils.
    Contacts,
    /// Teaching groups.
    Classes,
    /// Who is in which class.
    Enrollments,
    /// Pupils' demographic details, some of them special category.
    Demographics,
    /// Pupils' attendance figures.
    Attendance,
}

/// How the law treats a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Category {
    /// Personal data (GDPR Art. 4(1)).
    Personal,
    /// Special category data (GDPR Art. 9): sharing it needs an Art. 9 condition.
    Special,
}

/// One field of one area.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// The area the field belongs to.
    pub area: Area,
    /// The field's name as agreements write it, e.g. `givenName`.
    pub name: &'static str,
    /// Personal or special category.
    pub category: Category,
}

/// The identifier every record carries, always sent so partners can match updates and
/// deletions.
pub const SOURCED_ID: &str = "sourcedId";

impl Area {
    /// Every area, in catalogue order.
    pub const ALL: [Area; 7] = [
        Area::Students,
        Area::Staff,
        Area::Contacts,
        Area::Classes,
        Area::Enrollments,
        Area::Demographics,
        Area::Attendance,
    ];

    /// The area's name as YAML writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Area::Students => "students",
            Area::Staff => "staff",
            Area::Contacts => "contacts",
            Area::Classes => "classes",
            Area::Enrollments => "enrollments",
            Area::Demographics => "demographics",
            Area::Attendance => "attendance",
        }
    }

    /// The fields of this area, in catalogue order.
    pub fn fields(self) -> impl Iterator<Item = &'static Field> {
        FIELDS.iter().filter(move |f| f.area == self)
    }

    /// The names of this area's fields, in catalogue order.
    pub fn field_names(self) -> Vec<&'static str> {
        self.fields().map(|f| f.name).collect()
    }

    /// Looks up one field of this area by name.
    pub fn field(self, name: &str) -> Option<&'static Field> {
        self.fields().find(|f| f.name == name)
    }
}

impl fmt::Display for Area {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a name that is not a catalogue area.
#[derive(Debug, thiserror::Error)]
#[error(
    "\"{0}\" is not a data area (expected one of students, staff, contacts, classes, enrollments, demographics, attendance)"
)]
pub struct UnknownArea(pub String);

impl FromStr for Area {
    type Err = UnknownArea;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Area::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownArea(s.to_owned()))
    }
}

/// Every field of every area.
pub fn fields() -> &'static [Field] {
    FIELDS
}

const fn personal(area: Area, name: &'static str) -> Field {
    Field {
        area,
        name,
        category: Category::Personal,
    }
}

const fn special(area: Area, name: &'static str) -> Field {
    Field {
        area,
        name,
        category: Category::Special,
    }
}

use Area::*;

// The order within an area is the order partners see columns in reports.
static FIELDS: &[Field] = &[
    personal(Students, "sourcedId"),
    personal(Students, "givenName"),
    personal(Students, "familyName"),
    personal(Students, "middleName"),
    personal(Students, "preferredName"),
    personal(Students, "dateOfBirth"),
    personal(Students, "sex"),
    personal(Students, "yearGroup"),
    personal(Students, "email"),
    personal(Students, "username"),
    personal(Students, "upn"),
    personal(Students, "phone"),
    personal(Students, "status"),
    personal(Staff, "sourcedId"),
    personal(Staff, "givenName"),
    personal(Staff, "familyName"),
    personal(Staff, "email"),
    personal(Staff, "role"),
    personal(Staff, "phone"),
    personal(Contacts, "sourcedId"),
    personal(Contacts, "givenName"),
    personal(Contacts, "familyName"),
    personal(Contacts, "email"),
    personal(Contacts, "phone"),
    personal(Contacts, "relationship"),
    personal(Contacts, "studentSourcedIds"),
    personal(Classes, "sourcedId"),
    personal(Classes, "title"),
    personal(Classes, "classCode"),
    personal(Classes, "subjects"),
    personal(Classes, "termSourcedIds"),
    personal(Enrollments, "sourcedId"),
    personal(Enrollments, "classSourcedId"),
    personal(Enrollments, "userSourcedId"),
    personal(Enrollments, "role"),
    personal(Enrollments, "primary"),
    personal(Demographics, "sourcedId"),
    personal(Demographics, "birthDate"),
    personal(Demographics, "sex"),
    special(Demographics, "ethnicity"),
    special(Demographics, "senStatus"),
    personal(Demographics, "firstLanguage"),
    personal(Attendance, "sourcedId"),
    personal(Attendance, "sessionsPossible"),
    personal(Attendance, "sessionsPresent"),
    personal(Attendance, "authorisedAbsences"),
    personal(Attendance, "unauthorisedAbsences"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_area_has_sourced_id_first() {
        for area in Area::ALL {
            assert_eq!(
                area.fields().next().map(|f| f.name),
                Some(SOURCED_ID),
                "{area}"
            );
        }
    }

    #[test]
    fn only_ethnicity_and_sen_are_special() {
        let special: Vec<_> = fields()
            .iter()
            .filter(|f| f.category == Category::Special)
            .map(|f| format!("{}.{}", f.area, f.name))
            .collect();
        assert_eq!(
            special,
            ["demographics.ethnicity", "demographics.senStatus"]
        );
    }

    #[test]
    fn area_names_round_trip() {
        for area in Area::ALL {
            assert_eq!(area.as_str().parse::<Area>().unwrap(), area);
        }
        assert!("shoes".parse::<Area>().is_err());
    }
}
