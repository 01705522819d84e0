//! A deterministic generator of invented school data, for demos and tests.
//!
//! Everyone is invented: names are common given and family names paired by a seeded
//! random generator, emails use `.example` domains (RFC 2606) and phone numbers the
//! Ofcom drama range 07700 900000–900999. The same seed and inputs always give the same
//! school, so a written bundle is byte-identical from run to run.
//!
//! Limitation: reproducibility holds for one version of the `rand` crate; a new major
//! version may generate a different school from the same seed.

use chrono::{Days, NaiveDate};
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::mis::sample_names::{
    ETHNICITY, FAMILY, GIVEN_FEMALE, GIVEN_MALE, LANGUAGE, PRIMARY_SUBJECTS, SECONDARY_SUBJECTS,
    SEN,
};

/// The first calendar year of the academic year every sample school is in.
pub const ACADEMIC_YEAR: i32 = 2024;

/// Schools with more pupils than this are secondary schools.
const PRIMARY_MAX: usize = 700;

/// Secondary schools with more pupils than this have a sixth form.
const SIXTH_FORM_MIN: usize = 1100;

/// Pupils per teaching group.
const CLASS_SIZE: usize = 30;

pub use crate::mis::sample_school::{
    SampleAttendance, SampleClass, SampleContact, SampleEnrollment, SamplePupil, SampleSchool,
    SampleSession, SampleStaff, SchoolInfo,
};

/// Generates a school of `pupils` pupils: a primary school (Reception to Year 6) up to
/// 700 pupils, a secondary (Years 7–11) above, with a sixth form above 1,100.
pub fn school(seed: u64, info: &SchoolInfo, pupils: usize) -> SampleSchool {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let org_id = format!("org-{}", info.urn);
    let sessions = sessions(&info.urn);
    let term_ids: Vec<String> = sessions
        .iter()
        .filter(|s| s.kind == "term")
        .map(|s| s.sourced_id.clone())
        .collect();

    let years = year_groups(pupils);
    let mut school = SampleSchool {
        info: info.clone(),
        org_id,
        students: Vec::new(),
        staff: staff(&mut rng, info, pupils),
        contacts: Vec::new(),
        classes: Vec::new(),
        enrollments: Vec::new(),
        sessions,
    };
    let per_year = pupils / years.len().max(1);
    let extra = pupils % years.len().max(1);
    for (index, (year, age)) in years.iter().enumerate() {
        let count = per_year + usize::from(index < extra);
        for _ in 0..count {
            add_pupil(&mut rng, &mut school, year, *age);
        }
    }
    add_classes(&mut school, &years, &term_ids);
    school
}

/// The year groups of a school of this size, each with its pupils' age on 1 September.
fn year_groups(pupils: usize) -> Vec<(String, i32)> {
    let numbers: Vec<i32> = if pupils <= PRIMARY_MAX {
        (0..=6).collect()
    } else if pupils <= SIXTH_FORM_MIN {
        (7..=11).collect()
    } else {
        (7..=13).collect()
    };
    numbers
        .into_iter()
        .map(|n| {
            (
                if n == 0 {
                    "R".to_owned()
                } else {
                    n.to_string()
                },
                n + 4,
            )
        })
        .collect()
}

fn sessions(urn: &str) -> Vec<SampleSession> {
    let year_id = format!("as-{urn}-{ACADEMIC_YEAR}");
    let next = ACADEMIC_YEAR + 1;
    let term = |n: u32, title: String, start: String, end: String| SampleSession {
        sourced_id: format!("{year_id}-t{n}"),
        title,
        kind: "term",
        start,
        end,
        parent_id: Some(year_id.clone()),
    };
    vec![
        SampleSession {
            sourced_id: year_id.clone(),
            title: format!("{ACADEMIC_YEAR}/{next}"),
            kind: "schoolYear",
            start: format!("{ACADEMIC_YEAR}-09-01"),
            end: format!("{next}-08-31"),
            parent_id: None,
        },
        term(
            1,
            format!("Autumn {ACADEMIC_YEAR}"),
            format!("{ACADEMIC_YEAR}-09-01"),
            format!("{ACADEMIC_YEAR}-12-20"),
        ),
        term(
            2,
            format!("Spring {next}"),
            format!("{next}-01-06"),
            format!("{next}-04-04"),
        ),
        term(
            3,
            format!("Summer {next}"),
            format!("{next}-04-22"),
            format!("{next}-07-22"),
        ),
    ]
}

fn staff(rng: &mut ChaCha8Rng, info: &SchoolInfo, pupils: usize) -> Vec<SampleStaff> {
    let count = (pupils / 15).max(3);
    let domain = domain(&info.name);
    (0..count)
        .map(|n| {
            let (given, _) = given_name(rng);
            let family = pick(rng, FAMILY).to_owned();
            let role = match n {
                0 => "administrator",
                _ if rng.random_bool(0.2) => "aide",
                _ => "teacher",
            };
            SampleStaff {
                sourced_id: format!("stf-{}-{:04}", info.urn, n + 1),
                email: format!("{}.{}{}@{domain}", slug(&given), slug(&family), n + 1),
                given_name: given,
                family_name: family,
                role,
                phone: phone(rng),
            }
        })
        .collect()
}

fn add_pupil(rng: &mut ChaCha8Rng, school: &mut SampleSchool, year: &str, age: i32) {
    let n = school.students.len() + 1;
    let id = format!("stu-{}-{n:05}", school.info.urn);
    let (given, sex) = given_name(rng);
    let sibling = (rng.random_bool(0.15) && !school.students.is_empty())
        .then(|| rng.random_range(0..school.students.len()))
        .and_then(|i| school.students.get(i))
        .map(|s| (s.family_name.clone(), s.contact_ids.clone()));
    let (family, contact_ids) = match sibling {
        Some((family, contacts)) if !contacts.is_empty() => (family, contacts),
        _ => {
            let family = pick(rng, FAMILY).to_owned();
            let contacts = add_contacts(rng, school, &family);
            (family, contacts)
        }
    };
    for contact in school
        .contacts
        .iter_mut()
        .filter(|c| contact_ids.contains(&c.sourced_id))
    {
        contact.student_ids.push(id.clone());
    }

    let middle = rng.random_bool(0.6).then(|| given_name(rng).0);
    let preferred = rng.random_bool(0.08).then(|| given_name(rng).0);
    let born = birth_date(rng, age);
    let serial = u32::try_from(n % 1000).unwrap_or(0);
    let user = format!("{}.{}{n}", slug(&given), slug(&family));
    school.students.push(SamplePupil {
        upn: upn(
            &school.info.la_estab,
            born.format("%y").to_string().as_str(),
            serial,
        ),
        email: format!("{user}@{}", domain(&school.info.name)),
        username: user,
        sourced_id: id,
        given_name: given,
        family_name: family,
        middle_name: middle,
        preferred_name: preferred,
        date_of_birth: born.format("%Y-%m-%d").to_string(),
        sex,
        year_group: year.to_owned(),
        ethnicity: weighted(rng, ETHNICITY),
        sen_status: weighted(rng, SEN),
        first_language: weighted(rng, LANGUAGE),
        attendance: attendance(rng),
        contact_ids,
    });
}

fn add_contacts(rng: &mut ChaCha8Rng, school: &mut SampleSchool, family: &str) -> Vec<String> {
    let count = if rng.random_bool(0.65) { 2 } else { 1 };
    (0..count)
        .map(|k| {
            let n = school.contacts.len() + 1;
            let (given, _) = given_name(rng);
            let family = if k == 1 && rng.random_bool(0.2) {
                pick(rng, FAMILY)
            } else {
                family
            }
            .to_owned();
            let relationship = weighted(rng, &[("parent", 85), ("guardian", 10), ("relative", 5)]);
            let contact = SampleContact {
                sourced_id: format!("con-{}-{n:05}", school.info.urn),
                email: format!("{}.{}{n}@mail.example", slug(&given), slug(&family)),
                given_name: given,
                family_name: family,
                phone: phone(rng),
                relationship,
                student_ids: Vec::new(),
            };
            let id = contact.sourced_id.clone();
            school.contacts.push(contact);
            id
        })
        .collect()
}

fn add_classes(school: &mut SampleSchool, years: &[(String, i32)], term_ids: &[String]) {
    let subjects = if years.iter().any(|(y, _)| y == "R") {
        PRIMARY_SUBJECTS
    } else {
        SECONDARY_SUBJECTS
    };
    let teachers: Vec<String> = school
        .staff
        .iter()
        .filter(|s| s.role == "teacher")
        .map(|s| s.sourced_id.clone())
        .collect();
    let mut next_teacher = 0;
    for (year, _) in years {
        let pupils: Vec<String> = school
            .students
            .iter()
            .filter(|p| &p.year_group == year)
            .map(|p| p.sourced_id.clone())
            .collect();
        let sets = pupils.len().div_ceil(CLASS_SIZE).max(1);
        for subject in subjects {
            let code: String = subject.chars().take(2).collect::<String>().to_uppercase();
            for set in 1..=sets {
                let class_id = format!("cls-{}-{year}{code}{set}", school.info.urn);
                for pupil in pupils.iter().skip(set - 1).step_by(sets) {
                    school
                        .enrollments
                        .push(enrollment(&class_id, pupil, "student", false));
                }
                if let Some(teacher) = teachers.get(next_teacher % teachers.len().max(1)) {
                    school
                        .enrollments
                        .push(enrollment(&class_id, teacher, "teacher", true));
                }
                next_teacher += 1;
                school.classes.push(SampleClass {
                    title: format!("Year {year} {subject} {set}"),
                    class_code: format!("{year}{code}{set}"),
                    subject,
                    year_group: year.clone(),
                    course_id: format!("crs-{}-{year}{code}", school.info.urn),
                    term_ids: term_ids.to_vec(),
                    sourced_id: class_id,
                });
            }
        }
    }
}

fn enrollment(
    class_id: &str,
    user_id: &str,
    role: &'static str,
    primary: bool,
) -> SampleEnrollment {
    SampleEnrollment {
        sourced_id: format!("enr-{class_id}-{user_id}"),
        class_id: class_id.to_owned(),
        user_id: user_id.to_owned(),
        role,
        primary,
    }
}

fn attendance(rng: &mut ChaCha8Rng) -> SampleAttendance {
    let possible = 380 - rng.random_range(0..40);
    let authorised = rng.random_range(0..25);
    let unauthorised = if rng.random_bool(0.7) {
        0
    } else {
        rng.random_range(1..12)
    };
    SampleAttendance {
        possible,
        authorised,
        unauthorised,
    }
}

/// A birthday that puts a child of `age` on 1 September in the sample's academic year.
fn birth_date(rng: &mut ChaCha8Rng, age: i32) -> NaiveDate {
    let earliest = NaiveDate::from_ymd_opt(ACADEMIC_YEAR - age - 1, 9, 2).unwrap_or_default();
    earliest
        .checked_add_days(Days::new(rng.random_range(0..365)))
        .unwrap_or(earliest)
}

/// A UPN: check letter, LA and establishment numbers, two-digit year, serial.
fn upn(la_estab: &str, year: &str, serial: u32) -> String {
    let body = format!("{la_estab:0>7.7}{year:0>2.2}{serial:03}");
    let weighted: u32 = body
        .chars()
        .zip(2..)
        .map(|(c, w)| c.to_digit(10).unwrap_or(0) * w)
        .sum();
    let letters = b"ABCDEFGHJKLMNPQRTUVWXYZ";
    let check = letters
        .get((weighted % 23) as usize)
        .copied()
        .unwrap_or(b'A') as char;
    format!("{check}{body}")
}

fn given_name(rng: &mut ChaCha8Rng) -> (String, &'static str) {
    if rng.random_bool(0.5) {
        (pick(rng, GIVEN_FEMALE).to_owned(), "female")
    } else {
        (pick(rng, GIVEN_MALE).to_owned(), "male")
    }
}

fn pick(rng: &mut ChaCha8Rng, list: &[&'static str]) -> &'static str {
    list.get(rng.random_range(0..list.len().max(1)))
        .copied()
        .unwrap_or("Smith")
}

fn weighted(rng: &mut ChaCha8Rng, table: &[(&'static str, u32)]) -> &'static str {
    let total: u32 = table.iter().map(|(_, w)| w).sum();
    let mut roll = rng.random_range(0..total.max(1));
    for (code, weight) in table {
        if roll < *weight {
            return code;
        }
        roll -= weight;
    }
    table.first().map(|(code, _)| *code).unwrap_or_default()
}

fn phone<R: Rng>(rng: &mut R) -> String {
    format!("07700 900{:03}", rng.random_range(0..1000))
}

/// The school's invented email domain.
fn domain(name: &str) -> String {
    format!("{}.example", slug(name))
}

fn slug(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}
