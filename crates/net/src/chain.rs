//! Error messages with their causes.

/// `error` and its sources joined with `: `, skipping a cause whose text the
/// message already holds (several layers repeat their cause in their own
/// message).
///
/// hyper-util's client error alone says only "client error (Connect)"; the
/// causes say why (connection refused, certificate unknown, timed out).
///
/// ```
/// let io = std::io::Error::other("connection refused");
/// let outer = std::io::Error::new(std::io::ErrorKind::Other, io);
/// assert_eq!(gomon_net::error_chain(&outer), "connection refused");
/// ```
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::error_chain;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    #[test]
    fn joins_causes_and_skips_repeats() {
        let error = Layer(
            "client error (Connect)",
            Some(Box::new(Layer(
                "tcp connect error: Connection refused",
                Some(Box::new(Layer("Connection refused", None))),
            ))),
        );
        assert_eq!(
            error_chain(&error),
            "client error (Connect): tcp connect error: Connection refused"
        );
        assert_eq!(error_chain(&Layer("alone", None)), "alone");
    }
}
