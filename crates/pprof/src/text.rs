//! The text form of the goroutine profile (`/debug/pprof/goroutine?debug=1`),
//! for programs that serve the text but not the protobuf (a proxy that
//! rewrites it, an older or unusual handler).
//!
//! ```text
//! goroutine profile: total 107
//! 100 @ 0x48a20e 0x41a58e 0x696eeb 0x491b41
//! #<TAB>0x696eea<TAB>main.awaitReply+0x2a<TAB>/src/app/main.go:24
//! ```

use std::sync::Arc;

use crate::{Frame, Limits, Profile, ProfileError, Sample, SampleType};

/// Whether `body` looks like the text goroutine profile.
pub fn is_goroutine_text(body: &[u8]) -> bool {
    body.starts_with(b"goroutine profile: total ")
}

/// Reads the `?debug=1` goroutine profile into a [`Profile`] with one
/// sample type, `goroutine`/`count`, as the protobuf form has.
pub fn parse_goroutines(body: &[u8], limits: &Limits) -> Result<Profile, ProfileError> {
    if body.len() > limits.max_decoded_bytes {
        return Err(ProfileError::TooLarge {
            limit: limits.max_decoded_bytes,
        });
    }
    let text = std::str::from_utf8(body)
        .map_err(|e| ProfileError::Proto(format!("goroutine text profile is not UTF-8: {e}")))?;
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, first)) if first.starts_with("goroutine profile: total ") => {}
        _ => {
            return Err(ProfileError::Proto(
                "goroutine text profile does not start with \"goroutine profile: total N\""
                    .to_owned(),
            ));
        }
    }
    let mut samples: Vec<(i64, Vec<Frame>)> = Vec::new();
    for (n, line) in lines {
        if let Some((count, _)) = line.split_once(" @ ") {
            let count: i64 = count.trim().parse().map_err(|_| {
                ProfileError::Proto(format!(
                    "line {}: {count:?} is not a goroutine count",
                    n + 1
                ))
            })?;
            if samples.len() >= limits.max_samples {
                return Err(ProfileError::TooManySamples {
                    count: samples.len() + 1,
                    limit: limits.max_samples,
                });
            }
            samples.push((count, Vec::new()));
        } else if let Some(frame) = line.strip_prefix("#\t") {
            // `#\t0xADDR\tfunction+0xOFF\tfile:line`; `# labels: ...` is skipped.
            let mut parts = frame.split('\t');
            let (Some(_address), Some(function), Some(place)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let function = function
                .rsplit_once("+0x")
                .map_or(function, |(name, _)| name);
            let (file, number) = place.trim().rsplit_once(':').unwrap_or((place.trim(), "0"));
            let Some((_, stack)) = samples.last_mut() else {
                return Err(ProfileError::Proto(format!(
                    "line {}: a frame before any \"N @\" line",
                    n + 1
                )));
            };
            if stack.len() < limits.max_frames {
                stack.push(Frame {
                    function: Arc::from(function),
                    file: Arc::from(file),
                    line: number.parse().unwrap_or(0),
                });
            }
        }
    }
    let samples = samples
        .into_iter()
        .map(|(count, stack)| Sample {
            key: crate::stack_key(&stack),
            stack: stack.into(),
            values: vec![count],
        })
        .collect();
    Ok(Profile {
        sample_types: vec![SampleType {
            name: "goroutine".to_owned(),
            unit: "count".to_owned(),
        }],
        samples,
        time_nanos: 0,
        duration_nanos: 0,
    })
}
