// SPDX-License-Identifier: GPL-2.0
/* XDP receive path of BFD control packets (RFC 5880/5881): validate, hash the session
 * to a health-table slot, update it, consume. Everything that is not UDP to port 3784
 * passes untouched. Events go to a ring buffer only when something changed, and a
 * per-slot bpf_timer signals detection-time expiry, so user space does nothing per
 * packet. In steady state the program also answers a packet with our own periodic
 * packet (XDP_TX) where user space armed a reply for the session, so that it sends
 * nothing per heartbeat either. The slot layout and update rule live in
 * heartbeat_abi.h (shared with the user-space fallback). */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "heartbeat_abi.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_UDP_ 17
#define CLOCK_MONOTONIC_ 1

char LICENSE[] SEC("license") = "GPL";

/* The health table: mmap-able so user space reads slots without system calls. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, HB_TABLE_SLOTS);
  __uint(map_flags, BPF_F_MMAPABLE);
  __type(key, __u32);
  __type(value, struct hb_slot);
} health SEC(".maps");

/* One detection timer per slot (a bpf_timer cannot live in an mmap-able map). */
struct hb_timer {
  struct bpf_timer timer;
  __u32 slot;
  __u32 initialised;
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, HB_TABLE_SLOTS);
  __type(key, __u32);
  __type(value, struct hb_timer);
} timers SEC(".maps");

/* Replies armed by user space, by health-table slot (heartbeat_abi.h, struct hb_reply). */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, HB_TABLE_SLOTS);
  __uint(map_flags, BPF_F_MMAPABLE);
  __type(key, __u32);
  __type(value, struct hb_reply);
} replies SEC(".maps");

/* User space renews this lease every few ms: a daemon that hangs or dies stops being
 * answered for within the lease, so its peers see its failure as they would without
 * kernel replies (RFC 5880 C bit stays 0: we share fate with the control plane). */
volatile __u64 hb_lease_until_ns = 0;

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, HB_RINGBUF_BYTES);
} events SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, HB_CNT_MAX);
  __type(key, __u32);
  __type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 which) {
  __u64 *c = bpf_map_lookup_elem(&counters, &which);
  if (c) *c += 1;
}

static __always_inline void push_event(__u32 slot, __u32 what, const struct hb_slot *s) {
  struct hb_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) {
    count(HB_CNT_EVENTS_LOST);
    return;
  }
  e->ts_ns = bpf_ktime_get_ns();
  e->slot = slot;
  e->what = what;
  __builtin_memcpy(&e->snapshot, s, sizeof(*s));
  bpf_ringbuf_submit(e, 0);
  count(HB_CNT_EVENTS);
}

/* Timer callback: no packet for a whole detection time. */
static int on_expire(void *map, __u32 *key, struct hb_timer *t) {
  __u32 slot = t->slot;
  struct hb_slot *s = bpf_map_lookup_elem(&health, &slot);
  if (!s || s->key.kind == HB_KEY_FREE || s->local_min_rx_us == 0) return 0;
  if (s->status & HB_STATUS_EXPIRED) return 0;
  s->status |= HB_STATUS_EXPIRED;
  count(HB_CNT_EXPIRED);
  push_event(slot, HB_EV_EXPIRED, s);
  return 0;
}

static __always_inline void arm_detection(__u32 slot, const struct hb_slot *s) {
  __u64 detect = hb_detect_ns(s);
  if (detect == 0) return;
  struct hb_timer *t = bpf_map_lookup_elem(&timers, &slot);
  if (!t) return;
  if (!t->initialised) {
    /* -EBUSY when another CPU won the race: harmless */
    bpf_timer_init(&t->timer, &timers, CLOCK_MONOTONIC_);
    bpf_timer_set_callback(&t->timer, on_expire);
    t->slot = slot;
    t->initialised = 1;
  }
  bpf_timer_start(&t->timer, detect, 0);
}

/* Find the key's slot in its probing window, or claim a free one. */
static __always_inline struct hb_slot *lookup_slot(const struct hb_key *key, __u32 *index,
                                                   int *is_new) {
  __u32 h = hb_hash(key);
  struct hb_slot *free_slot = 0;
  __u32 free_index = 0;
  /* Always scan the whole (bounded) window: freed slots need no tombstones. */
  for (__u32 i = 0; i < HB_PROBE_MAX; i++) {
    __u32 idx = (h + i) & (HB_TABLE_SLOTS - 1);
    struct hb_slot *s = bpf_map_lookup_elem(&health, &idx);
    if (!s) return 0;
    if (s->key.kind == HB_KEY_FREE) {
      if (!free_slot) {
        free_slot = s;
        free_index = idx;
      }
      continue;
    }
    if (hb_key_equal(&s->key, key)) {
      *index = idx;
      *is_new = 0;
      return s;
    }
  }
  if (!free_slot) return 0;
  /* Claim with a compare-and-swap so two CPUs cannot take the same free slot. */
  if (__sync_val_compare_and_swap(&free_slot->key.kind, HB_KEY_FREE, key->kind) != HB_KEY_FREE)
    return 0;
  free_slot->key.disc = key->disc;
  __builtin_memcpy(free_slot->key.addr, key->addr, 16);
  free_slot->packets = 0;
  free_slot->status = 0;
  *index = free_index;
  *is_new = 1;
  return free_slot;
}

static __always_inline __u16 csum_fold(__s64 sum) {
  __u64 c = (__u64)sum;
  c = (c & 0xffff) + (c >> 16);
  c = (c & 0xffff) + (c >> 16);
  c = (c & 0xffff) + (c >> 16);
  return (__u16)~c;
}

/* Copy the armed reply of `slot` under its sequence count. 0: nothing to send now. */
static __always_inline int take_reply(__u32 slot, __u64 now, __u8 *packet, __u16 *sport) {
  struct hb_reply *r = bpf_map_lookup_elem(&replies, &slot);
  if (!r) return 0;
  __u32 seq = *(volatile __u32 *)&r->seq;
  if ((seq & 1) || !*(volatile __u32 *)&r->armed) return 0;
  if (now >= hb_lease_until_ns) return 0; /* the daemon has not renewed: stay silent */
  __u64 last = *(volatile __u64 *)&r->last_tx_ns;
  if (now < last || now - last < r->min_gap_ns) return 0;
  __builtin_memcpy(packet, r->packet, HB_REPLY_PACKET);
  *sport = r->source_port;
  asm volatile("" ::: "memory");
  if (*(volatile __u32 *)&r->seq != seq) return 0; /* user space rewrote it meanwhile */
  /* One packet per gap even if two CPUs race for the same session. */
  if (__sync_val_compare_and_swap(&r->last_tx_ns, last, now) != last) return 0;
  __sync_fetch_and_add(&r->sent, 1);
  return 1;
}

static __always_inline void swap_macs(struct ethhdr *eth) {
  __u8 mac[6];
  __builtin_memcpy(mac, eth->h_source, 6);
  __builtin_memcpy(eth->h_source, eth->h_dest, 6);
  __builtin_memcpy(eth->h_dest, mac, 6);
}

/* UDP header and payload of our packet; `pseudo` is the checksum of the pseudo-header. */
static __always_inline void fill_udp(struct udphdr *udp, __u8 *p, const __u8 *packet, __u16 sport,
                                     __s64 pseudo) {
  udp->source = sport;
  udp->dest = bpf_htons(HB_BFD_PORT);
  udp->len = bpf_htons(8 + HB_REPLY_PACKET);
  udp->check = 0;
  __builtin_memcpy(p, packet, HB_REPLY_PACKET);
  __u16 c = csum_fold(bpf_csum_diff(0, 0, (__be32 *)udp, 8 + HB_REPLY_PACKET, pseudo));
  udp->check = c ? c : 0xffff; /* 0 means "no checksum" */
}

/* Turn the received frame into our packet to its sender, if a reply is armed for
 * `slot`: swap the addresses, put in our UDP source port and control packet,
 * recompute the checksums. Only the exact layout our periodic packets have (no IP
 * options or extension headers, Length 24, nothing after it); other frames are left to
 * user space. Returns 1 when the frame is ready for XDP_TX. */
static __always_inline int answer(struct xdp_md *ctx, __u32 slot, __u64 now) {
  void *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  __u8 packet[HB_REPLY_PACKET];
  __u16 sport = 0;
  if ((void *)(eth + 1) > end) return 0;
  if (eth->h_proto == bpf_htons(ETH_P_IP)) {
    struct iphdr *ip = (void *)(eth + 1);
    struct udphdr *udp = (void *)(ip + 1);
    __u8 *p = (__u8 *)(udp + 1);
    if ((void *)(p + HB_REPLY_PACKET) > end) return 0;
    if (ctx->data_end - ctx->data != (__u32)((void *)(p + HB_REPLY_PACKET) - data)) return 0; /* trailing bytes */
    if (ip->ihl != 5 || ip->tot_len != bpf_htons(20 + 8 + HB_REPLY_PACKET)) return 0;
    if (!take_reply(slot, now, packet, &sport)) return 0;
    swap_macs(eth);
    __be32 a = ip->saddr;
    ip->saddr = ip->daddr;
    ip->daddr = a;
    ip->ttl = 255;
    ip->check = 0;
    ip->check = csum_fold(bpf_csum_diff(0, 0, (__be32 *)ip, 20, 0));
    struct {
      __be32 saddr, daddr;
      __u8 zero, proto;
      __be16 len;
    } ph = {ip->saddr, ip->daddr, 0, IPPROTO_UDP_, bpf_htons(8 + HB_REPLY_PACKET)};
    fill_udp(udp, p, packet, sport, bpf_csum_diff(0, 0, (__be32 *)&ph, sizeof(ph), 0));
    return 1;
  }
  if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
    struct ipv6hdr *ip6 = (void *)(eth + 1);
    struct udphdr *udp = (void *)(ip6 + 1);
    __u8 *p = (__u8 *)(udp + 1);
    if ((void *)(p + HB_REPLY_PACKET) > end) return 0;
    if (ctx->data_end - ctx->data != (__u32)((void *)(p + HB_REPLY_PACKET) - data)) return 0; /* trailing bytes */
    if (ip6->payload_len != bpf_htons(8 + HB_REPLY_PACKET)) return 0;
    if (!take_reply(slot, now, packet, &sport)) return 0;
    swap_macs(eth);
    struct in6_addr a = ip6->saddr;
    ip6->saddr = ip6->daddr;
    ip6->daddr = a;
    ip6->hop_limit = 255;
    struct {
      struct in6_addr saddr, daddr;
      __be32 len;
      __u8 zero[3], next;
    } ph = {};
    ph.saddr = ip6->saddr;
    ph.daddr = ip6->daddr;
    ph.len = bpf_htonl(8 + HB_REPLY_PACKET);
    ph.next = IPPROTO_UDP_;
    fill_udp(udp, p, packet, sport, bpf_csum_diff(0, 0, (__be32 *)&ph, sizeof(ph), 0));
    return 1;
  }
  return 0;
}

SEC("xdp")
int hb_xdp(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  struct udphdr *udp;
  struct hb_key key = {};
  __u8 ttl;

  if ((void *)(eth + 1) > end) return XDP_PASS;
  if (eth->h_proto == bpf_htons(ETH_P_IP)) {
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > end) return XDP_PASS;
    if (ip->protocol != IPPROTO_UDP_) return XDP_PASS;
    if (ip->frag_off & bpf_htons(0x3fff)) return XDP_PASS; /* fragments: kernel's job */
    __u32 ihl = ip->ihl * 4;
    if (ihl < sizeof(*ip)) return XDP_PASS;
    udp = (void *)ip + ihl;
    if ((void *)(udp + 1) > end) return XDP_PASS;
    ttl = ip->ttl;
    key.addr[10] = 0xff;
    key.addr[11] = 0xff;
    __builtin_memcpy(&key.addr[12], &ip->saddr, 4);
  } else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
    struct ipv6hdr *ip6 = (void *)(eth + 1);
    if ((void *)(ip6 + 1) > end) return XDP_PASS;
    if (ip6->nexthdr != IPPROTO_UDP_) return XDP_PASS; /* extension headers: kernel */
    udp = (void *)(ip6 + 1);
    if ((void *)(udp + 1) > end) return XDP_PASS;
    ttl = ip6->hop_limit;
    __builtin_memcpy(key.addr, &ip6->saddr, 16);
  } else {
    return XDP_PASS;
  }
  if (udp->dest != bpf_htons(HB_BFD_PORT)) return XDP_PASS;

  /* From here on the packet is a BFD control packet to us: consumed, valid or not. */
  if (ttl != 255) {
    count(HB_CNT_BAD_TTL);
    return XDP_DROP;
  }
  __u8 *p = (__u8 *)(udp + 1);
  if ((void *)(p + 24) > end) {
    count(HB_CNT_TRUNCATED);
    return XDP_DROP;
  }
  __u32 udp_payload = bpf_ntohs(udp->len);
  udp_payload = udp_payload >= 8 ? udp_payload - 8 : 0;
  __u32 in_frame = (__u32)(end - (void *)p);
  if (udp_payload > in_frame) udp_payload = in_frame;
  __u32 length = p[3];
  __u8 flags = p[1] & 0x3f;
  __u8 state = p[1] >> 6;
  __u32 my_disc = bpf_ntohl(*(__u32 *)(p + 4));
  __u32 your_disc = bpf_ntohl(*(__u32 *)(p + 8));
  if ((p[0] >> 5) != 1) {
    count(HB_CNT_BAD_VERSION);
    return XDP_DROP;
  }
  if (length < 24 || length > udp_payload) {
    count(HB_CNT_BAD_LENGTH);
    return XDP_DROP;
  }
  if (p[2] == 0) {
    count(HB_CNT_ZERO_MULT);
    return XDP_DROP;
  }
  if (flags & HB_FLAG_M) {
    count(HB_CNT_MULTIPOINT);
    return XDP_DROP;
  }
  if (my_disc == 0) {
    count(HB_CNT_ZERO_MY_DISC);
    return XDP_DROP;
  }
  if (your_disc == 0 && state > 1) {
    count(HB_CNT_ZERO_YOUR_DISC);
    return XDP_DROP;
  }
  if (flags & HB_FLAG_A) {
    count(HB_CNT_AUTH);
    return XDP_DROP;
  }

  if (your_disc != 0) {
    key.kind = HB_KEY_DISC;
    key.disc = your_disc;
    __builtin_memset(key.addr, 0, 16);
  } else {
    key.kind = HB_KEY_ADDR;
    key.disc = my_disc;
  }
  __u32 index = 0;
  int is_new = 0;
  struct hb_slot *s = lookup_slot(&key, &index, &is_new);
  if (!s) {
    count(HB_CNT_TABLE_FULL);
    return XDP_DROP;
  }
  struct hb_obs o = {
      .remote_disc = my_disc,
      .min_tx_us = bpf_ntohl(*(__u32 *)(p + 12)),
      .min_rx_us = bpf_ntohl(*(__u32 *)(p + 16)),
      .echo_rx_us = bpf_ntohl(*(__u32 *)(p + 20)),
      .ifindex = ctx->ingress_ifindex,
      .state = state,
      .diag = p[0] & 0x1f,
      .detect_mult = p[2],
      .flags = flags,
  };
  __u64 now = bpf_ktime_get_ns();
  __u32 what = hb_apply(s, &o, now, is_new);
  count(HB_CNT_VALID);
  arm_detection(index, s);
  if (what) {
    push_event(index, what, s);
    return XDP_DROP; /* news: user space decides what we send */
  }
  /* Steady state: the remote is Up and says nothing new; answer for us if armed. */
  if (key.kind == HB_KEY_DISC && state == 3) {
    if (answer(ctx, index, now)) {
      count(HB_CNT_REPLIES);
      return XDP_TX;
    }
  }
  return XDP_DROP;
}
