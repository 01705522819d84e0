//! The small word lists the sample generator combines into invented people and codes.
//!
//! Names are common UK given and family names; any pairing the generator makes is
//! chance, not a real person. Codes are the DfE's: ethnicity (main and extended
//! categories), SEN provision and first language, with rough national weights.

/// Given names for girls and women.
pub(crate) const GIVEN_FEMALE: &[&str] = &[
    "Olivia",
    "Amelia",
    "Isla",
    "Ava",
    "Ivy",
    "Freya",
    "Lily",
    "Florence",
    "Mia",
    "Willow",
    "Rosie",
    "Sophia",
    "Isabella",
    "Grace",
    "Daisy",
    "Sienna",
    "Poppy",
    "Elsie",
    "Emily",
    "Ella",
    "Evelyn",
    "Phoebe",
    "Sofia",
    "Evie",
    "Charlotte",
    "Harper",
    "Aisha",
    "Zara",
    "Maja",
    "Amira",
];

/// Given names for boys and men.
pub(crate) const GIVEN_MALE: &[&str] = &[
    "Noah", "Oliver", "George", "Arthur", "Muhammad", "Leo", "Harry", "Oscar", "Archie", "Henry",
    "Theodore", "Freddie", "Jack", "Charlie", "Theo", "Alfie", "Jacob", "Thomas", "Finley", "Arlo",
    "William", "Lucas", "Roman", "Tommy", "Isaac", "Teddy", "Ibrahim", "Yusuf", "Jakub", "Kai",
];

/// Family names.
pub(crate) const FAMILY: &[&str] = &[
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Wood",
    "Jackson",
    "Clarke",
    "Patel",
    "Khan",
    "Hussain",
    "Ali",
    "Begum",
    "Nowak",
    "Kowalski",
    "O'Brien",
    "Murphy",
    "Campbell",
    "Okafor",
    "Mensah",
    "Chen",
    "Hughes",
    "Edwards",
    "Hill",
    "Moore",
    "Clark",
    "Lewis-Grant",
    "Ahmed",
];

/// DfE ethnicity codes with weights out of 100.
pub(crate) const ETHNICITY: &[(&str, u32)] = &[
    ("WBRI", 68),
    ("WIRI", 1),
    ("WOTH", 6),
    ("MWBC", 2),
    ("MWBA", 1),
    ("MWAS", 2),
    ("MOTH", 2),
    ("AIND", 3),
    ("APKN", 4),
    ("ABAN", 2),
    ("AOTH", 2),
    ("BCRB", 1),
    ("BAFR", 4),
    ("CHNE", 1),
    ("OOTH", 1),
];

/// SEN provision: none, SEN support, EHC plan.
pub(crate) const SEN: &[(&str, u32)] = &[("N", 84), ("K", 13), ("E", 3)];

/// First-language codes.
pub(crate) const LANGUAGE: &[(&str, u32)] = &[
    ("ENG", 81),
    ("POL", 4),
    ("URD", 4),
    ("PNJ", 2),
    ("BNG", 2),
    ("ARA", 2),
    ("SOM", 2),
    ("ROM", 2),
    ("POR", 1),
];

/// Subjects taught in primary schools.
pub(crate) const PRIMARY_SUBJECTS: &[&str] = &["English", "Maths", "Science"];

/// Subjects taught in secondary schools.
pub(crate) const SECONDARY_SUBJECTS: &[&str] = &[
    "English",
    "Maths",
    "Science",
    "History",
    "Geography",
    "French",
    "Computing",
];
