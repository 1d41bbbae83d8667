//! What the flattener remembers across snapshots to keep types stable.

use std::collections::{HashMap, HashSet};

/// The JSON kind a path has been written with. Integers and floats are one
/// kind: undeclared numbers are mapped as `double` (see `docs/fields.md`),
/// so a counter that once arrives as `1.5` does not break indexing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Number,
    Text,
    Bool,
    /// A verbatim array of objects (an object path for Elasticsearch).
    Objects,
}

/// The kind of every leaf path written so far and every object path above
/// them, so that a value that would conflict with the mapping Elasticsearch
/// already has (a string where a number was, a leaf where an object was) is
/// dropped and counted instead of getting the whole document rejected.
#[derive(Debug, Clone, Default)]
pub(crate) struct TypeMemory {
    leaves: HashMap<String, Kind>,
    objects: HashSet<String>,
    capacity: usize,
}

impl TypeMemory {
    pub(crate) fn new(capacity: usize) -> TypeMemory {
        TypeMemory {
            capacity,
            ..TypeMemory::default()
        }
    }

    /// Records `path` with `kind`; false when that conflicts with what was
    /// written before. Past the capacity, new paths are not remembered (and
    /// so not checked): memory stays bounded whatever the input.
    pub(crate) fn admit(&mut self, path: &str, kind: Kind) -> bool {
        if let Some(known) = self.leaves.get(path) {
            return *known == kind;
        }
        if self.objects.contains(path) && kind != Kind::Objects {
            return false;
        }
        let prefixes: Vec<&str> = path.match_indices('.').map(|(i, _)| &path[..i]).collect();
        if prefixes
            .iter()
            .any(|p| matches!(self.leaves.get(*p), Some(k) if *k != Kind::Objects))
        {
            return false;
        }
        if self.leaves.len() + self.objects.len() + prefixes.len() < self.capacity {
            self.leaves.insert(path.to_owned(), kind);
            for p in prefixes {
                self.objects.insert(p.to_owned());
            }
        }
        true
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.leaves.len() + self.objects.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_keeps_its_first_kind() {
        let mut m = TypeMemory::new(100);
        assert!(m.admit("a.b", Kind::Number));
        assert!(m.admit("a.b", Kind::Number));
        assert!(!m.admit("a.b", Kind::Text));
    }

    #[test]
    fn leaves_and_objects_cannot_swap() {
        let mut m = TypeMemory::new(100);
        assert!(m.admit("a.b", Kind::Number));
        assert!(!m.admit("a", Kind::Number), "a is an object now");
        assert!(!m.admit("a.b.c", Kind::Number), "a.b is a number");
        assert!(m.admit("a.c", Kind::Bool));
    }

    #[test]
    fn memory_stops_growing_at_its_capacity() {
        let mut m = TypeMemory::new(10);
        for i in 0..100 {
            assert!(m.admit(&format!("k{i}"), Kind::Number));
        }
        assert!(m.len() <= 10);
    }
}
