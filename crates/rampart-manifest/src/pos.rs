//! Source positions mirroring a JSON value's tree.

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
    Seq(Vec<PosNode>),
    /// key, key line, key column, value node
    Map(Vec<(Box<str>, u32, u32, PosNode)>),
}

impl PosNode {
    pub(crate) fn leaf(line: u32, col: u32) -> Self {
        PosNode {
            line,
            col,
            kids: PosKids::Leaf,
        }
    }

    /// The position of the field at `pointer` (RFC 6901). A mapping entry is located at its key,
    /// a list item at its first character. Returns `None` when the path does not exist.
    pub fn find(&self, pointer: &str) -> Option<(u32, u32)> {
        let (pos, exact) = self.find_nearest(pointer);
        exact.then_some(pos)
    }

    /// The position of `pointer`, or of its deepest existing ancestor when it does not exist
    /// (a missing `allowPrivilegeEscalation` is reported where its `securityContext` — or the
    /// container — is). The flag says whether the full path exists.
    pub fn find_nearest(&self, pointer: &str) -> ((u32, u32), bool) {
        let mut node = self;
        let mut at = (self.line, self.col);
        if pointer.is_empty() {
            return (at, true);
        }
        for raw in pointer.split('/').skip(1) {
            let seg = unescape(raw);
            match &node.kids {
                PosKids::Map(entries) => match entries.iter().find(|(k, ..)| **k == *seg) {
                    Some((_, kl, kc, child)) => {
                        at = (*kl, *kc);
                        node = child;
                    }
                    None => return (at, false),
                },
                PosKids::Seq(items) => match seg.parse::<usize>().ok().and_then(|i| items.get(i)) {
                    Some(child) => {
                        at = (child.line, child.col);
                        node = child;
                    }
                    None => return (at, false),
                },
                PosKids::Leaf => return (at, false),
            }
        }
        (at, true)
    }

    /// The subtree at `pointer`, if it exists.
    pub fn subtree(&self, pointer: &str) -> Option<&PosNode> {
        let mut node = self;
        for raw in pointer.split('/').skip(1) {
            let seg = unescape(raw);
            node = match &node.kids {
                PosKids::Map(entries) => &entries.iter().find(|(k, ..)| **k == *seg)?.3,
                PosKids::Seq(items) => items.get(seg.parse::<usize>().ok()?)?,
                PosKids::Leaf => return None,
            };
        }
        Some(node)
    }

    /// The subtree at `pointer`, mutably.
    pub(crate) fn subtree_mut(&mut self, pointer: &str) -> Option<&mut PosNode> {
        let mut node = self;
        for raw in pointer.split('/').skip(1) {
            let seg = unescape(raw);
            node = match &mut node.kids {
                PosKids::Map(entries) => &mut entries.iter_mut().find(|(k, ..)| **k == *seg)?.3,
                PosKids::Seq(items) => items.get_mut(seg.parse::<usize>().ok()?)?,
                PosKids::Leaf => return None,
            };
        }
        Some(node)
    }

    /// Frees the spare capacity of every list in the tree.
    pub(crate) fn compact(&mut self) {
        match &mut self.kids {
            PosKids::Leaf => {}
            PosKids::Seq(items) => {
                items.shrink_to_fit();
                items.iter_mut().for_each(PosNode::compact);
            }
            PosKids::Map(entries) => {
                entries.shrink_to_fit();
                entries.iter_mut().for_each(|e| e.3.compact());
            }
        }
    }

    /// Keeps only the mapping entries whose key `keep` accepts.
    pub(crate) fn retain_keys(&mut self, keep: impl Fn(&str) -> bool) {
        if let PosKids::Map(entries) = &mut self.kids {
            entries.retain(|(k, ..)| keep(k));
            entries.shrink_to_fit();
        }
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

    pub(crate) fn take_field(&mut self, key: &str) -> Option<PosNode> {
        match &mut self.kids {
            PosKids::Map(entries) => entries
                .iter_mut()
                .find(|(k, ..)| **k == *key)
                .map(|e| std::mem::replace(&mut e.3, PosNode::leaf(0, 0))),
            _ => None,
        }
    }
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
