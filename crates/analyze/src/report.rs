//! The verdict table `gomon analyze` prints, made from the same figures as
//! the JSON evidence.

use crate::evidence::Analysis;
use crate::verdict::format_rate;

/// The program's name from its command line: the last path component of
/// the first word (`/opt/app/bin/checkout -port 80` → `checkout`).
pub fn program_name(cmdline: &str) -> &str {
    let first = cmdline.split_whitespace().next().unwrap_or_default();
    first.rsplit(['/', '\\']).next().unwrap_or(first)
}

/// The target as the table shows it: the address, and the program's name
/// beside it when the command line is known.
pub fn target_label(a: &Analysis) -> String {
    match a.program.as_str() {
        "" => a.target.clone(),
        name => format!("{} ({name})", a.target),
    }
}

/// The live heap column: start → end level, MB.
fn live_heap(a: &Analysis) -> String {
    if a.evidence.growth_threshold_mb_per_hour == 0.0 {
        return "-".to_owned();
    }
    format!(
        "{:.1} → {:.1}",
        a.evidence.live_heap_start_bytes / 1e6,
        a.evidence.live_heap_end_bytes / 1e6
    )
}

/// The trend column: the growth rate of the whole window, as the summary
/// prints it (absent when no trend was fitted).
fn trend(a: &Analysis) -> String {
    if a.evidence.growth_threshold_mb_per_hour == 0.0 {
        return "-".to_owned();
    }
    format_rate(a.evidence.growth_mb_per_hour)
}

/// The table of verdicts, one line per process lifetime, columns aligned
/// whatever the verdicts and targets (widths in characters, not bytes).
pub fn table(analyses: &[Analysis]) -> String {
    let header = [
        "target",
        "verdict",
        "live heap MB",
        "trend",
        "GC CPU",
        "p99 pause",
        "samples",
    ];
    let rows: Vec<[String; 7]> = analyses
        .iter()
        .map(|a| {
            [
                target_label(a),
                a.verdicts
                    .iter()
                    .map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join("+"),
                live_heap(a),
                trend(a),
                format!("{:.2}%", a.evidence.gc_cpu_fraction * 100.0),
                a.evidence
                    .pause_p99_ns
                    .map_or("-".to_owned(), |p| format!("{} µs", p / 1000)),
                a.samples.to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 7], summary: &str| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            let pad = " ".repeat(w - cell.chars().count());
            // Text left, numbers right.
            if i < 2 {
                out.push_str(cell);
                out.push_str(&pad);
            } else {
                out.push_str(&pad);
                out.push_str(cell);
            }
            out.push_str("  ");
        }
        out.push_str(summary);
        out.push('\n');
        out
    };
    let mut out = line(header, "summary");
    for (row, a) in rows.iter().zip(analyses) {
        out.push_str(&line(
            [
                &row[0], &row[1], &row[2], &row[3], &row[4], &row[5], &row[6],
            ],
            &a.summary,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::Evidence;
    use crate::verdict::Verdict;

    fn analysis(target: &str, cmdline: &str, verdicts: &[Verdict], growth: f64) -> Analysis {
        Analysis {
            target: target.to_owned(),
            cmdline: cmdline.to_owned(),
            program: program_name(cmdline).to_owned(),
            samples: 12345,
            span_secs: 60.0,
            verdict: verdicts[0],
            verdicts: verdicts.to_vec(),
            summary: format!("summary of {target}"),
            evidence: Evidence {
                growth_mb_per_hour: growth,
                growth_threshold_mb_per_hour: if growth == 0.0 { 0.0 } else { 1.0 },
                live_heap_start_bytes: 1.5e9,
                live_heap_end_bytes: 12.0e9,
                pause_p99_ns: (growth > 0.0).then_some(123_456_789),
                ..Evidence::default()
            },
            profiles: None,
        }
    }

    /// Every verdict combination, long and short targets, with and without
    /// a program name, numbers of every width: the summaries all start in
    /// the same column.
    #[test]
    fn the_table_stays_aligned_for_every_verdict_combination() {
        let mut analyses = Vec::new();
        for (i, v) in Verdict::ALL.iter().enumerate() {
            analyses.push(analysis("a:1", "", &[*v], 0.0));
            analyses.push(analysis(
                "http://a-very-long-host-name.example.org:6060/debug/vars",
                "/usr/local/bin/service-with-a-long-name -v",
                &[*v, Verdict::GcPressure],
                -12345.6 * i as f64,
            ));
            analyses.push(analysis("b:2", "./x", &[Verdict::GcPressure, *v], 7.0));
        }
        let text = table(&analyses);
        let columns: Vec<usize> = text
            .lines()
            .skip(1)
            .map(|l| {
                let at = l.find("summary of").expect("a summary");
                l[..at].chars().count()
            })
            .collect();
        let header = text.lines().next().unwrap_or_default();
        let summary_at = header[..header.find("summary").unwrap_or(0)]
            .chars()
            .count();
        assert!(columns.iter().all(|c| *c == summary_at), "{text}");
        assert!(text.contains("gc-pressure+insufficient-data"), "{text}");
        assert!(text.contains("(service-with-a-long-name)"), "{text}");
        assert!(text.contains("-49382.4 MB/h"), "{text}");
    }

    #[test]
    fn the_program_name_is_the_last_part_of_the_first_word() {
        assert_eq!(program_name("/opt/app/bin/checkout -port 80"), "checkout");
        assert_eq!(program_name("./leaking -addr 127.0.0.1:0"), "leaking");
        assert_eq!(program_name("C:\\apps\\svc.exe"), "svc.exe");
        assert_eq!(program_name(""), "");
    }
}
