//! What the operating system and the command line allow before anything runs: how many
//! scenarios can be played at once within the open-file limit, and whether a `--target`
//! is a host and a port parley can connect to.

/// Open files one scenario (or graded run) may hold at once: parley's connections and
/// listeners, the bundled mock's ends of them, a program's three pipes, with room to spare.
pub const FILES_PER_JOB: u64 = 16;
/// Open files kept for everything else (the runtime, reports, stdio).
pub const FILES_RESERVED: u64 = 64;

/// Raises the soft open-file limit to the hard one (as shells allow any user to), then
/// returns how many jobs fit in it: `wanted`, or fewer with a note saying why.
pub fn clamp_jobs(wanted: usize) -> (usize, Option<String>) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return (wanted, None);
    };
    let soft = if hard > soft && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        hard
    } else {
        soft
    };
    let fit = usize::try_from(soft.saturating_sub(FILES_RESERVED) / FILES_PER_JOB)
        .unwrap_or(usize::MAX)
        .max(1);
    if wanted <= fit {
        (wanted, None)
    } else {
        (
            fit,
            Some(format!(
                "--jobs {wanted} lowered to {fit}: the open-file limit is {soft} (ulimit -n), and each job needs about {FILES_PER_JOB}"
            )),
        )
    }
}

/// Checks a `--target` value: `HOST:PORT` (`[v6]:PORT` for IPv6) with a port from 1 to
/// 65535. Returns it unchanged, or why it is not one. Whether the host resolves is left
/// to the run: a target that cannot be reached is exit code 3, not a usage error.
pub fn check_target(addr: &str) -> Result<String, String> {
    let Some((host, port)) = addr.rsplit_once(':') else {
        return Err("give HOST:PORT, e.g. 127.0.0.1:2121".to_string());
    };
    if host.trim_matches(['[', ']']).is_empty() {
        return Err("the host is missing: give HOST:PORT, e.g. 127.0.0.1:2121".to_string());
    }
    match port.parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) => {}
        _ => {
            return Err(format!(
                "`{port}` is not a TCP port: ports are numbers from 1 to 65535"
            ));
        }
    }
    // Whether the host resolves and answers is for the run to find (exit code 3).
    Ok(addr.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_ports_are_checked_before_anything_runs() {
        assert!(check_target("127.0.0.1:2121").is_ok());
        assert!(check_target("[::1]:21").is_ok());
        assert!(
            check_target("127.0.0.1:99999")
                .unwrap_err()
                .contains("1 to 65535")
        );
        assert!(check_target("127.0.0.1:0").unwrap_err().contains("1 to 65535"));
        assert!(
            check_target("127.0.0.1:ftp")
                .unwrap_err()
                .contains("not a TCP port")
        );
        assert!(check_target("127.0.0.1").unwrap_err().contains("HOST:PORT"));
        assert!(check_target(":21").unwrap_err().contains("host is missing"));
    }

    #[test]
    fn jobs_fit_in_the_open_file_limit() {
        let (jobs, note) = clamp_jobs(1_000_000_000);
        assert!(jobs < 1_000_000_000);
        assert!(note.unwrap().contains("open-file limit"));
        assert_eq!(clamp_jobs(2), (2, None));
    }
}
