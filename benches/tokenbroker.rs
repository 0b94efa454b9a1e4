//! Benchmarks: `get-token` and the library against curl and Python, on the local emulator.
//!
//! `cargo bench --bench tokenbroker` (release profile). Prints a table of medians and ratios.
//! `BENCH_RUNS` sets the number of process runs per figure (default 60). CI runs it quickly, so it cannot rot:
//! `BENCH_RUNS=3 cargo test --bench tokenbroker` (debug profile, a few runs; the figures mean nothing there,
//! only that every call succeeds).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokenbroker::{Broker, CachePolicy, Connection, Connections};
use tokenbroker_emulator::{Emulator, Fault, Route};

const IDENTIFIER: &str = "bench";
const SERVICES: [&str; 5] = ["gmail", "slack", "github", "notion", "linear"];
const GET_TOKEN: &str = env!("CARGO_BIN_EXE_get-token");

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut builder = Emulator::builder();
    for s in SERVICES {
        builder = builder.connection(s);
    }
    let emu = rt.block_on(builder.start()).unwrap();
    for s in SERVICES {
        emu.set_status(s, IDENTIFIER, "PENDING_AUTH");
        emu.approve(s, IDENTIFIER);
    }
    let dir = tempfile::tempdir().unwrap();
    let connections: serde_json::Value = SERVICES
        .iter()
        .map(|s| {
            (
                s.to_string(),
                serde_json::json!({"connection_name": s, "identifier": IDENTIFIER}),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into();
    // Where get-token looks (never the working directory): the user config directory under HOME, private.
    let config = dir.path().join(".config/tokenbroker");
    std::fs::create_dir_all(&config).unwrap();
    let file = config.join("connections.json");
    std::fs::write(&file, connections.to_string()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.path().join(".config"),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let get_token = |args: &[&str]| {
        let mut c = Command::new(GET_TOKEN);
        c.args(args)
            .env_clear()
            .env("HOME", dir.path())
            .env("SCALEKIT_ENV_URL", emu.url())
            .env("SCALEKIT_CLIENT_ID", emu.client_id())
            .env("SCALEKIT_CLIENT_SECRET", emu.client_secret())
            .current_dir(dir.path())
            .stdout(Stdio::null());
        c
    };

    // A benchmark of failing calls measures nothing: one checked call first, with get-token's own words.
    let check = get_token(&["gmail"])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "get-token gmail failed against the emulator: {}",
        String::from_utf8_lossy(&check.stderr)
    );

    println!(
        "tokenbroker benchmarks: {runs} runs per process figure, emulator on {}",
        emu.url()
    );
    println!("machine: {}", machine());
    println!();

    // 6 (first, so that no larger child has raised the high-water mark): peak memory of one call.
    let peak_kib = run_ok(&mut get_token(&["gmail"]))
        .then(max_child_rss_kib)
        .flatten();
    let size = std::fs::metadata(GET_TOKEN).map(|m| m.len()).unwrap_or(0);

    // 1. One call as a whole process, against the same two requests by curl and by Python.
    let ours = median_of(runs, || run_ok(&mut get_token(&["gmail"])));
    let token_url = format!("{}/oauth/token", emu.url());
    let auth_url = format!(
        "{}/api/v1/connected_accounts/auth?connector=gmail&identifier={IDENTIFIER}",
        emu.url()
    );
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        emu.client_id(),
        emu.client_secret()
    );
    let curl_pair = median_of(runs, || {
        let out = Command::new("curl")
            .args(["-sS", "-X", "POST", "-d", &form, &token_url])
            .output()
            .ok()?;
        let body: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        let api_token = body["access_token"].as_str()?.to_owned();
        run_ok(Command::new("curl").args([
            "-sS",
            "-o",
            "/dev/null",
            "-H",
            &format!("Authorization: Bearer {api_token}"),
            &auth_url,
        ]))
        .then_some(())
    });
    let python = median_of(runs.min(20), || {
        let script = format!(
            "import requests\n\
             t = requests.post({token_url:?}, data={{'grant_type': 'client_credentials', \
             'client_id': {id:?}, 'client_secret': {secret:?}}}).json()['access_token']\n\
             requests.get({auth_url:?}, headers={{'Authorization': 'Bearer ' + t}}).json()\n",
            id = emu.client_id(),
            secret = emu.client_secret(),
        );
        run_ok(
            Command::new("python3")
                .args(["-c", &script])
                .stdout(Stdio::null()),
        )
        .then_some(())
    });

    // 2. Connections per CLI call.
    emu.reset_counts();
    let calls = 10;
    for _ in 0..calls {
        run_ok(&mut get_token(&["gmail"]));
    }
    let connections_per_call = emu.connections_accepted() as f64 / calls as f64;
    let requests_per_call =
        (emu.requests(Route::Token) + emu.requests(Route::Auth)) as f64 / calls as f64;

    // 3. The library: a cached call, and a cold one (new broker: API token plus account).
    let broker = library_broker(&emu, CachePolicy::default());
    rt.block_on(broker.get_token("gmail")).unwrap();
    emu.reset_counts();
    let warm_calls = 1_000_000u32;
    let started = Instant::now();
    rt.block_on(async {
        for _ in 0..warm_calls {
            std::hint::black_box(broker.get_token("gmail").await.unwrap());
        }
    });
    let warm = started.elapsed() / warm_calls;
    let warm_requests = emu.requests(Route::Token) + emu.requests(Route::Auth);
    let cold = median_of(runs, || {
        let broker = library_broker(&emu, CachePolicy::default());
        rt.block_on(broker.get_token("gmail")).ok().map(drop)
    });

    // 4. 1,000 concurrent calls for one service on a fresh broker.
    let broker = library_broker(&emu, CachePolicy::default());
    emu.reset_counts();
    let started = Instant::now();
    let ok = rt.block_on(async {
        let tasks: Vec<_> = (0..1000)
            .map(|_| {
                let b = broker.clone();
                tokio::spawn(async move { b.get_token("gmail").await.is_ok() })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            ok += usize::from(t.await.unwrap_or(false));
        }
        ok
    });
    let burst = started.elapsed();
    let burst_requests = (emu.requests(Route::Token), emu.requests(Route::Auth));

    // 5. Five services against one, with 100 ms of latency on every request.
    // `.any()`: every route, not only the token endpoint.
    emu.inject(
        Fault::delay(Route::Token, Duration::from_millis(100))
            .any()
            .times(usize::MAX),
    );
    let slow_runs = runs.min(15);
    let one = median_of(slow_runs, || run_ok(&mut get_token(&["gmail"])));
    let five = median_of(slow_runs, || run_ok(&mut get_token(&SERVICES)));

    let ms = |d: Option<Duration>| {
        d.map_or("failed".into(), |d| {
            format!("{:.2} ms", d.as_secs_f64() * 1e3)
        })
    };
    let ratio = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (Some(a), Some(b)) => format!("{:.2}x", a.as_secs_f64() / b.as_secs_f64()),
        _ => "-".into(),
    };
    println!("| # | measure | result | goal |");
    println!("|---|---|---|---|");
    println!(
        "| 1 | `get-token gmail`, whole process (median) | {} | at or below the curl pair |",
        ms(ours)
    );
    println!(
        "| 1 | same two requests, two `curl` processes (median) | {} | |",
        ms(curl_pair)
    );
    println!(
        "| 1 | same two requests, one `python3` + `requests` process (median) | {} | |",
        ms(python)
    );
    println!(
        "| 1 | get-token vs curl pair | {} the time | <= 1.00x |",
        ratio(ours, curl_pair)
    );
    println!(
        "| 1 | get-token against Python: Python takes | {} the time | >= 20x |",
        ratio(python, ours)
    );
    println!("| 2 | connections per CLI call (emulator count) | {connections_per_call:.2} | 1 |");
    println!("| 2 | requests per CLI call | {requests_per_call:.2} | 2 |");
    println!(
        "| 3 | library, cached `get_token` per call ({warm_calls} calls) | {:.0} ns, {warm_requests} requests | no request, well under 1 us |",
        warm.as_secs_f64() * 1e9
    );
    println!(
        "| 3 | library, cold `get_token` (new broker, median) | {} | |",
        ms(cold)
    );
    println!(
        "| 4 | 1,000 concurrent `get_token`, one service | {:.2} ms, {ok}/1000 ok, {} API-token + {} account requests | 1 + 1 |",
        burst.as_secs_f64() * 1e3,
        burst_requests.0,
        burst_requests.1
    );
    println!(
        "| 5 | 1 service, 100 ms per request (median) | {} | |",
        ms(one)
    );
    println!(
        "| 5 | 5 services, 100 ms per request (median) | {} | |",
        ms(five)
    );
    println!("| 5 | 5 services vs 1 | {} | < 1.5x |", ratio(five, one));
    println!(
        "| 6 | release binary size | {:.2} MB | |",
        size as f64 / 1e6
    );
    println!(
        "| 6 | peak memory (max RSS) of one call | {} | |",
        peak_kib.map_or("unknown".into(), |k| format!("{:.1} MB", k as f64 / 1024.0))
    );
    // curl and Python are optional comparisons; get-token's own figures are not.
    if ours.is_none() || one.is_none() || five.is_none() {
        eprintln!("a get-token run failed during the benchmark");
        std::process::exit(1);
    }
}

fn library_broker(emu: &Emulator, cache: CachePolicy) -> Broker {
    let connections = Connections::new()
        .with(
            "gmail",
            Connection::new("gmail").with_identifier(IDENTIFIER),
        )
        .unwrap();
    Broker::builder()
        .credentials(emu.credentials())
        .connections(connections)
        .cache(cache)
        .config_dir("/nonexistent/tokenbroker-bench")
        .home_dir("/nonexistent/tokenbroker-bench")
        .build()
        .unwrap()
}

fn run_ok(command: &mut Command) -> bool {
    command.status().is_ok_and(|s| s.success())
}

/// The median time of `runs` runs after two warm-up runs; `None` if any run failed.
fn median_of<T>(runs: usize, mut job: impl FnMut() -> T) -> Option<Duration>
where
    T: Succeeded,
{
    for _ in 0..2 {
        job();
    }
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        if !job().succeeded() {
            return None;
        }
        times.push(started.elapsed());
    }
    times.sort();
    times.get(runs / 2).copied()
}

trait Succeeded {
    fn succeeded(&self) -> bool;
}

impl Succeeded for bool {
    fn succeeded(&self) -> bool {
        *self
    }
}

impl Succeeded for Option<()> {
    fn succeeded(&self) -> bool {
        self.is_some()
    }
}

/// The largest resident set of any child waited for so far (Linux reports it in KiB).
fn max_child_rss_kib() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: getrusage writes a whole rusage into the pointer it is given.
        let ok = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()) } == 0;
        // SAFETY: zero-initialised, and filled in when `ok`.
        let usage = unsafe { usage.assume_init() };
        ok.then(|| u64::try_from(usage.ru_maxrss).unwrap_or(0))
    }
    #[cfg(not(unix))]
    None
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "{cpu}, {cores} cores, {} {}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}
