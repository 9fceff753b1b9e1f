//! `--stats`: nfstream's statistical features, accumulated per packet in O(1) space.
//!
//! Packet sizes (`ps`, per `--accounting`) and inter-arrival times (`piat_ms`) keep min, max and
//! a running mean and variance (Welford). `stddev` is the *sample* standard deviation (n − 1), as
//! nfstream computes it; 0 with fewer than two values. TCP flags are counted per direction.

/// Running min / mean / stddev / max of one quantity.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Running {
    n: u64,
    mean: f64,
    m2: f64,
    min: u64,
    max: u64,
}

impl Running {
    /// Adds one value.
    #[inline]
    pub fn push(&mut self, x: u64) {
        if self.n == 0 {
            self.min = x;
            self.max = x;
        } else {
            self.min = self.min.min(x);
            self.max = self.max.max(x);
        }
        self.n += 1;
        let xf = x as f64;
        let delta = xf - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (xf - self.mean);
    }

    /// Smallest value, 0 if none.
    pub fn min(&self) -> u64 {
        self.min
    }

    /// Largest value, 0 if none.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// Mean, 0 if none.
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// Sample standard deviation, 0 with fewer than two values.
    pub fn stddev(&self) -> f64 {
        if self.n < 2 {
            0.0
        } else {
            (self.m2 / (self.n - 1) as f64).sqrt()
        }
    }
}

/// TCP flag counters of one direction, in nfstream's order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlagCounts {
    /// SYN packets.
    pub syn: u32,
    /// CWR packets.
    pub cwr: u32,
    /// ECE packets.
    pub ece: u32,
    /// URG packets.
    pub urg: u32,
    /// ACK packets.
    pub ack: u32,
    /// PSH packets.
    pub psh: u32,
    /// RST packets.
    pub rst: u32,
    /// FIN packets.
    pub fin: u32,
}

impl FlagCounts {
    /// Counts the flags byte of one TCP packet.
    #[inline]
    pub fn push(&mut self, flags: u8) {
        self.fin += u32::from(flags & 0x01 != 0);
        self.syn += u32::from(flags & 0x02 != 0);
        self.rst += u32::from(flags & 0x04 != 0);
        self.psh += u32::from(flags & 0x08 != 0);
        self.ack += u32::from(flags & 0x10 != 0);
        self.urg += u32::from(flags & 0x20 != 0);
        self.ece += u32::from(flags & 0x40 != 0);
        self.cwr += u32::from(flags & 0x80 != 0);
    }

    /// Field names and values, in export order.
    pub fn fields(&self) -> [(&'static str, u32); 8] {
        [
            ("syn", self.syn),
            ("cwr", self.cwr),
            ("ece", self.ece),
            ("urg", self.urg),
            ("ack", self.ack),
            ("psh", self.psh),
            ("rst", self.rst),
            ("fin", self.fin),
        ]
    }
}

/// Index of the three directions in [`FlowStats`] arrays.
pub const BIDIRECTIONAL: usize = 0;
/// src → dst.
pub const SRC2DST: usize = 1;
/// dst → src.
pub const DST2SRC: usize = 2;
/// Export prefixes, by index.
pub const PREFIXES: [&str; 3] = ["bidirectional", "src2dst", "dst2src"];

/// Everything `--stats` adds to a flow, for bidirectional, src2dst and dst2src.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FlowStats {
    /// Packet sizes.
    pub ps: [Running; 3],
    /// Inter-arrival times, ms.
    pub piat_ms: [Running; 3],
    /// TCP flags.
    pub flags: [FlagCounts; 3],
}

impl FlowStats {
    /// Adds one packet: its size, its gap to the previous packet of the flow (`None` for the
    /// first packet) and to the previous packet of its direction (`None` for that direction's
    /// first), and its TCP flags.
    #[inline]
    pub fn push(
        &mut self,
        dir: usize,
        size: u64,
        piat_bi: Option<u64>,
        piat_dir: Option<u64>,
        tcp_flags: u8,
    ) {
        self.ps[BIDIRECTIONAL].push(size);
        self.ps[dir].push(size);
        if let Some(p) = piat_bi {
            self.piat_ms[BIDIRECTIONAL].push(p);
        }
        if let Some(p) = piat_dir {
            self.piat_ms[dir].push(p);
        }
        self.flags[BIDIRECTIONAL].push(tcp_flags);
        self.flags[dir].push(tcp_flags);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_matches_two_pass() {
        let xs = [60u64, 1514, 60, 590, 1514, 54];
        let mut r = Running::default();
        xs.iter().for_each(|&x| r.push(x));
        let mean = xs.iter().sum::<u64>() as f64 / xs.len() as f64;
        let var = xs.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / 5.0;
        assert_eq!((r.min(), r.max()), (54, 1514));
        assert!((r.mean() - mean).abs() < 1e-9);
        assert!((r.stddev() - var.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn empty_and_single_are_zero_spread() {
        let mut r = Running::default();
        assert_eq!((r.min(), r.max(), r.stddev()), (0, 0, 0.0));
        r.push(7);
        assert_eq!((r.min(), r.max(), r.mean(), r.stddev()), (7, 7, 7.0, 0.0));
    }

    #[test]
    fn flags_count_each_bit() {
        let mut f = FlagCounts::default();
        f.push(0x02); // SYN
        f.push(0x12); // SYN+ACK
        f.push(0x11); // FIN+ACK
        f.push(0xff); // everything
        assert_eq!((f.syn, f.ack, f.fin, f.rst, f.cwr), (3, 3, 2, 1, 1));
    }
}
