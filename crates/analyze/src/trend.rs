//! A robust trend: the Theil–Sen estimator.

/// A line fitted through points, with how much the pairs agree on its sign.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trend {
    /// Median of the pairwise slopes (y units per x unit).
    pub slope: f64,
    /// Median of `y - slope * x`.
    pub intercept: f64,
    /// Share of point pairs whose slope has the sign of `slope` (0.5 = a
    /// coin toss, 1.0 = every pair agrees); 0 when `slope` is 0.
    pub agreement: f64,
    /// Lower end of the 95 % confidence interval of the slope (Sen's
    /// interval, from the ranks of the pairwise slopes).
    pub slope_low: f64,
    /// Upper end of that interval.
    pub slope_high: f64,
    /// Points the fit used.
    pub points: usize,
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// Most points used; longer series are thinned evenly (the estimator is
/// O(n²) in the number of points).
pub const MAX_POINTS: usize = 400;

/// Theil–Sen fit of `points` (x, y): the median of all pairwise slopes, which
/// up to 29 % of outliers cannot move. `None` with fewer than two distinct x.
pub fn theil_sen(points: &[(f64, f64)]) -> Option<Trend> {
    let points: Vec<(f64, f64)> = if points.len() > MAX_POINTS {
        let step = points.len() as f64 / MAX_POINTS as f64;
        (0..MAX_POINTS)
            .map(|i| points[(i as f64 * step) as usize])
            .collect()
    } else {
        points.to_vec()
    };
    let points: Vec<(f64, f64)> = points
        .into_iter()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    let mut slopes = Vec::with_capacity(points.len() * points.len() / 2);
    for (i, a) in points.iter().enumerate() {
        for b in &points[i + 1..] {
            let dx = b.0 - a.0;
            if dx != 0.0 {
                slopes.push((b.1 - a.1) / dx);
            }
        }
    }
    let pairs = slopes.len();
    let slope = median(&mut slopes)?;
    let agreeing = if slope > 0.0 {
        slopes.iter().filter(|s| **s > 0.0).count()
    } else if slope < 0.0 {
        slopes.iter().filter(|s| **s < 0.0).count()
    } else {
        0
    };
    // Sen's interval: the slopes `C` ranks either side of the median, with
    // C from the variance of Kendall's S (ties ignored) at z = 1.96.
    let n = points.len() as f64;
    let c = 1.96 * (n * (n - 1.0) * (2.0 * n + 5.0) / 18.0).sqrt();
    let rank = |r: f64| slopes[(r.round().max(0.0) as usize).min(pairs - 1)];
    let slope_low = rank((pairs as f64 - c) / 2.0 - 1.0);
    let slope_high = rank((pairs as f64 + c) / 2.0);
    let mut offsets: Vec<f64> = points.iter().map(|(x, y)| y - slope * x).collect();
    let intercept = median(&mut offsets)?;
    Some(Trend {
        slope,
        intercept,
        agreement: agreeing as f64 / pairs as f64,
        slope_low,
        slope_high,
        points: points.len(),
    })
}

/// Median of a slice of values (`None` when empty).
pub fn median_of(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    median(&mut v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clean_line_is_recovered_exactly() {
        let points: Vec<(f64, f64)> = (0..50).map(|i| (i as f64, 3.0 * i as f64 + 7.0)).collect();
        let t = theil_sen(&points).unwrap();
        assert_eq!((t.slope, t.intercept, t.agreement), (3.0, 7.0, 1.0));
        assert_eq!((t.slope_low, t.slope_high, t.points), (3.0, 3.0, 50));
    }

    #[test]
    fn outliers_do_not_move_the_slope_much() {
        let mut points: Vec<(f64, f64)> = (0..100).map(|i| (i as f64, 2.0 * i as f64)).collect();
        for i in (0..100).step_by(5) {
            points[i].1 += 10_000.0;
        }
        let t = theil_sen(&points).unwrap();
        assert!((t.slope - 2.0).abs() < 0.2, "{t:?}");
    }

    #[test]
    fn the_interval_holds_the_slope_and_widens_with_noise() {
        let noisy: Vec<(f64, f64)> = (0..40)
            .map(|i| (i as f64, i as f64 + ((i * 37) % 23) as f64 - 11.0))
            .collect();
        let t = theil_sen(&noisy).unwrap();
        assert!(t.slope_low < t.slope && t.slope < t.slope_high, "{t:?}");
        assert!(t.slope_low < 1.0 && t.slope_high > 1.0, "{t:?}");
        let few = theil_sen(&noisy[..6]).unwrap();
        assert!(
            few.slope_high - few.slope_low > t.slope_high - t.slope_low,
            "fewer points, wider interval: {few:?} vs {t:?}"
        );
    }

    #[test]
    fn too_few_points_give_no_trend() {
        assert!(theil_sen(&[]).is_none());
        assert!(theil_sen(&[(1.0, 1.0)]).is_none());
        assert!(theil_sen(&[(1.0, 1.0), (1.0, 2.0)]).is_none());
    }

    #[test]
    fn an_even_count_has_the_mean_of_its_middle_two_as_median() {
        assert_eq!(median_of(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median_of(&[3.0, f64::NAN, 1.0, 2.0]), Some(2.0));
        assert_eq!(median_of(&[]), None);
    }

    /// Over `MAX_POINTS`, points are taken evenly from the whole series:
    /// a slope of 1 for the first half and 3 for the second is about 2.
    #[test]
    fn a_long_series_is_thinned_evenly_to_the_most_points() {
        let points: Vec<(f64, f64)> = (0..1000)
            .map(|i| {
                let x = f64::from(i);
                (
                    x,
                    if i < 500 {
                        x
                    } else {
                        500.0 + 3.0 * (x - 500.0)
                    },
                )
            })
            .collect();
        let t = theil_sen(&points).unwrap();
        assert_eq!(t.points, MAX_POINTS);
        assert!((t.slope - 2.0).abs() < 0.5, "{t:?}");
        let exactly: Vec<(f64, f64)> = points[..MAX_POINTS].to_vec();
        assert_eq!(theil_sen(&exactly).map(|t| t.points), Some(MAX_POINTS));
    }

    #[test]
    fn points_that_are_not_finite_are_left_out() {
        let t = theil_sen(&[
            (0.0, 0.0),
            (1.0, f64::NAN),
            (2.0, 2.0),
            (f64::INFINITY, 1.0),
            (3.0, 3.0),
        ])
        .unwrap();
        assert_eq!((t.points, t.slope, t.agreement), (3, 1.0, 1.0));
    }

    /// Agreement counts the pairs strictly on the side of the slope; with
    /// no slope it is 0.
    #[test]
    fn agreement_is_the_share_of_pairs_strictly_on_the_side_of_the_slope() {
        // Rising, one flat pair: slopes 1, 0.5 and 0.
        let t = theil_sen(&[(0.0, 0.0), (1.0, 1.0), (2.0, 1.0)]).unwrap();
        assert_eq!((t.slope, t.agreement), (0.5, 2.0 / 3.0));
        // Falling, one flat pair.
        let t = theil_sen(&[(0.0, 1.0), (1.0, 0.0), (2.0, 0.0)]).unwrap();
        assert_eq!((t.slope, t.agreement), (-0.5, 2.0 / 3.0));
        // Slopes -1, -0.5, 0, 0, 0 and 1: a median of 0.
        let t = theil_sen(&[(0.0, 0.0), (1.0, 1.0), (2.0, 0.0), (3.0, 0.0)]).unwrap();
        assert_eq!((t.slope, t.agreement), (0.0, 0.0));
    }

    /// Sen's interval: with ten points (45 pairs, C = 1.96 √125 ≈ 21.9),
    /// the 12th and the 34th smallest pairwise slopes.
    #[test]
    fn the_interval_is_c_ranks_either_side_of_the_median_slope() {
        let points: Vec<(f64, f64)> = (0..10)
            .map(|i| {
                let x = f64::from(i);
                (x, x + f64::from((i * i * 7) % 11) * 0.37 + x.sqrt())
            })
            .collect();
        let mut slopes: Vec<f64> = Vec::new();
        for (i, a) in points.iter().enumerate() {
            for b in &points[i + 1..] {
                slopes.push((b.1 - a.1) / (b.0 - a.0));
            }
        }
        slopes.sort_unstable_by(f64::total_cmp);
        let t = theil_sen(&points).unwrap();
        assert_eq!((t.slope_low, t.slope_high), (slopes[11], slopes[33]));
        assert_eq!(t.slope, slopes[22]);
    }
}
