//! How long each phase of `cargo xtask test` took: wall-clock time, and the processor time of
//! the commands it ran (user and system, summed over every child process, which on a loaded
//! machine says more than the wall clock), printed as a table at the end, failed or not.

use std::time::{Duration, Instant};

use anyhow::Result;

/// The phases run so far, in order.
pub struct Phases {
    started: Instant,
    done: Vec<Phase>,
}

struct Phase {
    name: &'static str,
    wall: Duration,
    cpu: Option<Duration>,
    ok: bool,
}

impl Phases {
    pub fn new() -> Phases {
        Phases { started: Instant::now(), done: Vec::new() }
    }

    /// Runs `work` as the phase `name`, timing it.
    pub fn run<T>(&mut self, name: &'static str, work: impl FnOnce() -> Result<T>) -> Result<T> {
        let (wall, cpu) = (Instant::now(), children_cpu());
        let result = work();
        let cpu = match (cpu, children_cpu()) {
            (Some(before), Some(after)) => Some(after.saturating_sub(before)),
            _ => None,
        };
        self.done.push(Phase { name, wall: wall.elapsed(), cpu, ok: result.is_ok() });
        result
    }

    /// The table of phases, and the total.
    pub fn report(&self) -> String {
        let mut out =
            String::from("xtask test: where the time went (wall clock; processor time of the commands)\n");
        for phase in &self.done {
            let cpu = phase.cpu.map_or_else(|| "?".to_owned(), |cpu| format!("{:.0} s", cpu.as_secs_f64()));
            let failed = if phase.ok { "" } else { "  (failed)" };
            out.push_str(&format!(
                "  {:<12} {:>7.0} s  {:>8}{failed}\n",
                phase.name,
                phase.wall.as_secs_f64(),
                cpu
            ));
        }
        let cpu: Option<Duration> = self.done.iter().map(|phase| phase.cpu).sum();
        let cpu = cpu.map_or_else(|| "?".to_owned(), |cpu| format!("{:.0} s", cpu.as_secs_f64()));
        out.push_str(&format!(
            "  {:<12} {:>7.0} s  {:>8}\n",
            "total",
            self.started.elapsed().as_secs_f64(),
            cpu
        ));
        out
    }
}

/// The processor time of this process's children that have ended and been waited for (Linux's
/// `/proc/self/stat`, fields `cutime` and `cstime`, in clock ticks of 1/100 s); `None`
/// elsewhere.
fn children_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, so cutime (16) and cstime (17) are at 13 and 14 here.
    let ticks = fields.get(13)?.parse::<u64>().ok()? + fields.get(14)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks.saturating_mul(10)))
}
