//! A bounded fuzz run on every test run: generated and mutated inputs for
//! `check`, `build` and `fmt` (sources), the policy loader (bytecode, also with its
//! checksum made right again) and the plugin loader (WebAssembly), in a
//! worker process with a memory limit (512 MiB of data) and a time limit
//! per input (5 s). Every input must end in a result: no panic, no timeout,
//! no kill by the limit. The counts are printed. `tests/fuzz/` has the
//! cargo-fuzz targets for longer runs.
//!
//! The worker is this same binary, started with `--worker KIND FIRST`; it
//! makes the inputs itself from a fixed seed, so a failing input is named by
//! its kind and number and can be replayed.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc::{channel, RecvTimeoutError};
use std::time::Duration;

const MEMORY_LIMIT: u64 = 512 << 20;
const TIME_LIMIT: Duration = Duration::from_secs(5);

/// Each kind of input and how many of it a run makes.
const KINDS: &[(&str, usize)] = &[("source", 10_000), ("text", 4_000), ("policy", 5_000), ("plugin", 1_000)];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--worker") {
        let first: usize = args[at + 2].parse().expect("first input");
        worker(&args[at + 1], first);
        return;
    }
    if args.iter().any(|a| a == "--list") {
        println!("fuzz_bounded: test");
        return;
    }
    let mut failures = Vec::new();
    let mut total = 0;
    for &(kind, count) in KINDS {
        let (done, failed) = supervise(kind, count);
        println!("fuzz {kind:>7}: {done} inputs, {} failed", failed.len());
        total += done;
        failures.extend(failed);
    }
    println!(
        "fuzz: {total} inputs in all, {} failed (memory limit {} MiB, {} s per input)",
        failures.len(),
        MEMORY_LIMIT >> 20,
        TIME_LIMIT.as_secs()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Runs `count` inputs of `kind` through workers, starting a new one after
/// a crash or a timeout; the failures, named.
fn supervise(kind: &str, count: usize) -> (usize, Vec<String>) {
    let mut failures = Vec::new();
    let mut next = 0;
    while next < count {
        let mut worker = Command::new(std::env::current_exe().expect("own path"));
        worker.args(["--worker", kind, &next.to_string()]).stdout(Stdio::piped()).stderr(Stdio::piped());
        limit_memory(&mut worker);
        let mut child = worker.spawn().expect("worker starts");
        let (tx, rx) = channel();
        let stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        loop {
            match rx.recv_timeout(TIME_LIMIT) {
                Ok(line) => {
                    let (word, rest) = line.split_once(' ').unwrap_or((&line, ""));
                    match word {
                        "ok" => next += 1,
                        "panic" => {
                            failures.push(format!("{kind} #{next}: panic: {rest}"));
                            next += 1;
                        }
                        _ => {}
                    }
                    if next >= count {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    failures.push(format!("{kind} #{next}: no result within {TIME_LIMIT:?}"));
                    let _ = child.kill();
                    let _ = child.wait();
                    next += 1;
                    break;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = child.wait().expect("worker ends");
                    let mut err = String::new();
                    let _ = std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut err);
                    let last = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").to_string();
                    failures.push(format!("{kind} #{next}: worker ended ({status}): {last}"));
                    next += 1;
                    break;
                }
            }
        }
    }
    (next.min(count), failures)
}

/// RLIMIT_DATA on the worker: its heap and private writable mappings.
/// (Not RLIMIT_AS: wasmtime reserves address space it never touches.)
/// Set in the child before it runs anything of its own.
fn limit_memory(worker: &mut Command) {
    use std::os::unix::process::CommandExt;
    let limit = libc::rlimit { rlim_cur: MEMORY_LIMIT, rlim_max: MEMORY_LIMIT };
    // SAFETY: setrlimit(2) is async-signal-safe, as code between fork and
    // exec must be; `limit` is a plain value copied into the closure.
    unsafe {
        worker.pre_exec(move || match libc::setrlimit(libc::RLIMIT_DATA, &limit) {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        });
    }
}

/// A small deterministic generator (xorshift64*), so that input N of a kind
/// is the same in every run.
struct Rng(u64);

impl Rng {
    fn new(kind: &str, n: usize) -> Rng {
        let seed = kind.bytes().fold(0x9e37_79b9_7f4a_7c15u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        Rng(seed ^ (n as u64).wrapping_mul(0x2545_f491_4f6c_dd1d) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Characters that matter to the grammar, so generated text reaches deep rules.
const ALPHABET: &[u8] = b"{}();,:./%\"\\#!&|<>=-_ \t\n0123456789abcdefxyz";

/// Inserts, deletes and overwrites a few bytes (from `alphabet`, or any
/// byte when it is empty).
fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>, alphabet: &[u8]) {
    for _ in 0..1 + rng.below(8) {
        let byte = if alphabet.is_empty() { rng.next() as u8 } else { alphabet[rng.below(alphabet.len())] };
        let at = rng.below(bytes.len());
        match rng.below(3) {
            0 if !bytes.is_empty() => {
                bytes.remove(at);
            }
            1 => bytes.insert(at.min(bytes.len()), byte),
            _ if !bytes.is_empty() => bytes[at] = byte,
            _ => {}
        }
    }
}

fn sources() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for dir in ["examples", "tests/ui"] {
        for path in std::fs::read_dir(dir).expect("corpus dir").map(|e| e.expect("entry").path()) {
            if path.extension().is_some_and(|e| e == "wan") {
                out.push(std::fs::read(&path).expect("readable"));
            }
        }
    }
    out.sort();
    out
}

fn worker(kind: &str, first: usize) {
    let count = KINDS.iter().find(|(k, _)| *k == kind).map(|&(_, n)| n).expect("known kind");
    let corpus: Vec<Vec<u8>> = match kind {
        "policy" => sources()
            .iter()
            .filter_map(|s| wanc::driver::compile_source("fuzz.wan", &String::from_utf8_lossy(s)).plan)
            .map(|plan| wanc::bytecode::encode(&plan.site))
            .collect(),
        "plugin" => std::fs::read_dir("tests/ui/plugins")
            .expect("plugins")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "wat"))
            .map(|p| wat::parse_file(&p).expect("fixture assembles"))
            .collect(),
        _ => sources(),
    };
    let host = (kind == "plugin").then(|| wanc::plugin::PluginHost::new().expect("plugin host"));
    // A panic is a result to report, not the end of the worker.
    std::panic::set_hook(Box::new(|_| {}));
    for n in first..count {
        let mut rng = Rng::new(kind, n);
        let mut input = match kind {
            "text" => (0..rng.below(400)).map(|_| ALPHABET[rng.below(ALPHABET.len())]).collect(),
            _ => corpus[rng.below(corpus.len())].clone(),
        };
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match kind {
            "source" | "text" => {
                if kind == "source" {
                    mutate(&mut rng, &mut input, ALPHABET);
                }
                compile_and_build(&String::from_utf8_lossy(&input));
            }
            "policy" => {
                mutate(&mut rng, &mut input, b"");
                if rng.below(2) == 0 && input.len() > wanc::bytecode::format::CHECKSUM_FROM {
                    let sum = wanc::bytecode::format::crc32(&input[wanc::bytecode::format::CHECKSUM_FROM..]);
                    input[4..8].copy_from_slice(&sum.to_le_bytes());
                }
                if let Ok(site) = wanc::bytecode::decode(&input) {
                    let _ = wanc::lower::lower(site);
                }
                let _ = wanc::bytecode::disasm(&input);
            }
            _ => {
                mutate(&mut rng, &mut input, b"");
                let _ = host.as_ref().expect("host").load_bytes(&input);
            }
        }));
        match outcome {
            Ok(()) => println!("ok"),
            Err(e) => {
                let message = e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()));
                println!("panic {}", message.unwrap_or_default().replace('\n', " "));
            }
        }
    }
}

/// `wanc check` and, for a clean site, `wanc build` for both targets, in
/// memory; and `wanc fmt`, whose output must format to itself.
fn compile_and_build(text: &str) {
    if let Ok(formatted) = wanc::format::format(text) {
        assert!(wanc::format::format(&formatted).is_ok_and(|again| again == formatted), "wanc fmt is not idempotent");
    }
    let c = wanc::driver::compile_source("tests/ui/fuzz.wan", text);
    if let Some(plan) = &c.plan {
        let _ = wanc::backend::all(plan, &wanc::lower::Target::ALL);
        let _ = wanc::bytecode::decode(&wanc::bytecode::encode(&plan.site));
    }
    let _ = wanc::render::short(&c.diagnostics, &c.sources);
}
