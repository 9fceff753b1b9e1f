/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ABI between bpf/xdp_steer.bpf.c and its loader, xdp-prog/src/loader.rs: map names, the
 * counter indices, the config struct and the LPM-trie keys. The Rust side mirrors every item
 * here (names in comments) and asserts the sizes; change both together.
 *
 * Rules: fixed-width fields only, no implicit padding, every struct's size written down, and no
 * layout that depends on byte order (the config is made of __u32 words for that reason).
 */
#ifndef XDPFLOW_BPF_COMMON_H
#define XDPFLOW_BPF_COMMON_H

#include <linux/types.h>

/*
 * Maps (aya finds them by these symbol names; the kernel keeps the first 15 characters):
 *
 *   steer_xsks      XSKMAP         __u32 rx queue -> AF_XDP socket fd    STEER_MAX_QUEUES entries
 *   steer_counters  PERCPU_ARRAY   __u32 0 -> struct steer_counters      1 entry
 *   steer_config    ARRAY          __u32 0 -> struct steer_config        1 entry
 *   steer_allow_v4  LPM_TRIE       struct steer_lpm_v4 -> __u32 (1)      STEER_MAX_PREFIXES
 *   steer_allow_v6  LPM_TRIE       struct steer_lpm_v6 -> __u32 (1)      STEER_MAX_PREFIXES
 *   steer_deny_v4   LPM_TRIE       struct steer_lpm_v4 -> __u32 (1)      STEER_MAX_PREFIXES
 *   steer_deny_v6   LPM_TRIE       struct steer_lpm_v6 -> __u32 (1)      STEER_MAX_PREFIXES
 */

/* Size of steer_xsks: rx_queue_index values at or above it are never redirected ("passed"). */
#define STEER_MAX_QUEUES 1024
/* Size of each LPM trie (allocated on use: the kernel requires BPF_F_NO_PREALLOC). */
#define STEER_MAX_PREFIXES 4096

/*
 * Counter indices into struct steer_counters (Rust: loader::counter::*). Every packet the
 * program sees bumps SEEN and exactly one other counter, so per CPU and summed:
 *   SEEN = REDIRECTED + PASSED + FILTERED + SAMPLED_OUT + REDIRECT_ERRORS
 */
#define STEER_CNT_SEEN 0
#define STEER_CNT_REDIRECTED 1 /* XDP_REDIRECT into the queue's AF_XDP socket */
#define STEER_CNT_PASSED 2 /* no socket registered for the rx queue: XDP_PASS */
#define STEER_CNT_FILTERED 3 /* failed the pre-filter: XDP_PASS (the host keeps it) */
#define STEER_CNT_SAMPLED_OUT 4 /* flow not in the 1-in-N sample: XDP_PASS */
#define STEER_CNT_REDIRECT_ERRORS 5 /* bpf_redirect_map refused: XDP_PASS */
#define STEER_CNT_COUNT 6

/* Value of steer_counters: 48 bytes. */
struct steer_counters {
	__u64 n[STEER_CNT_COUNT];
};

/* steer_config.flags bits (Rust: loader::config::F_*). All clear = capture everything. */
#define STEER_F_DENY (1U << 0) /* steer_deny_v4/v6 hold at least one prefix */
#define STEER_F_ALLOW (1U << 1) /* steer_allow_v4/v6 hold at least one prefix */
#define STEER_F_PROTOS (1U << 2) /* only IP protocols whose bit is set in .protocols pass */

/*
 * Value of steer_config: 40 bytes, ten __u32 words (Rust: [u32; 10], word indices
 * loader::config::{FLAGS, SAMPLE_ONE_IN, PROTOCOLS}).
 */
struct steer_config {
	__u32 flags; /* word 0: STEER_F_* */
	__u32 sample_one_in; /* word 1: keep flows whose hash % N == 0; 0 or 1 keeps all */
	__u32 protocols[8]; /* words 2..9: bit (p % 32) of word (p / 32) set = protocol p passes */
};

/*
 * LPM-trie keys, laid out as the kernel's struct bpf_lpm_trie_key_u8: the prefix length in
 * bits, then the address in network byte order (host bits zero). Lookups use the full length
 * (32 / 128). Rust: aya::maps::lpm_trie::Key<[u8; 4]> / Key<[u8; 16]>.
 */
struct steer_lpm_v4 {
	__u32 prefixlen;
	__u8 addr[4];
}; /* 8 bytes */

struct steer_lpm_v6 {
	__u32 prefixlen;
	__u8 addr[16];
}; /* 20 bytes */

#endif /* XDPFLOW_BPF_COMMON_H */
