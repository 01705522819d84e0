use std::io::Write;

use super::*;

fn parse(text: &str) -> Result<Vec<Document>, LoadError> {
    parse_text(Path::new("t.yaml"), text)
}

fn error_of(text: &str) -> LoadError {
    parse(text).expect_err("input should be refused")
}

fn file_with(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
    file.write_all(bytes).unwrap();
    file
}

#[test]
fn positions_point_at_values_and_keys() {
    let docs = parse("kind: School\nspec:\n  urn: \"100000\"\n  mis:\n    x: 1\n").unwrap();
    let root = &docs[0].root;
    assert_eq!(root.locate("/spec/urn"), Pos { line: 3, column: 8 });
    assert_eq!(root.locate("/spec/mis"), Pos { line: 4, column: 3 });
    assert_eq!(root.locate("/spec/missing"), Pos { line: 2, column: 1 });
}

#[test]
fn several_documents_are_read_and_empty_ones_passed_over() {
    let docs = parse("a: 1\n---\n---\nb: 2\n").unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[1].index, 1);
    assert_eq!(docs[1].root.locate("/b").line, 4);
}

#[test]
fn scalars_resolve_as_kubectl_reads_them() {
    let docs =
        parse("a: 100000\nb: \"100000\"\nc: NO\nd: ~\ne: 1.5\nf: !!str 12\ng: text\n").unwrap();
    let json = docs[0].root.to_json();
    assert_eq!(json["a"], 100000);
    assert_eq!(json["b"], "100000");
    assert_eq!(json["c"], false);
    assert!(json["d"].is_null());
    assert_eq!(json["e"], 1.5);
    assert_eq!(json["f"], "12");
    assert_eq!(json["g"], "text");
}

#[test]
fn tab_indentation_is_named() {
    let error = error_of("spec:\n\turn: \"1\"\n");
    assert_eq!(error.pos.line, 2);
    assert!(error.message.contains("tab"), "{}", error.message);
}

#[test]
fn bad_indentation_is_a_syntax_error_with_its_line() {
    let error = error_of("spec:\n    urn: a\n  laEstab: b\n");
    assert_eq!(error.pos.line, 3);
    assert!(
        error.message.starts_with("YAML syntax error"),
        "{}",
        error.message
    );
}

#[test]
fn duplicate_keys_name_the_first() {
    let error = error_of("metadata:\n  name: a\n  name: b\n");
    assert_eq!((error.pos.line, error.pos.column), (3, 3));
    assert_eq!(
        error.message,
        "duplicate key \"name\" (first at line 2): remove one of them"
    );
}

#[test]
fn alias_bombs_are_refused() {
    let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 0..8 {
        let prev = if i == 0 {
            "a".to_owned()
        } else {
            format!("l{}", i - 1)
        };
        text.push_str(&format!("l{i}: &l{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
    }
    assert!(error_of(&text).message.contains("aliases expand"));
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let text = "[".repeat(10_000) + &"]".repeat(10_000);
    let message = error_of(&text).message;
    assert!(
        message.contains("nest more than") || message.contains("recursion"),
        "{message}"
    );
}

#[test]
fn merge_keys_are_refused() {
    assert!(
        error_of("a: &a {x: 1}\nb:\n  <<: *a\n")
            .message
            .contains("merge keys")
    );
}

#[test]
fn empty_file_says_so() {
    for text in ["", "\n\n# only a comment\n", "---\n"] {
        assert_eq!(
            error_of(text).message,
            "file has no YAML documents: add a resource or delete the file"
        );
    }
}

#[test]
fn byte_order_mark_is_accepted() {
    assert_eq!(parse("\u{feff}a: 1\n").unwrap().len(), 1);
}

#[test]
fn binary_garbage_is_refused_as_not_utf8() {
    let file = file_with(&[0x89, b'P', b'N', b'G', 0xff, 0xfe, 0x00, 0x01]);
    let error = read_text(file.path()).unwrap_err();
    assert_eq!(
        error.message,
        "file is not UTF-8 text: save it as UTF-8 YAML"
    );
}

#[test]
fn nul_bytes_are_refused_as_binary() {
    let file = file_with(b"a: 1\nb: \0\n");
    let error = read_text(file.path()).unwrap_err();
    assert_eq!(error.pos.line, 2);
    assert!(error.message.contains("NUL"));
}

#[test]
fn a_fifty_megabyte_file_is_refused_before_it_is_read() {
    let file = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
    file.as_file().set_len(50 * 1024 * 1024).unwrap();
    let error = read_text(file.path()).unwrap_err();
    assert!(
        error
            .message
            .starts_with("file is 50.0 MiB, larger than the 16 MiB"),
        "{}",
        error.message
    );
}

#[test]
fn folders_are_walked_in_order_without_hidden_entries() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("b")).unwrap();
    std::fs::create_dir_all(dir.path().join(".git")).unwrap();
    std::fs::write(dir.path().join("b/z.yaml"), "z: 1\n").unwrap();
    std::fs::write(dir.path().join("a.yml"), "a: 1\n").unwrap();
    std::fs::write(dir.path().join(".git/c.yaml"), "c: 1\n").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not yaml").unwrap();

    let loaded = load_paths(&[dir.path().to_owned()]);
    let names: Vec<_> = loaded
        .documents
        .iter()
        .map(|d| d.file.file_name().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["a.yml", "z.yaml"]);
    assert!(loaded.errors.is_empty());
}

#[test]
fn a_missing_path_is_an_error_not_a_skip() {
    let loaded = load_paths(&[PathBuf::from("/nonexistent/accord.yaml")]);
    assert_eq!(loaded.errors.len(), 1);
    assert!(loaded.errors[0].message.starts_with("cannot read"));
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A fixed pseudo-random stream, so a failure can be replayed.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..2_000 {
        let len = (state % 200) as usize;
        let mut text = String::new();
        for _ in 0..len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let alphabet = b"ab: -[]{}&*!|>'\"#\n\t ,?%@`0123456789";
            text.push(alphabet[(state % alphabet.len() as u64) as usize] as char);
        }
        let _ = parse(&text);
    }
}
