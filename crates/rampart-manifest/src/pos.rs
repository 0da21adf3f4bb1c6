//! Source positions mirroring a JSON value's tree.
//!
//! A mapping's positions are stored in the order of its keys in the value (`serde_json` keeps
//! insertion order), without the keys themselves: the `i`-th entry is the `i`-th key. Looking a
//! position up therefore walks the value and its positions side by side. Keys added to a value
//! after it was parsed have no position, and resolve to their nearest ancestor's.

use serde_json::{Map, Value};

/// The position of one node, and of its children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PosNode {
    /// 1-based line of the node's first character.
    pub line: u32,
    /// 1-based column of the node's first character.
    pub col: u32,
    pub(crate) kids: PosKids,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PosKids {
    Leaf,
    Seq(Box<[PosNode]>),
    /// One entry per key of the mapping, in the value's key order.
    Map(Box<[KeyPos]>),
}

/// A mapping entry: where its key is, and its value's positions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyPos {
    pub line: u32,
    pub col: u32,
    pub node: PosNode,
}

impl PosNode {
    pub(crate) fn leaf(line: u32, col: u32) -> Self {
        PosNode {
            line,
            col,
            kids: PosKids::Leaf,
        }
    }

    /// The position of the field at `pointer` (RFC 6901) in `value`, whose positions these are.
    /// A mapping entry is located at its key, a list item at its first character. Returns
    /// `None` when the path does not exist.
    pub fn find(&self, value: &Value, pointer: &str) -> Option<(u32, u32)> {
        let (pos, exact) = self.find_nearest(value, pointer);
        exact.then_some(pos)
    }

    /// The position of `pointer` in `value`, or of its deepest existing ancestor when it does
    /// not exist (a missing `allowPrivilegeEscalation` is reported where its
    /// `securityContext` — or the container — is). The flag says whether the full path exists.
    pub fn find_nearest(&self, value: &Value, pointer: &str) -> ((u32, u32), bool) {
        let mut node = self;
        let mut value = value;
        let mut at = (self.line, self.col);
        if pointer.is_empty() {
            return (at, true);
        }
        for raw in pointer.split('/').skip(1) {
            let seg = unescape(raw);
            match step(node, value, &seg) {
                Some((pos, child, child_value)) => {
                    at = pos;
                    node = child;
                    value = child_value;
                }
                None => return (at, false),
            }
        }
        (at, true)
    }

    /// The positions of the subtree at `pointer` in `value`, mutably.
    pub(crate) fn subtree_mut<'a>(
        &'a mut self,
        value: &Value,
        pointer: &str,
    ) -> Option<&'a mut PosNode> {
        let mut node = self;
        let mut value = value;
        for raw in pointer.split('/').skip(1) {
            let seg = unescape(raw);
            let (i, child_value) = child(value, &seg)?;
            node = match &mut node.kids {
                PosKids::Map(entries) => &mut entries.get_mut(i)?.node,
                PosKids::Seq(items) => items.get_mut(i)?,
                PosKids::Leaf => return None,
            };
            value = child_value;
        }
        Some(node)
    }

    /// Takes the `index`-th child of a sequence node out (used to split `List` items).
    pub(crate) fn take_item(&mut self, index: usize) -> Option<PosNode> {
        match &mut self.kids {
            PosKids::Seq(items) => items
                .get_mut(index)
                .map(|n| std::mem::replace(n, PosNode::leaf(0, 0))),
            _ => None,
        }
    }

    /// Takes the positions of the `index`-th entry of a mapping node out.
    pub(crate) fn take_entry(&mut self, index: usize) -> Option<PosNode> {
        match &mut self.kids {
            PosKids::Map(entries) => entries
                .get_mut(index)
                .map(|e| std::mem::replace(&mut e.node, PosNode::leaf(0, 0))),
            _ => None,
        }
    }
}

/// One step down: the child's position (a key's, or an item's), its positions and its value.
fn step<'a, 'v>(
    node: &'a PosNode,
    value: &'v Value,
    seg: &str,
) -> Option<((u32, u32), &'a PosNode, &'v Value)> {
    let (i, child_value) = child(value, seg)?;
    match &node.kids {
        PosKids::Map(entries) => {
            let e = entries.get(i)?;
            Some(((e.line, e.col), &e.node, child_value))
        }
        PosKids::Seq(items) => {
            let n = items.get(i)?;
            Some(((n.line, n.col), n, child_value))
        }
        PosKids::Leaf => None,
    }
}

/// The index of `seg` in `value` (a key's place in its mapping, or a list index) and the value
/// there.
fn child<'v>(value: &'v Value, seg: &str) -> Option<(usize, &'v Value)> {
    match value {
        Value::Object(m) => m
            .iter()
            .enumerate()
            .find_map(|(i, (k, v))| (k == seg).then_some((i, v))),
        Value::Array(items) => {
            let i = seg.parse::<usize>().ok()?;
            Some((i, items.get(i)?))
        }
        _ => None,
    }
}

/// Keeps only the entries of `map` whose key `keep` accepts, and their positions. A map that
/// loses entries is rebuilt at the size of what stays.
pub(crate) fn retain_entries(
    map: &mut Map<String, Value>,
    pos: Option<&mut PosNode>,
    keep: impl Fn(&str) -> bool,
) {
    let kept: Vec<bool> = map.keys().map(|k| keep(k)).collect();
    if kept.iter().all(|&k| k) {
        return;
    }
    if let Some(PosNode {
        kids: PosKids::Map(entries),
        ..
    }) = pos
    {
        *entries = std::mem::take(entries)
            .into_vec()
            .into_iter()
            .zip(&kept)
            .filter_map(|(e, &k)| k.then_some(e))
            .collect();
    }
    *map = std::mem::take(map)
        .into_iter()
        .zip(&kept)
        .filter_map(|(entry, &k)| k.then_some(entry))
        .collect();
}

fn unescape(seg: &str) -> std::borrow::Cow<'_, str> {
    if seg.contains('~') {
        std::borrow::Cow::Owned(seg.replace("~1", "/").replace("~0", "~"))
    } else {
        std::borrow::Cow::Borrowed(seg)
    }
}

/// Escapes one path segment for a JSON pointer.
pub fn escape_segment(seg: &str) -> std::borrow::Cow<'_, str> {
    if seg.contains(['~', '/']) {
        std::borrow::Cow::Owned(seg.replace('~', "~0").replace('/', "~1"))
    } else {
        std::borrow::Cow::Borrowed(seg)
    }
}
