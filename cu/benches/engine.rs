//! Engine micro-benchmarks (BENCHMARKS.md format: one `name value unit` line per figure).
//! Run: `cargo bench -p cu --bench engine` (`-- many` runs only the many-processes figures,
//! `-- many 20000 512` with 20,000 processes and a 512 MiB budget; `-- resident 100000 2`
//! keeps 100,000 processes resident on 2 threads, no eviction; `-- w1 100000` or `-- w2 …` runs
//! one workload alone). W1 runs on the process library in `cu/lua`
//! (bundled from its manifest as the CU will), and so does W2 (its check value is compared with a
//! simulation of the same transfers in Rust). "Many processes" spawns 100,000 library processes
//! under a memory budget, evicting the least recently used to the CU's store as the server does.

use std::collections::VecDeque;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use ao_core::Id;
use cu::store::{Batch, Store, StoredCheckpoint};
use cu::{Checkpoint, Limits, Module, Process};
use serde_json::{Value as Json, json};

const TINY: &str = r#"
return { handle = function(msg, env)
  Count = (Count or 0) + 1
  local t = {}
  for i = 1, 10 do t[i] = i * 2 end
  Seen = Seen or {}
  Seen[Count % 100] = msg.Tags[1].value .. #t
  return { Output = Count, Messages = {} }
end }
"#;

const EVAL: &str = r#"
return { handle = function(msg, env)
  return { Output = assert(load(msg.Data))() }
end }
"#;

const ENTRIES: &str = "Balances = {} for i = 1, 1000 do \
    Balances[string.format('ACCT%039d', i)] = 1000000000 + i end";

fn module(source: &str) -> Arc<Module> {
    Arc::new(Module::parse(source.as_bytes()).expect("bench module parses"))
}

fn message(i: u64) -> Json {
    json!({
        "Id": format!("msg-{i}"), "From": "sender", "Owner": "sender", "Target": "pid",
        "Timestamp": 1_700_000_000_000_u64 + i, "Block-Height": 1000, "Data": "",
        "Tags": [{"name": "Action", "value": "Ping"}, {"name": "Reference", "value": i.to_string()}],
    })
}

fn env() -> Json {
    json!({"Process": {"Id": "pid", "Owner": "owner", "Tags": []}, "Module": {"Id": "mid", "Tags": []}})
}

fn library() -> Arc<Module> {
    Arc::new(Module::parse(cu::library::bundle().as_bytes()).unwrap())
}

const PID: &str = "w1-process-000000000000000000000000000000000";
const OWNER: &str = "w1-owner-00000000000000000000000000000000000";
const PINGER: &str = "w1-pinger-0000000000000000000000000000000000";

fn library_env() -> Json {
    json!({
        "Process": { "Id": PID, "Owner": OWNER, "Tags": [{ "name": "Module", "value": "mod" }] },
        "Module": { "Id": "mod", "Owner": OWNER, "Tags": [] },
    })
}

fn library_message(nonce: i64, from: &str, action: &str, data: &str) -> Json {
    process_message(PID, nonce, from, action, data)
}

fn process_message(pid: &str, nonce: i64, from: &str, action: &str, data: &str) -> Json {
    let id = if nonce == 0 {
        pid.to_owned()
    } else {
        format!("w1-msg-{nonce:036}")
    };
    json!({
        "Id": id, "Signature": "sig", "Owner": from, "From": from, "Target": pid, "Data": data,
        "Tags": [{ "name": "Action", "value": action }], "Epoch": 0, "Nonce": nonce,
        "Timestamp": 1_700_000_000_000_i64 + nonce, "Block-Height": 1_500_000,
        "Hash-Chain": "chain", "Cron": false,
    })
}

/// W1 of BENCHMARKS.md, engine only (messages built ahead, results checked).
fn w1(n: i64) -> (f64, usize) {
    let mut p = Process::new(library(), Limits::default()).unwrap();
    let env = library_env();
    let mut nonce = 0;
    let mut send = |p: &mut Process, from: &str, action: &str, data: &str| {
        let result = p
            .handle(&library_message(nonce, from, action, data), &env)
            .unwrap();
        nonce += 1;
        assert_eq!(result.failure, None, "{}", result.result);
        result.result
    };
    send(&mut p, OWNER, "Spawn", "");
    send(
        &mut p,
        OWNER,
        "Eval",
        "Handlers.add('ping', Handlers.utils.hasMatchingTag('Action','Ping'), \
        function(m) Count = (Count or 0) + 1; ao.send({Target=m.From, Data='pong'}) end)",
    );
    for _ in 0..200 {
        send(&mut p, PINGER, "Ping", "");
    }
    send(&mut p, OWNER, "Eval", "Count = 0");
    let idle_memory = p.used_memory();
    let pings: Vec<Json> = (0..n)
        .map(|i| library_message(nonce + i, PINGER, "Ping", ""))
        .collect();
    let start = Instant::now();
    for ping in &pings {
        let result = p.handle(ping, &env).unwrap().result;
        assert_eq!(
            result["Messages"].as_array().map(Vec::len),
            Some(1),
            "one pong: {result}"
        );
    }
    let elapsed = start.elapsed().as_secs_f64();
    let count = p
        .handle(&library_message(nonce + n, OWNER, "Eval", "Count"), &env)
        .unwrap();
    let shown = count.result["Output"]["data"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(shown.contains(&n.to_string()), "Count == N, got {shown}");
    let start = Instant::now();
    let checkpoint = p.checkpoint().unwrap();
    println!(
        "checkpoint_library_state_save {:.0} us",
        start.elapsed().as_secs_f64() * 1e6
    );
    println!(
        "checkpoint_library_state_bytes {} bytes",
        checkpoint.bytes.len()
    );
    let start = Instant::now();
    black_box(Process::restore(library(), Limits::default(), &checkpoint).unwrap());
    println!(
        "checkpoint_library_state_restore {:.0} us",
        start.elapsed().as_secs_f64() * 1e6
    );
    (n as f64 / elapsed, idle_memory)
}

/// The W2 handler of BENCHMARKS.md, installed by one Eval.
const W2_SETUP: &str = "Balances = {}
for i = 1, 1000 do Balances[string.format('ACCT%039d', i)] = 1000000000 end
TransferErrors = 0
Handlers.add('transfer', Handlers.utils.hasMatchingTag('Action', 'Transfer'), function(m)
  local qty = tonumber(m.Tags.Quantity)
  local to = m.Tags.Recipient
  local from = m.From
  if qty and qty > 0 and (Balances[from] or 0) >= qty then
    Balances[from] = Balances[from] - qty
    Balances[to] = (Balances[to] or 0) + qty
    ao.send({Target = from, Action = 'Debit-Notice', Recipient = to, Quantity = tostring(qty)})
    ao.send({Target = to, Action = 'Credit-Notice', Sender = from, Quantity = tostring(qty)})
  else
    TransferErrors = TransferErrors + 1
    ao.send({Target = from, Action = 'Transfer-Error'})
  end
end)";

const W2_CHECK: &str = "local total, s = 0, 0
for i = 1, 1000 do
  local b = Balances[string.format('ACCT%039d', i)]
  total = total + b
  s = (s + i * b) % 1000000007
end
return total .. ':' .. s .. ':' .. TransferErrors";

fn account(i: u64) -> String {
    format!("ACCT{i:039}")
}

/// The transfer sequence of W2: a 32-bit LCG with seed 42.
struct Transfers(u64);

impl Iterator for Transfers {
    type Item = (u64, u64, u64);
    fn next(&mut self) -> Option<(u64, u64, u64)> {
        let mut step = || {
            self.0 = (self.0 * 1_664_525 + 1_013_904_223) % (1 << 32);
            self.0
        };
        let a = 1 + step() % 1000;
        let mut b = 1 + step() % 1000;
        if b == a {
            b = 1 + b % 1000;
        }
        let qty = 1 + step() % 1000;
        Some((a, b, qty))
    }
}

/// The expected W2 check value, by simulating the same transfers in Rust.
fn w2_expected(transfers: usize) -> String {
    let mut balances = vec![1_000_000_000u64; 1001];
    let mut errors = 0;
    for (a, b, qty) in Transfers(42).take(transfers) {
        if balances[a as usize] >= qty {
            balances[a as usize] -= qty;
            balances[b as usize] += qty;
        } else {
            errors += 1;
        }
    }
    let total: u64 = balances[1..].iter().sum();
    let s = (1..=1000u64).fold(0, |s, i| (s + i * balances[i as usize]) % 1_000_000_007);
    format!("{total}:{s}:{errors}")
}

fn transfer_message(nonce: i64, (a, b, qty): (u64, u64, u64)) -> Json {
    let mut m = library_message(nonce, &account(a), "Transfer", "");
    m["Tags"] = json!([
        { "name": "Action", "value": "Transfer" },
        { "name": "Recipient", "value": account(b) },
        { "name": "Quantity", "value": qty.to_string() },
    ]);
    m
}

/// W2 of BENCHMARKS.md, engine only: returns msgs/s and the check value (compared here).
fn w2(n: usize) -> (f64, String) {
    let mut p = Process::new(library(), Limits::default()).unwrap();
    let env = library_env();
    let mut nonce = 0;
    let handle = |p: &mut Process, m: Json| {
        let evaluation = p.handle(&m, &env).unwrap();
        assert_eq!(evaluation.failure, None, "{}", evaluation.result);
        evaluation.result
    };
    handle(&mut p, library_message(nonce, OWNER, "Spawn", ""));
    nonce += 1;
    handle(&mut p, library_message(nonce, OWNER, "Eval", W2_SETUP));
    nonce += 1;
    let mut transfers = Transfers(42);
    for t in transfers.by_ref().take(200) {
        handle(&mut p, transfer_message(nonce, t));
        nonce += 1;
    }
    let timed: Vec<Json> = transfers
        .take(n)
        .enumerate()
        .map(|(i, t)| transfer_message(nonce + i as i64, t))
        .collect();
    nonce += n as i64;
    let start = Instant::now();
    for m in &timed {
        let result = p.handle(m, &env).unwrap().result;
        assert_eq!(
            result["Messages"].as_array().map(Vec::len),
            Some(2),
            "a debit and a credit notice: {result}"
        );
    }
    let elapsed = start.elapsed().as_secs_f64();
    let check = handle(&mut p, library_message(nonce, OWNER, "Eval", W2_CHECK));
    let shown = check["Output"]["data"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let expected = w2_expected(200 + n);
    assert!(
        shown.contains(&expected),
        "W2 check: the process says {shown:?}, the simulation {expected}"
    );
    assert!(expected.ends_with(":0"), "zero transfer errors");
    (n as f64 / elapsed, expected)
}

fn handle_rate(interval: usize) -> f64 {
    let mut p = Process::new(module(TINY), Limits::default()).unwrap();
    p.set_checkpoint_interval(interval);
    let env = env();
    let messages: Vec<Json> = (0..20_000).map(message).collect();
    for m in &messages[..200] {
        p.handle(m, &env).unwrap();
    }
    let start = Instant::now();
    let mut last = Json::Null;
    for m in &messages[200..] {
        last = p.handle(m, &env).unwrap().result;
    }
    let elapsed = start.elapsed().as_secs_f64();
    assert_eq!(last["Output"], 20_000, "every message counted");
    (messages.len() - 200) as f64 / elapsed
}

/// Processes the many-processes figures spawn.
const MANY_PROCESSES: usize = 100_000;
/// Their memory budget: the Lua memory of the resident ones together.
const MANY_BUDGET_BYTES: usize = 2 << 30;
/// Evicted processes restored (and given one message) for the restore figure.
const RESTORES: usize = 1000;

fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<usize>().ok())
        })
        .unwrap_or(0)
        * 1024
}

fn many_pid(i: usize) -> String {
    format!("many-{i:038}")
}

fn many_id(i: usize) -> Id {
    let mut id = [0u8; 32];
    id[..8].copy_from_slice(&(i as u64).to_be_bytes());
    Id(id)
}

fn many_env(pid: &str) -> Json {
    json!({
        "Process": { "Id": pid, "Owner": OWNER, "Tags": [{ "name": "Module", "value": "mod" }] },
        "Module": { "Id": "mod", "Owner": OWNER, "Tags": [] },
    })
}

/// Library process `i`, its Process message evaluated, then collected as a worker collects an
/// idle process: what stays is its live state.
fn spawn_idle(module: &Arc<Module>, i: usize) -> Process {
    let pid = many_pid(i);
    let mut p = Process::new(module.clone(), Limits::default()).unwrap();
    let spawned = p
        .handle(
            &process_message(&pid, 0, OWNER, "Spawn", ""),
            &many_env(&pid),
        )
        .unwrap();
    assert_eq!(spawned.failure, None, "{}", spawned.result);
    p.collect_garbage().unwrap();
    p
}

/// Spawns `n` library processes (each evaluates its Process message) one after another on this
/// thread, keeping the resident ones' Lua memory under `budget`: past it the least recently used
/// is checkpointed into the CU's store (one durable commit each, as a worker does when it
/// unloads) and dropped. Then restores evicted processes from the store and evaluates one
/// message on each. Engine level: the HTTP path would measure the SU and the gateway too.
fn many_processes(n: usize, budget: usize) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let module = library();
    let rss_before = rss_bytes();
    let mut resident: VecDeque<(usize, Process, usize)> = VecDeque::new();
    let mut memory = 0;
    let (mut evicted, mut evict_time, mut checkpoint_bytes) = (0usize, 0f64, 0usize);
    let start = Instant::now();
    for i in 0..n {
        let p = spawn_idle(&module, i);
        let used = p.used_memory();
        memory += used;
        resident.push_back((i, p, used));
        while memory > budget {
            let Some((j, mut q, used)) = resident.pop_front() else {
                break;
            };
            let t = Instant::now();
            let checkpoint = q.checkpoint().unwrap();
            checkpoint_bytes += checkpoint.bytes.len();
            let mut batch = Batch::new(many_id(j));
            batch.checkpoint = Some(StoredCheckpoint {
                nonce: 0,
                assignment_id: [0; 32],
                hash_chain: [0; 32],
                timestamp: 1_700_000_000_000,
                block_height: 1_500_000,
                state: checkpoint.bytes,
                cron: None,
            });
            store.commit(&batch).unwrap();
            drop(q);
            evict_time += t.elapsed().as_secs_f64();
            memory -= used;
            evicted += 1;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let rss = rss_bytes();
    println!("many_processes_spawned {n} processes");
    println!(
        "many_processes_spawn_rate {:.0} processes/s",
        n as f64 / elapsed
    );
    println!("many_processes_budget {} MiB", budget >> 20);
    println!("many_processes_resident {} processes", resident.len());
    println!("many_processes_evicted {evicted} processes");
    println!("many_processes_rss {} MiB", rss >> 20);
    println!(
        "memory_per_idle_library_process_lua {} bytes",
        memory / resident.len().max(1)
    );
    println!(
        "memory_per_idle_library_process_rss {} bytes",
        rss.saturating_sub(rss_before) / resident.len().max(1)
    );
    if evicted > 0 {
        println!(
            "evict_checkpoint_and_commit {:.2} ms",
            evict_time * 1e3 / evicted as f64
        );
        println!(
            "checkpoint_spawned_library_process_bytes {} bytes",
            checkpoint_bytes / evicted
        );
    }
    drop(resident);

    // Restore evicted processes (spread over all of them) and evaluate one message on each.
    let restores = RESTORES.min(evicted);
    let mut times: Vec<f64> = Vec::with_capacity(restores);
    for k in 0..restores {
        let i = k * evicted / restores.max(1);
        let pid = many_pid(i);
        let env = many_env(&pid);
        let message = process_message(
            &pid,
            1,
            OWNER,
            "Eval",
            "Count = (Count or 0) + 1 return Count",
        );
        let t = Instant::now();
        let stored = store.checkpoint(&many_id(i)).unwrap().expect("evicted");
        let checkpoint = Checkpoint::from_bytes(stored.state);
        let mut p = Process::restore(module.clone(), Limits::default(), &checkpoint).unwrap();
        let result = p.handle(&message, &env).unwrap();
        times.push(t.elapsed().as_secs_f64());
        assert_eq!(result.failure, None, "{}", result.result);
        assert_eq!(result.result["Output"]["data"], "1", "{}", result.result);
    }
    if !times.is_empty() {
        times.sort_by(f64::total_cmp);
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        println!("restore_evicted_and_evaluate_one_mean {:.2} ms", mean * 1e3);
        println!(
            "restore_evicted_and_evaluate_one_p50 {:.2} ms",
            times[times.len() / 2] * 1e3
        );
        println!(
            "restore_evicted_and_evaluate_one_p99 {:.2} ms",
            times[times.len() * 99 / 100] * 1e3
        );
    }
}

/// Spawns `n` library processes spread over `threads` threads (as the CU's evaluation
/// threads hold them) and keeps every one resident: no budget, no eviction. Prints the spawn
/// rate, the Lua memory of an idle process after a full collection, and the resident memory of
/// the whole bench process per process (allocator overhead and the `Process` itself included).
/// Then evaluates one message on a sample of them, to show they are live.
fn resident_processes(n: usize, threads: usize) {
    let rss_before = rss_bytes();
    let start = Instant::now();
    let (done, finished) = std::sync::mpsc::channel();
    let (go, stop) = (
        Arc::new(std::sync::Barrier::new(threads + 1)),
        Arc::new(std::sync::Barrier::new(threads + 1)),
    );
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (done, go, stop) = (done.clone(), go.clone(), stop.clone());
            std::thread::Builder::new()
                .stack_size(cu::engine::STACK_BYTES_MIN)
                .spawn(move || {
                    let module = library();
                    let mut held = Vec::new();
                    let mut memory = 0usize;
                    for i in (t..n).step_by(threads) {
                        let p = spawn_idle(&module, i);
                        memory += p.used_memory();
                        held.push((i, p));
                    }
                    done.send(memory).unwrap();
                    drop(done);
                    go.wait();
                    // Every process is still live: a sample gets a message each.
                    let mut times = Vec::new();
                    for (i, p) in held.iter_mut().step_by(100) {
                        let pid = many_pid(*i);
                        let t0 = Instant::now();
                        let r = p
                            .handle(
                                &process_message(
                                    &pid,
                                    1,
                                    OWNER,
                                    "Eval",
                                    "Count = (Count or 0) + 1 return Count",
                                ),
                                &many_env(&pid),
                            )
                            .unwrap();
                        times.push(t0.elapsed().as_secs_f64());
                        assert_eq!(r.result["Output"]["data"], "1", "{}", r.result);
                    }
                    stop.wait();
                    drop(held);
                    times
                })
                .unwrap()
        })
        .collect();
    drop(done);
    let memory: usize = finished.iter().sum();
    let elapsed = start.elapsed().as_secs_f64();
    let rss = rss_bytes();
    go.wait();
    stop.wait();
    let mut times: Vec<f64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    times.sort_by(f64::total_cmp);
    println!("resident_processes {n} processes");
    println!("resident_threads {threads} threads");
    println!("resident_spawn_rate {:.0} processes/s", n as f64 / elapsed);
    println!("resident_lua_per_idle_process {} bytes", memory / n.max(1));
    println!("resident_rss_total {} MiB", rss >> 20);
    println!(
        "resident_rss_per_process {} bytes",
        rss.saturating_sub(rss_before) / n.max(1)
    );
    if !times.is_empty() {
        println!(
            "resident_one_message_p50 {:.3} ms",
            times[times.len() / 2] * 1e3
        );
    }
}

/// The allocator `ao-cu` uses (why: `cu/src/main.rs`), so these figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let many_only = args.iter().any(|a| a == "many");
    let mut numbers = args.iter().filter_map(|a| a.parse::<usize>().ok());
    if args.iter().any(|a| a == "w1" || a == "w2") {
        // One workload alone (for profiling): `-- w1 100000`.
        let n = numbers.next().unwrap_or(10_000) as i64;
        let w1_only = args.iter().any(|a| a == "w1");
        std::thread::Builder::new()
            .stack_size(cu::engine::STACK_BYTES_MIN)
            .spawn(move || {
                if w1_only {
                    println!("w1_ping_engine {:.0} msgs/s", w1(n).0);
                } else {
                    let (rate, check) = w2(n as usize);
                    println!("w2_transfer_engine {rate:.0} msgs/s");
                    println!("w2_check {check} value");
                }
            })
            .unwrap()
            .join()
            .unwrap();
        return;
    }
    if args.iter().any(|a| a == "resident") {
        let n = numbers.next().unwrap_or(MANY_PROCESSES);
        let threads = numbers.next().unwrap_or(2);
        resident_processes(n, threads);
        return;
    }
    let n = numbers.next().unwrap_or(MANY_PROCESSES);
    let budget = numbers.next().map_or(MANY_BUDGET_BYTES, |mb| mb << 20);
    // The engine's documented stack (see `STACK_BYTES_MIN`).
    std::thread::Builder::new()
        .stack_size(cu::engine::STACK_BYTES_MIN)
        .spawn(move || {
            if !many_only {
                run();
            }
            many_processes(n, budget);
        })
        .unwrap()
        .join()
        .unwrap();
}

fn run() {
    let (rate, memory) = w1(10_000);
    println!("w1_ping_engine {rate:.0} msgs/s");
    println!("memory_library_process_after_w1_setup {memory} bytes");
    let (rate, check) = w2(10_000);
    println!("w2_transfer_engine {rate:.0} msgs/s");
    println!("w2_check {check} value");
    println!("handle_tiny_module {:.0} calls/s", handle_rate(usize::MAX));
    println!(
        "handle_tiny_module_checkpoint_every_256 {:.0} calls/s",
        handle_rate(256)
    );

    let start = Instant::now();
    let idle: Vec<Process> = (0..100)
        .map(|_| Process::new(module(TINY), Limits::default()).unwrap())
        .collect();
    println!(
        "process_new {:.1} us",
        start.elapsed().as_secs_f64() * 1e6 / 100.0
    );
    let memory: usize = idle.iter().map(Process::used_memory).sum();
    println!("memory_per_idle_process {} bytes", memory / idle.len());
    let mut p = Process::new(module(TINY), Limits::default()).unwrap();
    p.handle(&message(0), &env()).unwrap();
    println!("memory_after_first_message {} bytes", p.used_memory());

    let mut p = Process::new(module(EVAL), Limits::default()).unwrap();
    p.handle(&json!({"Data": ENTRIES}), &env()).unwrap();
    let rounds = 50;
    let start = Instant::now();
    let mut checkpoint = None;
    for _ in 0..rounds {
        checkpoint = Some(p.checkpoint().unwrap());
    }
    let save = start.elapsed().as_secs_f64() / rounds as f64;
    let checkpoint = checkpoint.unwrap();
    println!(
        "checkpoint_1000_entries_bytes {} bytes",
        checkpoint.bytes.len()
    );
    println!("checkpoint_1000_entries_save {:.0} us", save * 1e6);
    let start = Instant::now();
    for _ in 0..rounds {
        let restored = Process::restore(module(EVAL), Limits::default(), &checkpoint).unwrap();
        black_box(restored);
    }
    let restore = start.elapsed().as_secs_f64() / rounds as f64;
    println!("checkpoint_1000_entries_restore {:.0} us", restore * 1e6);
    let mut restored = Process::restore(module(EVAL), Limits::default(), &checkpoint).unwrap();
    assert_eq!(
        restored.checkpoint().unwrap().hash,
        checkpoint.hash,
        "restore is exact"
    );

    // A failed message: restore from the checkpoint just taken plus replay of nothing.
    let fail = json!({"Data": "Balances = nil error('x')"});
    let start = Instant::now();
    for _ in 0..rounds {
        let evaluation = p.handle(&fail, &env()).unwrap();
        assert!(evaluation.failure.is_some());
    }
    let rollback = start.elapsed().as_secs_f64() / rounds as f64;
    println!("rollback_1000_entries {:.0} us", rollback * 1e6);
    let check = p.handle(
        &json!({"Data": "return Balances[string.format('ACCT%039d', 7)]"}),
        &env(),
    );
    assert_eq!(
        check.unwrap().result["Output"],
        1_000_000_007,
        "rollback kept the state"
    );
}
