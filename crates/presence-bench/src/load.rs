//! A closed-loop load generator: `concurrency` workers (tokio tasks or OS threads),
//! each sending one request after another for a fixed time and recording every
//! request's latency. Compared clients run in interleaved rounds (A B C, A B C, …)
//! so that a change in the shared machine's load hits all of them alike.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One measurement: what ran, how many requests completed, and their latencies.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Requests that completed with the expected answer.
    pub ok: u64,
    /// Requests that failed or got an unexpected answer.
    pub errors: u64,
    /// Wall time of the measured window.
    pub elapsed: Duration,
    /// Latency of every request (ok or not), nanoseconds, unsorted.
    pub latencies_ns: Vec<u64>,
}

impl Sample {
    /// Completed requests per second.
    pub fn rps(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn merge(&mut self, other: Sample) {
        self.ok += other.ok;
        self.errors += other.errors;
        self.latencies_ns.extend(other.latencies_ns);
    }
}

/// Latency at quantile `q` (0..=1) of sorted nanoseconds, in microseconds.
pub fn percentile_us(sorted_ns: &[u64], q: f64) -> f64 {
    if sorted_ns.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted_ns.len() - 1) as f64 * q).round() as usize;
    sorted_ns[idx.min(sorted_ns.len() - 1)] as f64 / 1000.0
}

/// Runs `call` from `concurrency` tokio tasks on `rt` for `duration`. `call` returns
/// whether the answer was the expected one.
pub fn run_tasks<F, Fut>(
    rt: &tokio::runtime::Runtime,
    concurrency: usize,
    duration: Duration,
    call: Arc<F>,
) -> Sample
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    rt.block_on(async move {
        let start = Instant::now();
        let deadline = start + duration;
        let mut handles = Vec::with_capacity(concurrency);
        for _ in 0..concurrency {
            let call = Arc::clone(&call);
            handles.push(tokio::spawn(async move {
                let mut s = Sample::default();
                loop {
                    let t = Instant::now();
                    if t >= deadline {
                        break;
                    }
                    let ok = call().await;
                    s.latencies_ns.push(t.elapsed().as_nanos() as u64);
                    if ok {
                        s.ok += 1;
                    } else {
                        s.errors += 1;
                    }
                }
                s
            }));
        }
        let mut total = Sample::default();
        for h in handles {
            total.merge(h.await.expect("load task panicked"));
        }
        total.elapsed = start.elapsed();
        total
    })
}

/// Runs `call` from `concurrency` OS threads for `duration`.
pub fn run_threads<F>(concurrency: usize, duration: Duration, call: Arc<F>) -> Sample
where
    F: Fn() -> bool + Send + Sync + 'static,
{
    let start = Instant::now();
    let deadline = start + duration;
    let handles: Vec<_> = (0..concurrency)
        .map(|_| {
            let call = Arc::clone(&call);
            std::thread::spawn(move || {
                let mut s = Sample::default();
                loop {
                    let t = Instant::now();
                    if t >= deadline {
                        break;
                    }
                    let ok = call();
                    s.latencies_ns.push(t.elapsed().as_nanos() as u64);
                    if ok {
                        s.ok += 1;
                    } else {
                        s.errors += 1;
                    }
                }
                s
            })
        })
        .collect();
    let mut total = Sample::default();
    for h in handles {
        total.merge(h.join().expect("load thread panicked"));
    }
    total.elapsed = start.elapsed();
    total
}

/// A client under comparison: a name and a function that measures it for a given
/// time at a given concurrency.
pub struct Variant<'a> {
    /// Row label.
    pub name: String,
    /// `(concurrency, duration) -> Sample`.
    pub run: Box<dyn FnMut(usize, Duration) -> Sample + 'a>,
}

impl<'a> Variant<'a> {
    /// A variant from a name and a measuring function.
    pub fn new(name: impl Into<String>, run: impl FnMut(usize, Duration) -> Sample + 'a) -> Self {
        Self {
            name: name.into(),
            run: Box::new(run),
        }
    }
}

/// The result of one variant at one concurrency over all rounds.
#[derive(Debug, Clone)]
pub struct Row {
    /// Variant name.
    pub name: String,
    /// Concurrency.
    pub concurrency: usize,
    /// Requests/s of each round.
    pub round_rps: Vec<f64>,
    /// Median of `round_rps`.
    pub median_rps: f64,
    /// Median over the rounds of this variant's req/s divided by the first variant's
    /// in the same round (rounds run back to back, so each pair saw about the same
    /// machine load): steadier than the ratio of the two medians on a busy machine.
    pub median_round_ratio: f64,
    /// The quartiles (25th and 75th percentiles) of those per-round ratios: how far
    /// one round's pair can be trusted on this machine.
    pub round_ratio_quartiles: (f64, f64),
    /// p50 latency over all rounds, µs.
    pub p50_us: f64,
    /// p99 latency over all rounds, µs.
    pub p99_us: f64,
    /// Failed requests over all rounds.
    pub errors: u64,
    /// Completed requests over all rounds.
    pub ok: u64,
}

/// Measures every variant at `concurrency`: a `warmup` run each, then `rounds`
/// interleaved rounds of `duration`. The first variant is the baseline of the
/// ratios printed. Each round starts one variant further on (round 0 runs A B C,
/// round 1 B C A, ...), so that no variant always runs first or last: with two
/// variants, the pair alternates A B, B A. (The cyclic order stays: C always runs
/// just before A.)
pub fn compare(
    title: &str,
    variants: &mut [Variant<'_>],
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
    rounds: usize,
) -> Vec<Row> {
    let load_before = crate::load_avg();
    for v in variants.iter_mut() {
        let _ = (v.run)(concurrency, warmup);
    }
    let mut samples: Vec<Vec<Sample>> = variants.iter().map(|_| Vec::new()).collect();
    let n = variants.len();
    for round in 0..rounds {
        for k in 0..n {
            let i = (round + k) % n;
            samples[i].push((variants[i].run)(concurrency, duration));
        }
    }
    let mut rows: Vec<Row> = variants
        .iter()
        .zip(samples)
        .map(|(v, s)| summarize(&v.name, concurrency, s))
        .collect();
    let base: Vec<f64> = rows
        .first()
        .map(|r| r.round_rps.clone())
        .unwrap_or_default();
    for row in &mut rows {
        let mut ratios: Vec<f64> = row
            .round_rps
            .iter()
            .zip(&base)
            .map(|(x, b)| x / b)
            .collect();
        ratios.sort_by(f64::total_cmp);
        row.median_round_ratio = quantile(&ratios, 0.5);
        row.round_ratio_quartiles = (quantile(&ratios, 0.25), quantile(&ratios, 0.75));
    }
    print_table(title, &rows, &load_before);
    rows
}

/// The value at quantile `q` (0..=1) of `sorted`, interpolating linearly between the
/// two nearest ranks (numpy's default); NaN when empty. One rule for the medians and
/// quartiles of the rounds.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * sorted.len().saturating_sub(1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    match (sorted.get(lo), sorted.get(hi)) {
        (Some(a), Some(b)) => a + (b - a) * (pos - lo as f64),
        _ => f64::NAN,
    }
}

fn summarize(name: &str, concurrency: usize, samples: Vec<Sample>) -> Row {
    let mut round_rps: Vec<f64> = samples.iter().map(Sample::rps).collect();
    let mut all = Sample::default();
    for s in samples {
        all.merge(s);
    }
    all.latencies_ns.sort_unstable();
    let mut sorted = round_rps.clone();
    sorted.sort_by(f64::total_cmp);
    let median_rps = quantile(&sorted, 0.5);
    round_rps.shrink_to_fit();
    Row {
        name: name.to_owned(),
        concurrency,
        round_rps,
        median_rps,
        median_round_ratio: f64::NAN,
        round_ratio_quartiles: (f64::NAN, f64::NAN),
        p50_us: percentile_us(&all.latencies_ns, 0.50),
        p99_us: percentile_us(&all.latencies_ns, 0.99),
        errors: all.errors,
        ok: all.ok,
    }
}

/// Prints rows as a Markdown table (ratios against the first row).
pub fn print_table(title: &str, rows: &[Row], load_before: &str) {
    println!();
    println!("### {title}");
    println!();
    println!("load before: {load_before}; after: {}", crate::load_avg());
    println!();
    println!("| client | conc. | req/s (median) | rounds req/s | p50 µs | p99 µs | errors | × first row | × first row, median of rounds | quartiles of rounds |");
    println!("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|");
    let base = rows.first().map_or(f64::NAN, |r| r.median_rps);
    for r in rows {
        let rounds: Vec<String> = r.round_rps.iter().map(|x| format!("{x:.0}")).collect();
        println!(
            "| {} | {} | {:.0} | {} | {:.1} | {:.1} | {} | {:.3} | {:.3} | {:.3}–{:.3} |",
            r.name,
            r.concurrency,
            r.median_rps,
            rounds.join(" / "),
            r.p50_us,
            r.p99_us,
            r.errors,
            r.median_rps / base,
            r.median_round_ratio,
            r.round_ratio_quartiles.0,
            r.round_ratio_quartiles.1
        );
    }
}

#[cfg(test)]
mod tests {
    use super::quantile;

    #[test]
    fn quantiles_interpolate_between_ranks() {
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.5);
        assert_eq!(quantile(&[1.0, 2.0, 3.0], 0.5), 2.0);
        assert_eq!(quantile(&[1.0, 2.0, 3.0], 0.25), 1.5);
        assert_eq!(quantile(&[7.0], 0.75), 7.0);
        assert!(quantile(&[], 0.5).is_nan());
    }
}
