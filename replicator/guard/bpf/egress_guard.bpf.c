// SPDX-License-Identifier: GPL-2.0
/* The crash guard (DESIGN §4): a tc egress program that drops outgoing TCP segments
 * with FIN or RST set whose 4-tuple is in the `tuples` map, so that a dying tandemd's
 * kernel cannot close the protected BGP sessions before the standby takes them over.
 * Everything else passes untouched (TC_ACT_UNSPEC: later classic filters still run).
 *
 * Parsing: Ethernet, at most one 802.1Q / 802.1ad tag in the frame (a tag the driver
 * inserts from skb->vlan_tci is not in the frame and needs no parsing), IPv4 with
 * options (IHL), non-first fragments pass; IPv6 with TCP as the next header right after
 * the fixed header (extension headers pass). Headers are read with bpf_skb_load_bytes,
 * so a non-linear skb is handled too. No loops. Ethernet devices only (physical, veth,
 * bond, VLAN): on an L3 device (tun, WireGuard) the frame has no MAC header and nothing
 * would match, so user space refuses to attach there. The key layout (network byte
 * order) is in egress_guard_abi.h.
 *
 * The ACK hold (a tuple also in `holds`): an acknowledgment beyond the tuple's limit is
 * rewritten down to it (window raised to keep the right edge, checksum patched), and what
 * the kernel last sent is recorded in `ack_states` for user space. A TCP-MD5 segment would
 * fail its signature after a rewrite: for those (bare_only) a bare ACK is dropped instead,
 * a segment with data passes. */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "egress_guard_abi.h"

#define ETH_HLEN_ 14
#define ETH_P_IP_ 0x0800
#define ETH_P_IPV6_ 0x86DD
#define ETH_P_8021Q_ 0x8100
#define ETH_P_8021AD_ 0x88A8
#define IPPROTO_TCP_ 6
#define TCP_FLAG_FIN_ 0x01
#define TCP_FLAG_SYN_ 0x02
#define TCP_FLAG_RST_ 0x04
#define TCP_FLAG_ACK_ 0x10
#define TC_ACT_UNSPEC_ (-1)
#define TC_ACT_SHOT_ 2

char LICENSE[] SEC("license") = "GPL";

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, EG_MAX_TUPLES);
  __type(key, struct eg_key);
  __type(value, struct eg_value);
} tuples SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, EG_MAX_TUPLES);
  __type(key, struct eg_key);
  __type(value, struct eg_hold);
} holds SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, EG_MAX_TUPLES);
  __type(key, struct eg_key);
  __type(value, struct eg_ack_state);
} ack_states SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, EG_CNT_MAX);
  __type(key, __u32);
  __type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 which) {
  __u64 *c = bpf_map_lookup_elem(&counters, &which);
  if (c) *c += 1;
}

static __always_inline __u32 be32_at(const __u8 *p) {
  return ((__u32)p[0] << 24) | ((__u32)p[1] << 16) | ((__u32)p[2] << 8) | (__u32)p[3];
}

/* seq a after seq b (RFC 1982 arithmetic, as the kernel's after()). */
static __always_inline int seq_after(__u32 a, __u32 b) { return (__s32)(a - b) > 0; }

/* `tcp` holds the fixed TCP header at `off`; the segment's tuple is held. A function of
 * its own (not inlined): inlined, the compiler's spills made the verifier refuse the
 * program to a process with CAP_BPF but not CAP_PERFMON (tandemd restarted as the
 * standby), "attempt to corrupt spilled pointer on stack"
 * (GuardApiTest.OwnGuardNeedsNoCapSysAdmin loads it so). */
static __noinline int hold_ack(struct __sk_buff *skb, const struct eg_key *key, const struct eg_hold *hold,
                                    const __u8 *tcp, __u32 off) {
  __u8 flags = tcp[13];
  if (!(flags & TCP_FLAG_ACK_) || (flags & TCP_FLAG_SYN_)) return TC_ACT_UNSPEC_;
  const __u32 seq = be32_at(&tcp[4]);
  const __u32 ack = be32_at(&tcp[8]);
  const __u32 limit = hold->ack_limit;
  struct eg_ack_state *st = bpf_map_lookup_elem(&ack_states, key);
  if (!st) {
    /* What left before the hold is unknown; at most the limit is what the peer may have. */
    struct eg_ack_state first;
    __builtin_memset(&first, 0, sizeof(first));
    first.ack_out = seq_after(ack, limit) ? limit : ack;
    bpf_map_update_elem(&ack_states, key, &first, BPF_NOEXIST);
    st = bpf_map_lookup_elem(&ack_states, key);
    if (!st) return TC_ACT_UNSPEC_;
  }
  const __u16 win = (__u16)(((__u16)tcp[14] << 8) | tcp[15]);
  const __u32 doff = (__u32)(tcp[12] >> 4) * 4;
  const __u32 hdr_end = off + doff;
  const __u32 bare = skb->len <= hdr_end && !(flags & TCP_FLAG_FIN_);
  if (skb->mark != EG_CRAFTED_MARK) {
    __u32 end = seq + (skb->len > hdr_end ? skb->len - hdr_end : 0) + ((flags & TCP_FLAG_FIN_) ? 1 : 0);
    if (st->snd_nxt == 0 || seq_after(end, st->snd_nxt)) st->snd_nxt = end;
    st->ack_real = ack;
    st->win_raw = win;
    __u8 ts[12];
    /* Timestamps the way every sender lays them out: NOP NOP TS(10) first. (Linux
     * negotiates no timestamps on a TCP-MD5 connection.) */
    if (doff >= 32 && bpf_skb_load_bytes(skb, off + 20, ts, sizeof(ts)) == 0 && ts[0] == 1 && ts[1] == 1 &&
        ts[2] == 8 && ts[3] == 10) {
      st->has_ts = 1;
      __builtin_memcpy(&st->ts_val, &ts[4], 4);
      __builtin_memcpy(&st->ts_ecr, &ts[8], 4);
    } else {
      st->has_ts = 0;
    }
  }
  if (hold->bare_only && seq_after(ack, limit) && bare) {
    __sync_fetch_and_add(&st->clamped, 1);  /* user space sends it, signed, later */
    return TC_ACT_SHOT_;
  }
  if (!seq_after(ack, limit) || hold->bare_only) {
    st->ack_out = ack;
    st->win_out = win;
    return TC_ACT_UNSPEC_;
  }
  __u32 ws = hold->rcv_wscale;
  if (ws > 14) ws = 14;
  const __u32 edge = ack + ((__u32)win << ws);
  __u32 new_win = (edge - limit) >> ws;
  if (new_win > 0xffff) new_win = 0xffff;
  /* A bare ACK that would leave the same as the last one is a duplicate to the peer
   * (several in a row start its fast retransmit): it says nothing new, drop it. */
  if (bare && limit == st->ack_out && new_win == st->win_out) {
    __sync_fetch_and_add(&st->duplicates, 1);
    return TC_ACT_SHOT_;
  }
  __be32 old_ack_be = bpf_htonl(ack), new_ack_be = bpf_htonl(limit);
  __be16 old_win_be = bpf_htons(win), new_win_be = bpf_htons((__u16)new_win);
  const __u32 csum = off + 16;
  if (bpf_l4_csum_replace(skb, csum, old_ack_be, new_ack_be, sizeof(new_ack_be)) ||
      bpf_skb_store_bytes(skb, off + 8, &new_ack_be, sizeof(new_ack_be), 0) ||
      bpf_l4_csum_replace(skb, csum, old_win_be, new_win_be, sizeof(new_win_be)) ||
      bpf_skb_store_bytes(skb, off + 14, &new_win_be, sizeof(new_win_be), 0)) {
    /* Half rewritten would be a corrupt segment: drop it (TCP sends again). */
    return TC_ACT_SHOT_;
  }
  st->ack_out = limit;
  st->win_out = (__u16)new_win;
  __sync_fetch_and_add(&st->clamped, 1);
  return TC_ACT_UNSPEC_;
}

SEC("tc")
int tandem_guard(struct __sk_buff *skb) {
  struct eg_key key;
  __u8 h[40]; /* IPv4 fixed header (20) or IPv6 fixed header (40) */
  __u8 tcp[20]; /* the fixed TCP header */
  __u16 proto;
  __u32 off = ETH_HLEN_;

  __builtin_memset(&key, 0, sizeof(key));
  if (bpf_skb_load_bytes(skb, 12, &proto, sizeof(proto))) return TC_ACT_UNSPEC_;
  if (proto == bpf_htons(ETH_P_8021Q_) || proto == bpf_htons(ETH_P_8021AD_)) {
    if (bpf_skb_load_bytes(skb, 16, &proto, sizeof(proto))) return TC_ACT_UNSPEC_;
    off += 4;
  }

  if (proto == bpf_htons(ETH_P_IP_)) {
    __u32 ihl;
    if (bpf_skb_load_bytes(skb, off, h, 20)) return TC_ACT_UNSPEC_;
    if ((h[0] >> 4) != 4 || h[9] != IPPROTO_TCP_) return TC_ACT_UNSPEC_;
    ihl = (__u32)(h[0] & 0x0f) * 4;
    if (ihl < 20) return TC_ACT_UNSPEC_;
    /* Fragment offset != 0: no TCP header in this fragment. */
    if (((h[6] & 0x1f) | h[7]) != 0) return TC_ACT_UNSPEC_;
    key.family = EG_FAMILY_IPV4;
    __builtin_memcpy(key.local_addr, &h[12], 4);
    __builtin_memcpy(key.remote_addr, &h[16], 4);
    off += ihl;
  } else if (proto == bpf_htons(ETH_P_IPV6_)) {
    if (bpf_skb_load_bytes(skb, off, h, 40)) return TC_ACT_UNSPEC_;
    if ((h[0] >> 4) != 6 || h[6] != IPPROTO_TCP_) return TC_ACT_UNSPEC_;
    key.family = EG_FAMILY_IPV6;
    __builtin_memcpy(key.local_addr, &h[8], 16);
    __builtin_memcpy(key.remote_addr, &h[24], 16);
    off += 40;
  } else {
    return TC_ACT_UNSPEC_;
  }

  if (bpf_skb_load_bytes(skb, off, tcp, sizeof(tcp))) return TC_ACT_UNSPEC_;
  __builtin_memcpy(&key.local_port, &tcp[0], 2);
  __builtin_memcpy(&key.remote_port, &tcp[2], 2);

  struct eg_value *v = bpf_map_lookup_elem(&tuples, &key);
  if (!v) return TC_ACT_UNSPEC_;
  count(EG_CNT_SEEN);
  if (tcp[13] & TCP_FLAG_RST_) {
    count(EG_CNT_RST_DROPPED);
    __sync_fetch_and_add(&v->rst_dropped, 1);
    v->last_drop_ns = bpf_ktime_get_ns();
    return TC_ACT_SHOT_;
  }
  if (tcp[13] & TCP_FLAG_FIN_) {
    count(EG_CNT_FIN_DROPPED);
    __sync_fetch_and_add(&v->fin_dropped, 1);
    v->last_drop_ns = bpf_ktime_get_ns();
    return TC_ACT_SHOT_;
  }
  struct eg_hold *hold = bpf_map_lookup_elem(&holds, &key);
  if (hold) return hold_ack(skb, &key, hold, tcp, off);
  return TC_ACT_UNSPEC_;
}
