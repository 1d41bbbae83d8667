//! Bounds on what a configuration may ask of gomon before any of it is
//! built: the file's size, YAML nesting and alias expansion, the number of
//! targets. A hostile or broken file ends in an error, in milliseconds and
//! a few megabytes, instead of taking the machine's memory.

use std::io::Read;
use std::path::Path;

use yaml_rust2::parser::{Event, Parser};

/// The largest configuration file gomon reads: 4 MiB.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// The deepest nesting of YAML mappings and sequences.
pub const MAX_DEPTH: usize = 64;

/// The most YAML nodes (keys, values, list items), an alias counting as
/// many nodes as the one it points to.
pub const MAX_NODES: u64 = 500_000;

/// The most targets: hosts over all golang modules.
pub const MAX_TARGETS: usize = 20_000;

/// Reads at most [`MAX_FILE_BYTES`] of `path` as UTF-8 text: a larger file,
/// a device or a pipe that never ends is refused after reading one byte
/// more than the cap.
pub(crate) fn read_bounded(path: &Path) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let known_size = file
        .metadata()
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    if let Some(size) = known_size.filter(|s| *s > MAX_FILE_BYTES) {
        return Err(too_large(&size.to_string()));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(&format!("more than {MAX_FILE_BYTES}")));
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

fn too_large(size: &str) -> String {
    format!(
        "the file is too large: {size} bytes; gomon reads configuration files of at most {MAX_FILE_BYTES} bytes (4 MiB)"
    )
}

/// Walks the YAML events of `text` and refuses nesting deeper than
/// [`MAX_DEPTH`] or more than [`MAX_NODES`] nodes once aliases are expanded
/// (a "billion laughs" file is a few hundred bytes). Syntax errors are left
/// to the configuration reader, which reports them with line and column.
pub(crate) fn check_yaml(text: &str) -> Result<(), String> {
    check_yaml_with(text, MAX_DEPTH, MAX_NODES)
}

fn check_yaml_with(text: &str, max_depth: usize, max_nodes: u64) -> Result<(), String> {
    // Nodes of each open mapping or sequence so far, and its anchor.
    let mut open: Vec<(usize, u64)> = Vec::new();
    // Size in nodes of each anchored node, by anchor id.
    let mut anchors: Vec<u64> = Vec::new();
    let mut total: u64 = 0;
    let mut parser = Parser::new_from_str(text);
    loop {
        let Ok((event, mark)) = parser.next_token() else {
            return Ok(());
        };
        let at = || format!("line {} column {}", mark.line(), mark.col() + 1);
        // (anchor, size) of a node that is complete now, and whether its
        // nodes still have to be added to the total (a closed collection's
        // were added as they arrived).
        let (anchor, size, new_nodes) = match event {
            Event::StreamEnd => return Ok(()),
            Event::Scalar(_, _, anchor, _) => (anchor, 1, 1),
            Event::Alias(id) => {
                let size = anchors.get(id).copied().unwrap_or(1);
                (0, size, size)
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if open.len() >= max_depth {
                    return Err(format!(
                        "nested deeper than {max_depth} levels at {}; gomon reads configurations at most {max_depth} levels deep",
                        at()
                    ));
                }
                open.push((anchor, 1));
                total = total.saturating_add(1);
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match open.pop() {
                Some((anchor, size)) => (anchor, size, 0),
                None => continue,
            },
            _ => continue,
        };
        total = total.saturating_add(new_nodes);
        if anchor > 0 {
            if anchors.len() <= anchor {
                anchors.resize(anchor + 1, 1);
            }
            anchors[anchor] = size;
        }
        if let Some(parent) = open.last_mut() {
            parent.1 = parent.1.saturating_add(size);
        }
        if total > max_nodes {
            return Err(format!(
                "more than {max_nodes} YAML nodes (aliases counted as what they expand to) at {}; gomon reads configurations of at most {max_nodes} nodes",
                at()
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alias_counts_as_the_nodes_it_expands_to() {
        let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n";
        // a: 11 nodes, b: 111, c: 1111, d: 11111, plus the keys and the root.
        assert!(check_yaml_with(bomb, 64, 20_000).is_ok());
        let err = check_yaml_with(bomb, 64, 10_000).unwrap_err();
        assert!(
            err.contains("more than 10000 YAML nodes") && err.contains("line 4"),
            "{err}"
        );
    }

    #[test]
    fn nesting_is_bounded_with_the_place_named() {
        let deep: String = (0..10).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
        assert!(check_yaml_with(&deep, 10, 1000).is_ok());
        let err = check_yaml_with(&deep, 9, 1000).unwrap_err();
        assert!(err.contains("deeper than 9 levels at line 10 "), "{err}");
        let flow = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(
            check_yaml(&flow)
                .unwrap_err()
                .contains("deeper than 64 levels at line 1 column 65")
        );
    }

    #[test]
    fn syntax_errors_are_left_to_the_reader() {
        assert!(check_yaml("a: [b\n  - c: d: e").is_ok());
    }
}
