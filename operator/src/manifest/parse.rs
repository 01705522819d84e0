//! Reading YAML text into [`Node`] trees, one per document.
//!
//! Built on `yaml-rust2`'s event parser, which reports a position for every event. The
//! tree is built without recursion, with limits on depth and alias expansion, so no input
//! can exhaust the stack or memory. Scalars resolve as Kubernetes tools read them (YAML
//! 1.1 booleans included), so `accord validate` agrees with `kubectl`.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::node::{Entry, Node, NodeValue, Pos};

/// How deeply collections may nest. Accord's resources need fewer than twelve levels.
pub const MAX_DEPTH: usize = 64;

/// How many nodes aliases may add to one document, against "billion laughs" input.
pub const MAX_ALIAS_NODES: usize = 100_000;

/// A document that could not be read, with where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Where the problem was found.
    pub pos: Pos,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// One document of a YAML stream.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedDocument {
    /// The document's root node.
    pub root: Node,
}

/// Reads every non-empty document of `text`.
///
/// Stops at the first syntax error: after one, the parser cannot know where the next
/// document starts, and reporting guesses would mislead.
pub fn parse_documents(text: &str) -> Result<Vec<ParsedDocument>, ParseError> {
    let mut parser = Parser::new_from_str(text);
    let mut builder = Builder::default();

    loop {
        let (event, mark) = parser
            .next_token()
            .map_err(|e| scan_error(text, *e.marker(), e.info()))?;
        match event {
            Event::StreamEnd => break,
            Event::StreamStart | Event::Nothing => {}
            Event::DocumentStart => builder.start_document(),
            Event::DocumentEnd => builder.end_document(),
            Event::Scalar(value, style, anchor, tag) => {
                let node = Node {
                    pos: pos(mark),
                    value: resolve(value, style, tag.as_ref()),
                };
                builder.add(node, anchor, mark)?;
            }
            Event::Alias(id) => builder.alias(id, mark)?,
            Event::SequenceStart(anchor, _) => builder.open(Frame::seq(pos(mark), anchor), mark)?,
            Event::MappingStart(anchor, _) => builder.open(Frame::map(pos(mark), anchor), mark)?,
            Event::SequenceEnd | Event::MappingEnd => builder.close(mark)?,
        }
    }

    Ok(builder.documents)
}

/// Resolves a scalar's text to a typed value, as YAML 1.1 (and so `kubectl`) does.
fn resolve(text: String, style: TScalarStyle, tag: Option<&Tag>) -> NodeValue {
    let tagged_str = tag.is_some_and(|t| t.suffix == "str");
    if style != TScalarStyle::Plain || tagged_str {
        return NodeValue::Str(text);
    }
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return NodeValue::Null,
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "y" | "Y" | "on" | "On" | "ON" => {
            return NodeValue::Bool(true);
        }
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "n" | "N" | "off" | "Off" | "OFF" => {
            return NodeValue::Bool(false);
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" => return NodeValue::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return NodeValue::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return NodeValue::Float(f64::NAN),
        _ => {}
    }
    if let Some(int) = parse_int(&text) {
        return NodeValue::Int(int);
    }
    if looks_like_float(&text)
        && let Ok(float) = text.parse::<f64>()
    {
        return NodeValue::Float(float);
    }
    NodeValue::Str(text)
}

fn parse_int(text: &str) -> Option<i64> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let value = if let Some(hex) = digits.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()?
    } else if let Some(octal) = digits.strip_prefix("0o") {
        i64::from_str_radix(octal, 8).ok()?
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()?
    } else {
        return None;
    };
    Some(if negative { -value } else { value })
}

fn looks_like_float(text: &str) -> bool {
    let body = text.trim_start_matches(['-', '+']);
    body.bytes().any(|b| b.is_ascii_digit())
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && body
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit() || b == b'.')
}

fn pos(mark: Marker) -> Pos {
    Pos {
        line: mark.line(),
        column: mark.col() + 1,
    }
}

/// Turns a scanner error into a message a person can act on.
fn scan_error(text: &str, mark: Marker, info: &str) -> ParseError {
    // The scanner may trip over a tab a line or two after the line it marks.
    let tab_indented = text
        .lines()
        .enumerate()
        .skip(mark.line().saturating_sub(1))
        .take(3)
        .find(|(_, line)| {
            line.chars()
                .take_while(|c| c.is_whitespace())
                .any(|c| c == '\t')
        });
    if let Some((index, line)) =
        tab_indented.filter(|_| info.contains("tab") || info.contains("token"))
    {
        let column = line.chars().position(|c| c == '\t').unwrap_or(0) + 1;
        return ParseError {
            pos: Pos {
                line: index + 1,
                column,
            },
            message: "a tab character is used for indentation: YAML indents with spaces only"
                .to_owned(),
        };
    }
    ParseError {
        pos: pos(mark),
        message: format!("YAML syntax error: {info}"),
    }
}

/// A collection being built.
struct Frame {
    pos: Pos,
    anchor: usize,
    kind: FrameKind,
}

enum FrameKind {
    Seq(Vec<Node>),
    Map {
        entries: Vec<Entry>,
        key: Option<(String, Pos)>,
    },
}

impl Frame {
    fn seq(pos: Pos, anchor: usize) -> Frame {
        Frame {
            pos,
            anchor,
            kind: FrameKind::Seq(Vec::new()),
        }
    }

    fn map(pos: Pos, anchor: usize) -> Frame {
        Frame {
            pos,
            anchor,
            kind: FrameKind::Map {
                entries: Vec::new(),
                key: None,
            },
        }
    }
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    alias_nodes: usize,
    documents: Vec<ParsedDocument>,
    root: Option<Node>,
}

impl Builder {
    fn start_document(&mut self) {
        self.anchors.clear();
        self.alias_nodes = 0;
        self.root = None;
    }

    fn end_document(&mut self) {
        // A document with nothing in it (`---` alone) reads as a null scalar.
        if let Some(root) = self.root.take().filter(|r| r.value != NodeValue::Null) {
            self.documents.push(ParsedDocument { root });
        }
    }

    fn open(&mut self, frame: Frame, mark: Marker) -> Result<(), ParseError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(ParseError {
                pos: pos(mark),
                message: format!("collections nest more than {MAX_DEPTH} levels deep"),
            });
        }
        if let Some(Frame {
            kind: FrameKind::Map { key: None, .. },
            ..
        }) = self.stack.last()
        {
            return Err(ParseError {
                pos: pos(mark),
                message: "a mapping key is a list or mapping: keys must be plain strings"
                    .to_owned(),
            });
        }
        self.stack.push(frame);
        Ok(())
    }

    fn close(&mut self, mark: Marker) -> Result<(), ParseError> {
        let Some(frame) = self.stack.pop() else {
            return Err(ParseError {
                pos: pos(mark),
                message: "unbalanced collection end".to_owned(),
            });
        };
        // A block collection's start event can be marked after its first key; the first
        // child is where a reader sees it begin.
        let (first_child, value) = match frame.kind {
            FrameKind::Seq(items) => (items.first().map(|n| n.pos), NodeValue::Seq(items)),
            FrameKind::Map { entries, .. } => {
                (entries.first().map(|e| e.key_pos), NodeValue::Map(entries))
            }
        };
        let pos = first_child.map_or(frame.pos, |child| child.min(frame.pos));
        self.add(Node { pos, value }, frame.anchor, mark)
    }

    fn alias(&mut self, id: usize, mark: Marker) -> Result<(), ParseError> {
        let Some(node) = self.anchors.get(&id).cloned() else {
            return Err(ParseError {
                pos: pos(mark),
                message: "alias to an unknown anchor".to_owned(),
            });
        };
        self.alias_nodes += count_nodes(&node);
        if self.alias_nodes > MAX_ALIAS_NODES {
            return Err(ParseError {
                pos: pos(mark),
                message: format!(
                    "aliases expand to more than {MAX_ALIAS_NODES} nodes: write the values out instead"
                ),
            });
        }
        let node = Node {
            pos: pos(mark),
            ..node
        };
        self.add(node, 0, mark)
    }

    fn add(&mut self, node: Node, anchor: usize, mark: Marker) -> Result<(), ParseError> {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        let Some(top) = self.stack.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        match &mut top.kind {
            FrameKind::Seq(items) => items.push(node),
            FrameKind::Map { entries, key } => match key.take() {
                Some((key, key_pos)) => entries.push(Entry {
                    key,
                    key_pos,
                    value: node,
                }),
                None => {
                    let name = key_text(&node).ok_or_else(|| ParseError {
                        pos: pos(mark),
                        message: "a mapping key is a list or mapping: keys must be plain strings"
                            .to_owned(),
                    })?;
                    if name == "<<" {
                        return Err(ParseError {
                            pos: node.pos,
                            message: "merge keys (<<) are not supported: write the keys out"
                                .to_owned(),
                        });
                    }
                    if let Some(first) = entries.iter().find(|e| e.key == name) {
                        return Err(ParseError {
                            pos: node.pos,
                            message: format!(
                                "duplicate key \"{name}\" (first at line {}): remove one of them",
                                first.key_pos.line
                            ),
                        });
                    }
                    *key = Some((name, node.pos));
                }
            },
        }
        Ok(())
    }
}

fn key_text(node: &Node) -> Option<String> {
    match &node.value {
        NodeValue::Str(s) => Some(s.clone()),
        NodeValue::Null => Some(String::new()),
        NodeValue::Bool(b) => Some(b.to_string()),
        NodeValue::Int(i) => Some(i.to_string()),
        NodeValue::Float(f) => Some(f.to_string()),
        NodeValue::Seq(_) | NodeValue::Map(_) => None,
    }
}

fn count_nodes(node: &Node) -> usize {
    let mut count = 0;
    let mut pending = vec![node];
    while let Some(next) = pending.pop() {
        count += 1;
        match &next.value {
            NodeValue::Seq(items) => pending.extend(items),
            NodeValue::Map(entries) => pending.extend(entries.iter().map(|e| &e.value)),
            _ => {}
        }
    }
    count
}
