//! The real `aos` binary in a pseudo-terminal against a real local network (gateway, SU, CU,
//! MU started in this test process by `localnet`): what a developer does in the first five
//! minutes, and what they see when something is down.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use localnet::{Config, Localnet, Ports, Summary};
use rexpect::session::{PtySession, spawn_with_options};

const TIMEOUT_MS: u64 = 60_000;

struct Net {
    summary: Summary,
    /// The wallet every test's processes belong to (created by the first `aos --list`).
    wallet: PathBuf,
    home: PathBuf,
}

/// One network for the whole test binary; its runtime lives as long as the binary.
fn net() -> &'static Net {
    static NET: OnceLock<Net> = OnceLock::new();
    NET.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let runtime = Box::leak(Box::new(tokio::runtime::Runtime::new().unwrap()));
        let mut config = Config::new(dir.join("net"));
        config.ports = Ports::ANY;
        config.block_interval = Duration::from_millis(200);
        let localnet = runtime.block_on(Localnet::start(config)).unwrap();
        let summary = localnet.summary().clone();
        // Kept running until the test binary exits.
        Box::leak(Box::new(localnet));
        let home = dir.join("home");
        std::fs::create_dir_all(&home).unwrap();
        let wallet = home.join(".aos.json");
        let net = Net {
            summary,
            wallet: wallet.clone(),
            home,
        };
        let out = aos(&net).arg("--list").output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.contains("created a new wallet"), "{stderr}");
        assert!(wallet.exists());
        net
    })
}

/// The binary with the network's URLs and the shared wallet.
fn aos(net: &Net) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_aos"));
    command
        .env("HOME", &net.home)
        .env("AOS_MU_URL", &net.summary.mu_url)
        .env("AOS_CU_URL", &net.summary.cu_url)
        .env("AOS_GATEWAY_URL", &net.summary.gateway_url)
        .env("AOS_LIVE_MS", "200")
        .env("NO_COLOR", "1")
        .arg("--wallet")
        .arg(&net.wallet);
    command
}

fn pty(command: Command) -> PtySession {
    let options = rexpect::reader::Options::new()
        .timeout_ms(Some(TIMEOUT_MS))
        .strip_ansi_escape_codes(true);
    spawn_with_options(command, options).unwrap()
}

/// Opens `name` in the REPL and waits for its prompt; answers the session and the process id.
fn open(net: &Net, name: &str, extra: &[&str]) -> (PtySession, String) {
    let mut command = aos(net);
    command.arg(name).args(extra);
    let mut p = pty(command);
    let (_, banner) = p
        .exp_regex(&format!(r"process {name} \([A-Za-z0-9_-]{{43}}\)"))
        .unwrap();
    let id = banner[banner.len() - 44..banner.len() - 1].to_owned();
    p.exp_string(&format!("{name}> ")).unwrap();
    (p, id)
}

/// Types a line and waits for the editor to echo it: rustyline reads ahead, and lines typed
/// before it has taken the previous one are dropped with its buffer (a terminal's bracketed
/// paste arrives as one line and is not affected).
fn type_line(p: &mut PtySession, line: &str) {
    p.send_line(line).unwrap();
    p.exp_string(line).unwrap();
}

fn one_shot(net: &Net, args: &[&str]) -> (i32, String, String) {
    let out = aos(net).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_process_is_spawned_by_name_evaluates_and_is_found_again() {
    let net = net();
    let (mut p, id) = open(net, "alpha", &[]);
    p.send_line("1 + 41").unwrap();
    p.exp_string("42").unwrap();
    type_line(&mut p, "Counter = 7");
    p.exp_string("alpha@aos-").unwrap();
    p.send_line(".exit").unwrap();
    p.exp_eof().unwrap();

    // The gateway learns of the process from the SU's upload; then `aos alpha` opens it again.
    let mut listed = String::new();
    for _ in 0..100 {
        listed = one_shot(net, &["--list"]).1;
        if listed.contains(&id) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(listed.contains(&format!("{id}  alpha")), "{listed}");
    let (code, out, err) = one_shot(net, &["alpha", "--run", "Counter * 6"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "42");
    assert!(!err.contains("spawned"), "{err}");
    // History is kept per process.
    let history = std::fs::read_to_string(net.home.join(".aos/history").join(&id)).unwrap();
    assert!(history.contains("Counter = 7"), "{history}");
}

#[test]
fn load_inlines_local_requires_and_points_errors_at_the_file() {
    let net = net();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "lib/greet.lua",
        "local M = {}\nfunction M.hello(who) return 'hello ' .. who end\nreturn M\n",
    );
    write(
        dir.path(),
        "main.lua",
        "local greet = require('lib.greet')\nGreeting = greet.hello('loader')\nprint(Greeting)\n",
    );
    write(
        dir.path(),
        "lib/bad.lua",
        "local x = 1\nerror('boom in bad')\nreturn {}\n",
    );
    write(dir.path(), "broken.lua", "local bad = require('lib.bad')\n");

    let (mut p, _) = open(net, "loader", &[]);
    p.send_line(&format!(".load {}", dir.path().join("main.lua").display()))
        .unwrap();
    p.exp_string("hello loader").unwrap();
    p.send_line(&format!(
        ".load {}",
        dir.path().join("broken.lua").display()
    ))
    .unwrap();
    p.exp_string("boom in bad").unwrap();
    p.exp_string("lib/bad.lua:2").unwrap();
    p.exp_string("2 | error('boom in bad')").unwrap();
    // A typed error shows the line typed.
    p.send_line("nope()").unwrap();
    p.exp_string("1 | nope()").unwrap();
    p.send_line(".exit").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn a_blueprint_loads_and_dry_runs_keep_nothing() {
    let net = net();
    let (mut p, _) = open(net, "tokens", &[]);
    p.send_line(".load-blueprint token").unwrap();
    p.exp_string("loaded blueprint token").unwrap();
    p.send_line("Token.Ticker").unwrap();
    p.exp_string("EXT").unwrap();

    p.send_line(".dryrun").unwrap();
    p.exp_string("dry runs on").unwrap();
    p.send_line("Scratch = 99; return Scratch").unwrap();
    p.exp_string("99").unwrap();
    p.send_line(".dryrun").unwrap();
    p.exp_string("dry runs off").unwrap();
    p.send_line("return tostring(Scratch)").unwrap();
    p.exp_string("nil").unwrap();

    p.send_line(".editor").unwrap();
    p.exp_string("editor mode").unwrap();
    type_line(&mut p, "local a = 20");
    type_line(&mut p, "return a + 3");
    type_line(&mut p, ".done");
    p.exp_string("23").unwrap();
    p.send_line(".load-blueprint nothing-such").unwrap();
    p.exp_string("no blueprint \"nothing-such\"").unwrap();
    p.send_line(".exit").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn a_message_from_another_process_appears_live() {
    let net = net();
    let (mut p, id) = open(net, "listener", &[]);
    let code = format!("Send({{ Target = '{id}', Action = 'Greet', Data = 'hello from talker' }})");
    let (status, _, err) = one_shot(net, &["talker", "--run", &code]);
    assert_eq!(status, 0, "{err}");
    p.exp_string("New Message From").unwrap();
    p.exp_string("Greet").unwrap();
    // The prompt is still usable after the feed printed.
    p.send_line("#Inbox").unwrap();
    p.exp_string("1").unwrap();
    p.send_line(".exit").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn a_unit_that_is_down_is_named_with_its_endpoint() {
    let net = net();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let (code, _, err) = one_shot(net, &["downcheck", "--cu-url", &closed, "--run", "1"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!("cannot reach the CU at {closed}/result/")),
        "{err}"
    );
    assert!(err.contains("Is the network running?"), "{err}");
    let (code, _, err) = one_shot(net, &["--mu-url", &closed, "mudown", "--run", "1"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!("cannot reach the MU at {closed}")),
        "{err}"
    );
    // A Lua error in one-shot mode is exit status 1.
    let (code, _, err) = one_shot(net, &["alpha-err", "--run", "error('bad')"]);
    assert_eq!(code, 1, "{err}");
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}
