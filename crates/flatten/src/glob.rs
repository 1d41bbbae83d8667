//! Globs on dotted paths: `*` stays within one segment, `**` crosses them.

use crate::FlattenError;

/// A compiled glob over dotted variable paths.
///
/// - `*` matches any run of characters except `.` (part of one segment);
/// - `**` matches any run of characters, dots included (any depth);
/// - `?` matches one character except `.`;
/// - everything else matches itself.
///
/// `stats.*.items` matches `stats.work.items` but not `stats.a.b.items`;
/// `stats.**` matches everything under `stats`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathGlob {
    pattern: String,
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Char(char),
    AnyInSegment,
    AnyAcross,
    OneInSegment,
}

impl PathGlob {
    /// Compiles `pattern`; an empty pattern is an error.
    pub fn new(pattern: &str) -> Result<PathGlob, FlattenError> {
        if pattern.is_empty() {
            return Err(FlattenError::InvalidGlob {
                pattern: pattern.to_owned(),
                reason: "empty pattern".to_owned(),
            });
        }
        let mut tokens = Vec::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            tokens.push(match c {
                '*' if chars.peek() == Some(&'*') => {
                    chars.next();
                    // `***` and more mean the same as `**`.
                    while chars.peek() == Some(&'*') {
                        chars.next();
                    }
                    Token::AnyAcross
                }
                '*' => Token::AnyInSegment,
                '?' => Token::OneInSegment,
                other => Token::Char(other),
            });
        }
        Ok(PathGlob {
            pattern: pattern.to_owned(),
            tokens,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// True when `path` matches the whole pattern.
    ///
    /// Dynamic programming over (token, character): time O(tokens × chars),
    /// so no pattern can make matching blow up.
    pub fn matches(&self, path: &str) -> bool {
        let text: Vec<char> = path.chars().collect();
        // reach[j]: the tokens so far can consume exactly text[..j].
        let mut reach = vec![false; text.len() + 1];
        reach[0] = true;
        for token in &self.tokens {
            let mut next = vec![false; text.len() + 1];
            match token {
                Token::AnyAcross | Token::AnyInSegment => {
                    let crosses = *token == Token::AnyAcross;
                    let mut open = false;
                    for j in 0..=text.len() {
                        open |= reach[j];
                        next[j] = open;
                        if j < text.len() && !crosses && text[j] == '.' {
                            open = false;
                        }
                    }
                }
                Token::OneInSegment => {
                    for j in 0..text.len() {
                        next[j + 1] = reach[j] && text[j] != '.';
                    }
                }
                Token::Char(c) => {
                    for j in 0..text.len() {
                        next[j + 1] = reach[j] && text[j] == *c;
                    }
                }
            }
            reach = next;
        }
        reach[text.len()]
    }
}

/// True when any glob of `globs` matches `path`.
pub(crate) fn any_matches(globs: &[PathGlob], path: &str) -> bool {
    globs.iter().any(|g| g.matches(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, path: &str) -> bool {
        PathGlob::new(pattern).unwrap().matches(path)
    }

    #[test]
    fn a_single_star_stays_within_one_segment() {
        assert!(m("stats.*.items", "stats.work.items"));
        assert!(!m("stats.*.items", "stats.a.b.items"));
        assert!(m("output.*", "output.events"));
        assert!(!m("output.*", "output.events.acked"));
        assert!(m("*_total", "requests_total"));
    }

    #[test]
    fn a_double_star_crosses_segments() {
        assert!(m("stats.**", "stats.work.items"));
        assert!(m("**.acked", "output.elasticsearch.events.acked"));
        assert!(m("**", "anything.at.all"));
        assert!(!m("stats.**", "statsx"));
    }

    #[test]
    fn literal_characters_and_question_marks() {
        assert!(m("cmdline", "cmdline"));
        assert!(!m("cmdline", "cmdlines"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "a.c"));
    }

    #[test]
    fn pathological_patterns_stay_fast_and_correct() {
        let pattern = "*a*a*a*a*a*a*a*a*a*a*b";
        let path = "a".repeat(5000);
        assert!(!m(pattern, &path));
        assert!(PathGlob::new("").is_err());
    }
}
