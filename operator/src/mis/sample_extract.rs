//! A sample school seen through the catalogue: the records a OneRoster reader should
//! produce from the sample's written bundle, for round-trip tests and demos.

use serde_json::Value;

use crate::catalogue::Area;
use crate::mis::sample::SampleSchool;
use crate::mis::{Extract, FieldSet, Record};

impl SampleSchool {
    /// The school's records for the requested fields, sorted as readers sort them.
    pub fn extract(&self, fields: &FieldSet) -> Extract {
        let mut extract = Extract::for_fields(fields);
        let text = |s: &str| Some(Value::String(s.to_owned()));

        for pupil in &self.students {
            let mut r = Record::new(&pupil.sourced_id);
            let area = Area::Students;
            r.put(fields, area, "givenName", text(&pupil.given_name));
            r.put(fields, area, "familyName", text(&pupil.family_name));
            r.put(
                fields,
                area,
                "middleName",
                pupil.middle_name.as_deref().and_then(text),
            );
            r.put(
                fields,
                area,
                "preferredName",
                pupil.preferred_name.as_deref().and_then(text),
            );
            r.put(fields, area, "dateOfBirth", text(&pupil.date_of_birth));
            r.put(fields, area, "sex", text(pupil.sex));
            r.put(fields, area, "yearGroup", text(&pupil.year_group));
            r.put(fields, area, "email", text(&pupil.email));
            r.put(fields, area, "username", text(&pupil.username));
            r.put(fields, area, "upn", text(&pupil.upn));
            r.put(fields, area, "status", text("active"));
            extract.push(area, r);

            let mut d = Record::new(&pupil.sourced_id);
            let area = Area::Demographics;
            d.put(fields, area, "birthDate", text(&pupil.date_of_birth));
            d.put(fields, area, "sex", text(pupil.sex));
            d.put(fields, area, "ethnicity", text(pupil.ethnicity));
            d.put(fields, area, "senStatus", text(pupil.sen_status));
            d.put(fields, area, "firstLanguage", text(pupil.first_language));
            extract.push(area, d);

            let mut a = Record::new(&pupil.sourced_id);
            let area = Area::Attendance;
            let figures = pupil.attendance;
            a.put(
                fields,
                area,
                "sessionsPossible",
                Some(figures.possible.into()),
            );
            a.put(
                fields,
                area,
                "sessionsPresent",
                Some(figures.present().into()),
            );
            a.put(
                fields,
                area,
                "authorisedAbsences",
                Some(figures.authorised.into()),
            );
            a.put(
                fields,
                area,
                "unauthorisedAbsences",
                Some(figures.unauthorised.into()),
            );
            extract.push(area, a);
        }

        for member in &self.staff {
            let mut r = Record::new(&member.sourced_id);
            let area = Area::Staff;
            r.put(fields, area, "givenName", text(&member.given_name));
            r.put(fields, area, "familyName", text(&member.family_name));
            r.put(fields, area, "email", text(&member.email));
            r.put(fields, area, "role", text(member.role));
            r.put(fields, area, "phone", text(&member.phone));
            extract.push(area, r);
        }

        for contact in &self.contacts {
            let mut r = Record::new(&contact.sourced_id);
            let area = Area::Contacts;
            let mut pupils = contact.student_ids.clone();
            pupils.sort();
            r.put(fields, area, "givenName", text(&contact.given_name));
            r.put(fields, area, "familyName", text(&contact.family_name));
            r.put(fields, area, "email", text(&contact.email));
            r.put(fields, area, "phone", text(&contact.phone));
            r.put(fields, area, "relationship", text(contact.relationship));
            r.put(fields, area, "studentSourcedIds", Some(Value::from(pupils)));
            extract.push(area, r);
        }

        for class in &self.classes {
            let mut r = Record::new(&class.sourced_id);
            let area = Area::Classes;
            r.put(fields, area, "title", text(&class.title));
            r.put(fields, area, "classCode", text(&class.class_code));
            r.put(
                fields,
                area,
                "subjects",
                Some(Value::from(vec![class.subject])),
            );
            r.put(
                fields,
                area,
                "termSourcedIds",
                Some(Value::from(class.term_ids.clone())),
            );
            extract.push(area, r);
        }

        for enrollment in &self.enrollments {
            let mut r = Record::new(&enrollment.sourced_id);
            let area = Area::Enrollments;
            r.put(fields, area, "classSourcedId", text(&enrollment.class_id));
            r.put(fields, area, "userSourcedId", text(&enrollment.user_id));
            r.put(fields, area, "role", text(enrollment.role));
            r.put(
                fields,
                area,
                "primary",
                Some(Value::Bool(enrollment.primary)),
            );
            extract.push(area, r);
        }

        extract.sort();
        extract
    }
}
