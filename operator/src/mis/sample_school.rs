//! The shape of an invented school: its pupils, staff, contacts, classes and terms, as
//! the sample generator makes them and the writers write them.

/// Who the school is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchoolInfo {
    /// The school's name.
    pub name: String,
    /// Its unique reference number.
    pub urn: String,
    /// Its local authority and establishment number, seven digits (`LLLEEEE`).
    pub la_estab: String,
}

/// An invented school with its people, classes and attendance.
#[derive(Clone, Debug, PartialEq)]
pub struct SampleSchool {
    /// Who the school is.
    pub info: SchoolInfo,
    /// The school's own `sourcedId` as an org.
    pub org_id: String,
    /// Pupils, in year-group order.
    pub students: Vec<SamplePupil>,
    /// Teachers, aides and administrators.
    pub staff: Vec<SampleStaff>,
    /// Parents, guardians and relatives; some are shared by siblings.
    pub contacts: Vec<SampleContact>,
    /// Teaching groups, one per year group, subject and set.
    pub classes: Vec<SampleClass>,
    /// Who is in which class.
    pub enrollments: Vec<SampleEnrollment>,
    /// The academic year and its terms.
    pub sessions: Vec<SampleSession>,
}

/// An invented pupil.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplePupil {
    /// MIS identifier.
    pub sourced_id: String,
    /// Unique pupil number (check letter included).
    pub upn: String,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Middle name, for some pupils.
    pub middle_name: Option<String>,
    /// Preferred given name, for some pupils.
    pub preferred_name: Option<String>,
    /// Date of birth, `YYYY-MM-DD`, fitting the year group.
    pub date_of_birth: String,
    /// `male` or `female`.
    pub sex: &'static str,
    /// National curriculum year: `R`, `1` … `13`.
    pub year_group: String,
    /// School email address.
    pub email: String,
    /// Sign-in name.
    pub username: String,
    /// DfE ethnicity code.
    pub ethnicity: &'static str,
    /// SEN provision: `N`, `K` or `E`.
    pub sen_status: &'static str,
    /// DfE first-language code.
    pub first_language: &'static str,
    /// This year's attendance.
    pub attendance: SampleAttendance,
    /// The pupil's contacts, in priority order.
    pub contact_ids: Vec<String>,
}

/// A pupil's attendance in half-day sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SampleAttendance {
    /// Sessions the pupil could have attended.
    pub possible: u32,
    /// Authorised absences.
    pub authorised: u32,
    /// Unauthorised absences.
    pub unauthorised: u32,
}

impl SampleAttendance {
    /// Sessions attended.
    pub fn present(&self) -> u32 {
        self.possible
            .saturating_sub(self.authorised + self.unauthorised)
    }
}

/// An invented member of staff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampleStaff {
    /// MIS identifier.
    pub sourced_id: String,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Work email.
    pub email: String,
    /// OneRoster role: `teacher`, `aide` or `administrator`.
    pub role: &'static str,
    /// Work phone.
    pub phone: String,
}

/// An invented parent, guardian or relative.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampleContact {
    /// MIS identifier.
    pub sourced_id: String,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Personal email.
    pub email: String,
    /// Mobile phone.
    pub phone: String,
    /// `parent`, `guardian` or `relative`.
    pub relationship: &'static str,
    /// The pupils this person is a contact for.
    pub student_ids: Vec<String>,
}

/// An invented teaching group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampleClass {
    /// MIS identifier.
    pub sourced_id: String,
    /// Title, e.g. `Year 7 Maths 2`.
    pub title: String,
    /// Short code, e.g. `7MA2`.
    pub class_code: String,
    /// The subject taught.
    pub subject: &'static str,
    /// The year group taught.
    pub year_group: String,
    /// The course the class belongs to.
    pub course_id: String,
    /// The terms the class runs in.
    pub term_ids: Vec<String>,
}

/// One person in one class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampleEnrollment {
    /// MIS identifier.
    pub sourced_id: String,
    /// The class.
    pub class_id: String,
    /// The pupil or teacher.
    pub user_id: String,
    /// `student` or `teacher`.
    pub role: &'static str,
    /// Whether this is the class's main teacher.
    pub primary: bool,
}

/// The academic year or one of its terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampleSession {
    /// MIS identifier.
    pub sourced_id: String,
    /// Title, e.g. `Autumn 2024`.
    pub title: String,
    /// `schoolYear` or `term`.
    pub kind: &'static str,
    /// First day, `YYYY-MM-DD`.
    pub start: String,
    /// Last day, `YYYY-MM-DD`.
    pub end: String,
    /// The school year a term is part of.
    pub parent_id: Option<String>,
}
