// SPDX-License-Identifier: Apache-2.0
/*
 * xdp_steer: hands each frame to the AF_XDP socket of the queue it arrived on.
 *
 * For every frame:
 *   1. count it as "seen";
 *   2. if it parses as IPv4/IPv6, run the pre-filter (deny prefixes, allow prefixes, protocol
 *      set) and the 1-in-N flow sample; a frame that fails either is counted "filtered" or
 *      "sampled out" and gets XDP_PASS: the host stack still receives it, the probe does not;
 *   3. look up steer_xsks[rx_queue_index]: no socket there -> "passed" (XDP_PASS); otherwise
 *      bpf_redirect_map -> "redirected" (XDP_REDIRECT), or "redirect error" (XDP_PASS) when the
 *      helper refuses (the socket went away between lookup and redirect).
 * Hence, per CPU: seen = redirected + passed + filtered + sampled_out + redirect_errors.
 * A frame dropped *after* a successful redirect (the socket's RX ring full, FILL ring empty) is
 * not visible here: the socket's XDP_STATISTICS count those.
 *
 * Parsing: Ethernet, then up to two VLAN tags (802.1Q 0x8100, 802.1ad 0x88a8), then IPv4 or
 * IPv6; for IPv6 up to STEER_MAX_EXT_HDRS extension headers are skipped to find the protocol
 * (if the chain is longer, the protocol is the extension header where the walk stopped).
 * A frame that is not IP, or whose IP header is truncated or malformed (ARP, MPLS, PPPoE, LLDP,
 * runts), is never filtered or sampled: it is steered like any other frame and the userspace
 * decoder counts it. The filter can only hide what it understands, so a malformed header can
 * not be used to slip traffic past the probe.
 *
 * Filter semantics (all maps are set by the loader, at start and live):
 *   deny:      src or dst inside any deny prefix (of the packet's family) -> filtered;
 *   allow:     if any allow prefix exists (either family), src or dst must be inside an allow
 *              prefix of the packet's family, else filtered (an IPv6 packet is filtered by an
 *              allow list holding IPv4 prefixes only);
 *   protocols: if the set is non-empty, the IP protocol (after IPv6 extension headers) must be
 *              in it, else filtered;
 *   sampling:  with sample_one_in = N > 1, a flow is kept iff hash % N == 0, where the hash is
 *              symmetric in the two endpoints (addresses xor-ed, ports xor-ed, plus protocol),
 *              so both directions of a flow share a fate and sampled flows stay whole. Ports
 *              count for TCP, UDP, UDP-Lite and SCTP; fragments (any IPv4 fragment, any IPv6
 *              packet with a fragment header) hash without ports, so all fragments of a
 *              datagram share a fate too.
 * A live update rewrites the maps one entry at a time: for that moment a packet may see part
 * of the old filter and part of the new one.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>

#include "common.h"

/* What libbpf's bpf_helpers.h would give; spelled out so the build needs no libbpf headers. */
#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int(*name)[val]
#define __type(name, val) typeof(val) *name
/* linux/stddef.h defines it as plain __inline__, which does not force inlining. */
#undef __always_inline
#define __always_inline inline __attribute__((always_inline))

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)BPF_FUNC_map_lookup_elem;
static long (*bpf_redirect_map)(void *map, __u64 key, __u64 flags) = (void *)BPF_FUNC_redirect_map;

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define steer_htons(x) ((__be16)__builtin_bswap16(x))
#else
#define steer_htons(x) ((__be16)(x))
#endif

#define ETH_P_8021AD_ 0x88A8 /* 802.1ad service VLAN (QinQ outer tag) */
#define STEER_MAX_VLAN_TAGS 2
#define STEER_MAX_EXT_HDRS 8
/* IPv4 frag_off: "more fragments" flag and the 13-bit offset (RFC 791 section 3.1). */
#define STEER_IP_MF_OFFSET 0x3FFF

/* IPv6 extension headers that have the generic "next header, length" shape (RFC 8200 4.1). */
#define STEER_IPPROTO_MH 135 /* Mobility, RFC 6275 */
#define STEER_IPPROTO_HIP 139 /* RFC 7401 */
#define STEER_IPPROTO_SHIM6 140 /* RFC 5533 */

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, STEER_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} steer_xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct steer_counters);
} steer_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct steer_config);
} steer_config SEC(".maps");

#define STEER_LPM_MAP(name, key_type)                                                       \
	struct {                                                                            \
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);                                        \
		__uint(max_entries, STEER_MAX_PREFIXES);                                    \
		__uint(map_flags, BPF_F_NO_PREALLOC);                                       \
		__type(key, key_type);                                                      \
		__type(value, __u32);                                                       \
	} name SEC(".maps")

STEER_LPM_MAP(steer_allow_v4, struct steer_lpm_v4);
STEER_LPM_MAP(steer_allow_v6, struct steer_lpm_v6);
STEER_LPM_MAP(steer_deny_v4, struct steer_lpm_v4);
STEER_LPM_MAP(steer_deny_v6, struct steer_lpm_v6);

/* The fields of an IP packet the filter looks at. Addresses as 32-bit words, network order. */
struct steer_pkt {
	__u32 src[4];
	__u32 dst[4];
	__u16 sport;
	__u16 dport;
	__u8 family; /* 4 or 6 */
	__u8 proto;
	__u8 fragment;
	__u8 pad;
};

enum steer_verdict { STEER_KEEP, STEER_FILTER, STEER_SAMPLE_OUT };

static __always_inline int steer_has_ports(__u8 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE ||
	       proto == IPPROTO_SCTP;
}

/* Reads the ports when the L4 header is present; leaves them zero otherwise. */
static __always_inline void steer_ports(struct steer_pkt *p, void *l4, void *data_end)
{
	__be16 *ports = l4;

	if (p->fragment || !steer_has_ports(p->proto) || (void *)(ports + 2) > data_end)
		return;
	p->sport = ports[0];
	p->dport = ports[1];
}

static __always_inline int steer_parse_v4(struct steer_pkt *p, void *l3, void *data_end)
{
	struct iphdr *ip = l3;
	__u32 hlen;

	if ((void *)(ip + 1) > data_end || ip->version != 4 || ip->ihl < 5)
		return 0;
	hlen = ip->ihl * 4;
	if (l3 + hlen > data_end)
		return 0;
	p->family = 4;
	p->proto = ip->protocol;
	p->fragment = (ip->frag_off & steer_htons(STEER_IP_MF_OFFSET)) != 0;
	p->src[0] = ip->saddr;
	p->dst[0] = ip->daddr;
	steer_ports(p, l3 + hlen, data_end);
	return 1;
}

static __always_inline int steer_parse_v6(struct steer_pkt *p, void *l3, void *data_end)
{
	struct ipv6hdr *ip6 = l3;
	void *cur = ip6 + 1;
	__u8 next;
	int i;

	if (cur > data_end || ip6->version != 6)
		return 0;
	p->family = 6;
	__builtin_memcpy(p->src, &ip6->saddr, sizeof(p->src));
	__builtin_memcpy(p->dst, &ip6->daddr, sizeof(p->dst));
	next = ip6->nexthdr;

#pragma unroll
	for (i = 0; i < STEER_MAX_EXT_HDRS; i++) {
		struct ipv6_opt_hdr *ext = cur;

		if (next != IPPROTO_HOPOPTS && next != IPPROTO_ROUTING && next != IPPROTO_DSTOPTS &&
		    next != IPPROTO_FRAGMENT && next != IPPROTO_AH && next != STEER_IPPROTO_MH &&
		    next != STEER_IPPROTO_HIP && next != STEER_IPPROTO_SHIM6)
			break;
		if ((void *)(ext + 1) > data_end) {
			/* Truncated chain: the protocol is where we stopped, no ports. */
			p->proto = next;
			return 1;
		}
		if (next == IPPROTO_FRAGMENT) {
			p->fragment = 1;
			cur += 8; /* fixed size, RFC 8200 4.5 */
		} else if (next == IPPROTO_AH) {
			cur += ((__u32)ext->hdrlen + 2) * 4; /* 4-octet units, minus 2 (RFC 4302) */
		} else {
			cur += ((__u32)ext->hdrlen + 1) * 8; /* 8-octet units, minus 1 (RFC 8200) */
		}
		next = ext->nexthdr;
	}
	p->proto = next;
	steer_ports(p, cur, data_end);
	return 1;
}

/* Fills `p` from the frame; returns 0 when the frame is not (parseable) IP. */
static __always_inline int steer_parse(struct xdp_md *ctx, struct steer_pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	void *cur = eth + 1;
	__be16 proto;
	int i;

	if (cur > data_end)
		return 0;
	proto = eth->h_proto;

#pragma unroll
	for (i = 0; i < STEER_MAX_VLAN_TAGS; i++) {
		__be16 *tag = cur; /* TCI, then the encapsulated EtherType */

		if (proto != steer_htons(ETH_P_8021Q) && proto != steer_htons(ETH_P_8021AD_))
			break;
		if ((void *)(tag + 2) > data_end)
			return 0;
		proto = tag[1];
		cur = tag + 2;
	}

	if (proto == steer_htons(ETH_P_IP))
		return steer_parse_v4(p, cur, data_end);
	if (proto == steer_htons(ETH_P_IPV6))
		return steer_parse_v6(p, cur, data_end);
	return 0;
}

/* Whether src or dst lies in a prefix of the trie pair of the packet's family. */
static __always_inline int steer_match(struct steer_pkt *p, void *trie_v4, void *trie_v6)
{
	if (p->family == 4) {
		struct steer_lpm_v4 key = { .prefixlen = 32 };

		__builtin_memcpy(key.addr, &p->src[0], 4);
		if (bpf_map_lookup_elem(trie_v4, &key))
			return 1;
		__builtin_memcpy(key.addr, &p->dst[0], 4);
		return bpf_map_lookup_elem(trie_v4, &key) != 0;
	} else {
		struct steer_lpm_v6 key = { .prefixlen = 128 };

		__builtin_memcpy(key.addr, p->src, 16);
		if (bpf_map_lookup_elem(trie_v6, &key))
			return 1;
		__builtin_memcpy(key.addr, p->dst, 16);
		return bpf_map_lookup_elem(trie_v6, &key) != 0;
	}
}

/* MurmurHash3's 32-bit finaliser: spreads the xor-folded tuple over all bits before the modulo. */
static __always_inline __u32 steer_mix(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85EBCA6B;
	h ^= h >> 13;
	h *= 0xC2B2AE35;
	h ^= h >> 16;
	return h;
}

/* Symmetric: swapping src/dst (addresses and ports together) gives the same value. */
static __always_inline __u32 steer_flow_hash(const struct steer_pkt *p)
{
	__u32 h = p->proto;
	int i;

#pragma unroll
	for (i = 0; i < 4; i++)
		h ^= steer_mix(p->src[i] ^ p->dst[i] ^ (__u32)i);
	h ^= (__u32)(__u16)(p->sport ^ p->dport) << 8;
	return steer_mix(h);
}

static __always_inline enum steer_verdict steer_filter(struct steer_pkt *p,
						       const struct steer_config *cfg)
{
	__u32 n = cfg->sample_one_in;

	if ((cfg->flags & STEER_F_DENY) && steer_match(p, &steer_deny_v4, &steer_deny_v6))
		return STEER_FILTER;
	if ((cfg->flags & STEER_F_ALLOW) && !steer_match(p, &steer_allow_v4, &steer_allow_v6))
		return STEER_FILTER;
	if ((cfg->flags & STEER_F_PROTOS) &&
	    !((cfg->protocols[p->proto >> 5] >> (p->proto & 31)) & 1))
		return STEER_FILTER;
	if (n > 1 && steer_flow_hash(p) % n != 0)
		return STEER_SAMPLE_OUT;
	return STEER_KEEP;
}

SEC("xdp")
int xdp_steer(struct xdp_md *ctx)
{
	__u32 zero = 0, queue = ctx->rx_queue_index;
	struct steer_counters *cnt = bpf_map_lookup_elem(&steer_counters, &zero);
	struct steer_config *cfg = bpf_map_lookup_elem(&steer_config, &zero);
	struct steer_pkt pkt = {};

	/* Both are single-entry arrays: the lookups cannot fail, but the verifier wants a check. */
	if (!cnt || !cfg)
		return XDP_PASS;
	cnt->n[STEER_CNT_SEEN]++;

	if ((cfg->flags || cfg->sample_one_in > 1) && steer_parse(ctx, &pkt)) {
		enum steer_verdict v = steer_filter(&pkt, cfg);

		if (v == STEER_FILTER) {
			cnt->n[STEER_CNT_FILTERED]++;
			return XDP_PASS;
		}
		if (v == STEER_SAMPLE_OUT) {
			cnt->n[STEER_CNT_SAMPLED_OUT]++;
			return XDP_PASS;
		}
	}

	/*
	 * Look first so "no socket" (passed) and "helper refused" (error) are told apart; the
	 * default action of bpf_redirect_map would fold both into one return value.
	 */
	if (!bpf_map_lookup_elem(&steer_xsks, &queue)) {
		cnt->n[STEER_CNT_PASSED]++;
		return XDP_PASS;
	}
	if (bpf_redirect_map(&steer_xsks, queue, 0) == XDP_REDIRECT) {
		cnt->n[STEER_CNT_REDIRECTED]++;
		return XDP_REDIRECT;
	}
	cnt->n[STEER_CNT_REDIRECT_ERRORS]++;
	return XDP_PASS;
}

/* Only non-GPL-only helpers are used (map lookup, redirect_map), so the project's licence works. */
char _license[] SEC("license") = "Apache-2.0";
