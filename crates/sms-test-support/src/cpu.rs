//! The CPU time of this process, for benchmarks.

use std::time::Duration;

/// CPU time this process has used so far (user and system, every thread), from `/proc/self/stat`
/// in clock ticks of 10 ms; `None` where there is no such file (not Linux) or it does not parse.
pub fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    cpu_of_stat(&stat)
}

/// Fields 14 and 15 (utime, stime) of a `/proc/<pid>/stat` line. The command name before them is in
/// parentheses and may hold spaces and parentheses itself, so the fields are counted after its last
/// `)`.
fn cpu_of_stat(stat: &str) -> Option<Duration> {
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ, which Linux fixes at 100 for what it shows to user space.
    Some(Duration::from_millis(ticks.checked_mul(10)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_user_and_system_ticks_after_the_command_name() {
        let line = "4242 (a (b) c) R 1 4242 4242 0 -1 4194304 100 0 0 0 37 5 0 0 20 0 3 0 12345 0 0";
        assert_eq!(cpu_of_stat(line), Some(Duration::from_millis(420)));
        assert_eq!(cpu_of_stat("4242 (x) R 1"), None);
        assert_eq!(cpu_of_stat("no parentheses"), None);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn this_process_uses_cpu_time_while_it_works() {
        let before = process_cpu().expect("Linux has /proc/self/stat");
        let started = std::time::Instant::now();
        let mut x = 0u64;
        // Busy for up to 5 s of wall time, or until the clock has ticked at least twice.
        while started.elapsed() < Duration::from_secs(5)
            && process_cpu().expect("still there") < before + Duration::from_millis(20)
        {
            for _ in 0..10_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
        }
        let used = process_cpu().unwrap() - before;
        assert!(
            used >= Duration::from_millis(20),
            "{used:?} after {:?}",
            started.elapsed()
        );
    }
}
