//! The CPU time of this process, for benchmarks.

use std::time::Duration;

/// CPU time this process has used so far (user and system, every thread), from `/proc/self/stat`
/// in clock ticks of 10 ms; `None` where there is no such file (not Linux) or it does not parse.
pub fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    cpu_of_stat(&stat)
}

/// CPU time used so far by this process's threads whose name starts with `prefix` (Linux names
/// threads with at most 15 bytes: `sqlx-sqlite-wor` for `sqlx-sqlite-worker-0`), from
/// `/proc/self/task/*/stat`; `None` where there is no such directory. Threads that have ended no
/// longer count.
pub fn threads_cpu(prefix: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let name = stat
            .split_once('(')
            .and_then(|(_, rest)| rest.rsplit_once(')'))
            .map(|(name, _)| name);
        if name.is_some_and(|name| name.starts_with(prefix)) {
            total += cpu_of_stat(&stat).unwrap_or_default();
        }
    }
    Some(total)
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
    fn a_named_threads_cpu_time_is_counted_under_its_name_only() {
        let worker = std::thread::Builder::new()
            .name("cpu-test-busy".to_owned())
            .spawn(|| {
                let started = std::time::Instant::now();
                let mut x = 0u64;
                while started.elapsed() < Duration::from_secs(5)
                    && threads_cpu("cpu-test-busy").expect("Linux") < Duration::from_millis(20)
                {
                    for _ in 0..10_000 {
                        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
                    }
                }
                threads_cpu("cpu-test-busy").expect("Linux")
            })
            .unwrap();
        let busy = worker.join().unwrap();
        assert!(busy >= Duration::from_millis(20), "{busy:?}");
        assert_eq!(threads_cpu("no-thread-has-this-name"), Some(Duration::ZERO));
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
