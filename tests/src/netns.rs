//! Throw-away network namespaces with a veth pair, for tests of the kernel path.
//!
//! [`VethLab::create`] makes one namespace holding both ends of a veth pair, `xfcap` (where
//! xdpflow captures) and `xfgen` (where the generator transmits), each with `queues` RX and TX
//! queues, addresses in 198.18.0.0/15 only, IPv6 off (no router solicitations in the counts).
//! Dropping the lab deletes the namespace, which deletes the pair and anything attached to it.
//!
//! Tests call [`skip_unless_root`] first: without root they print why they skip and return.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// The capture end of the pair.
pub const CAP_IF: &str = "xfcap";
/// The generator end of the pair.
pub const GEN_IF: &str = "xfgen";
/// Address of the capture end.
pub const CAP_ADDR: &str = "198.18.0.1";
/// Address of the generator end.
pub const GEN_ADDR: &str = "198.18.0.2";

/// `true` when the kernel path can be tested (root and `ip` present); otherwise prints why the
/// test named `test` skips and returns `false`.
pub fn skip_unless_root(test: &str) -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false);
    if !root {
        println!("skipped {test}: the kernel path (netns, veth, XDP) needs root");
        return false;
    }
    if Command::new("ip").arg("-V").output().is_err() {
        println!("skipped {test}: `ip` (iproute2) is not installed");
        return false;
    }
    true
}

/// A namespace with a veth pair; deleted on drop.
#[derive(Debug)]
pub struct VethLab {
    /// Name of the namespace (`/run/netns/NAME`).
    pub ns: String,
}

impl VethLab {
    /// Creates a fresh namespace with `xfcap` ⇄ `xfgen`, `queues` RX/TX queues on each end,
    /// both up, MTU 1500.
    ///
    /// # Panics
    ///
    /// When an `ip` command fails: a test cannot go on without its lab.
    pub fn create(queues: u32) -> VethLab {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let ns = format!(
            "xft-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let lab = VethLab { ns };
        let q = queues.to_string();
        run(&["ip", "netns", "add", &lab.ns]);
        let ns = lab.ns.as_str();
        run(&[
            "ip",
            "-n",
            ns,
            "link",
            "add",
            CAP_IF,
            "numtxqueues",
            &q,
            "numrxqueues",
            &q,
            "type",
            "veth",
            "peer",
            "name",
            GEN_IF,
            "numtxqueues",
            &q,
            "numrxqueues",
            &q,
        ]);
        for (ifname, addr) in [(CAP_IF, CAP_ADDR), (GEN_IF, GEN_ADDR)] {
            run(&[
                "ip",
                "netns",
                "exec",
                ns,
                "sysctl",
                "-qw",
                &format!("net.ipv6.conf.{ifname}.disable_ipv6=1"),
            ]);
            run(&["ip", "-n", ns, "link", "set", ifname, "mtu", "1500", "up"]);
            run(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                ifname,
            ]);
        }
        run(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        lab
    }

    /// Runs `args` inside the namespace (`ip netns exec NS args...`) and returns its output.
    pub fn exec(&self, args: &[&str]) -> std::process::Output {
        Command::new("ip")
            .args(["netns", "exec", &self.ns])
            .args(args)
            .output()
            .expect("ip netns exec runs")
    }

    /// A command prefixed with `ip netns exec NS`, for the caller to configure and spawn.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns, program]);
        c
    }

    /// Moves the calling thread into the namespace (see `xdp_prog::enter_netns`).
    ///
    /// # Panics
    ///
    /// When the namespace cannot be entered.
    pub fn enter(&self) {
        xdp_prog::enter_netns(&self.ns).expect("enter the lab's namespace");
    }

    /// Reads `/sys/class/net/IF/statistics/NAME` inside the namespace.
    pub fn if_stat(&self, ifname: &str, name: &str) -> u64 {
        let out = self.exec(&["cat", &format!("/sys/class/net/{ifname}/statistics/{name}")]);
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0)
    }
}

impl Drop for VethLab {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
    }
}

fn run(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", args.join(" ")));
    assert!(
        out.status.success(),
        "{} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}
