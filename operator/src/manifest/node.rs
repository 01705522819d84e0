//! A YAML node tree that remembers where each node stands in its file.
//!
//! `serde_yaml` gives no positions for values, and every finding Accord reports must point
//! at the offending node, so documents are read into this tree first. It converts to JSON
//! for schema checks and typed deserialisation, and answers "where is `/spec/data/0`?".

use serde_json::Value;

/// A position in a file: 1-based line and column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    /// Line, counting from 1.
    pub line: usize,
    /// Column, counting from 1.
    pub column: usize,
}

/// One YAML node and where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Where the node's text starts.
    pub pos: Pos,
    /// The node's value.
    pub value: NodeValue,
}

/// The value of a [`Node`], with scalars already resolved to their types.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeValue {
    /// `null`, `~` or nothing.
    Null,
    /// A boolean, including the YAML 1.1 words `yes`, `no`, `on` and `off` that Kubernetes
    /// tools also read as booleans.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order.
    Map(Vec<Entry>),
}

/// One key and value of a mapping.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The key, as a string (Kubernetes objects have only string keys).
    pub key: String,
    /// Where the key stands.
    pub key_pos: Pos,
    /// The value.
    pub value: Node,
}

impl Node {
    /// The node as JSON, the form schemas and serde read.
    pub fn to_json(&self) -> Value {
        match &self.value {
            NodeValue::Null => Value::Null,
            NodeValue::Bool(b) => Value::Bool(*b),
            NodeValue::Int(i) => Value::from(*i),
            NodeValue::Float(f) => {
                serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
            }
            NodeValue::Str(s) => Value::String(s.clone()),
            NodeValue::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), e.value.to_json()))
                    .collect(),
            ),
        }
    }

    /// The value under `key`, when this node is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    /// The entry under `key`, when this node is a mapping.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        match &self.value {
            NodeValue::Map(entries) => entries.iter().find(|e| e.key == key),
            _ => None,
        }
    }

    /// The string value, when this node is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The node a JSON pointer (`/spec/data/students/0`) names, if it exists.
    pub fn at(&self, pointer: &str) -> Option<&Node> {
        let mut node = self;
        for token in pointer_tokens(pointer) {
            node = node.child(&token)?;
        }
        Some(node)
    }

    /// The best position for a JSON pointer: the node itself when it exists, otherwise the
    /// nearest ancestor that does. For a mapping entry the key's position is used, since
    /// that is where a reader looks.
    pub fn locate(&self, pointer: &str) -> Pos {
        let mut node = self;
        let mut pos = self.pos;
        for token in pointer_tokens(pointer) {
            match &node.value {
                NodeValue::Map(entries) => match entries.iter().find(|e| e.key == token) {
                    Some(entry) => {
                        pos = if entry.value.is_collection() {
                            entry.key_pos
                        } else {
                            entry.value.pos
                        };
                        node = &entry.value;
                    }
                    None => return pos,
                },
                NodeValue::Seq(items) => {
                    match token.parse::<usize>().ok().and_then(|i| items.get(i)) {
                        Some(item) => {
                            pos = item.pos;
                            node = item;
                        }
                        None => return pos,
                    }
                }
                _ => return pos,
            }
        }
        pos
    }

    /// The position of the key `key` in the mapping at `pointer`, or of the mapping itself.
    pub fn locate_key(&self, pointer: &str, key: &str) -> Pos {
        match self.at(pointer).and_then(|n| n.entry(key)) {
            Some(entry) => entry.key_pos,
            None => self.locate(pointer),
        }
    }

    fn child(&self, token: &str) -> Option<&Node> {
        match &self.value {
            NodeValue::Map(_) => self.get(token),
            NodeValue::Seq(items) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        }
    }

    fn is_collection(&self) -> bool {
        matches!(self.value, NodeValue::Map(_) | NodeValue::Seq(_))
    }
}

/// Splits a JSON pointer into its unescaped tokens.
fn pointer_tokens(pointer: &str) -> impl Iterator<Item = String> + '_ {
    pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
}
