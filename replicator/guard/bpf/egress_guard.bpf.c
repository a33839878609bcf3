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
 * order) is in egress_guard_abi.h. */
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
#define TCP_FLAG_RST_ 0x04
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
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, EG_CNT_MAX);
  __type(key, __u32);
  __type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 which) {
  __u64 *c = bpf_map_lookup_elem(&counters, &which);
  if (c) *c += 1;
}

SEC("tc")
int tandem_guard(struct __sk_buff *skb) {
  struct eg_key key;
  __u8 h[40]; /* IPv4 fixed header (20) or IPv6 fixed header (40) */
  __u8 tcp[14]; /* ports .. flags */
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
  return TC_ACT_UNSPEC_;
}
