// SPDX-License-Identifier: GPL-2.0
/* XDP receive path of BFD control packets (RFC 5880/5881): validate, hash the session
 * to a health-table slot, update it, consume. Everything that is not UDP to port 3784
 * passes untouched. Events go to a ring buffer only when something changed, and a
 * per-slot bpf_timer signals detection-time expiry, so user space does nothing per
 * packet. The slot layout and update rule live in heartbeat_abi.h (shared with the
 * user-space fallback). */
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
  __u32 what = hb_apply(s, &o, bpf_ktime_get_ns(), is_new);
  count(HB_CNT_VALID);
  arm_detection(index, s);
  if (what) push_event(index, what, s);
  return XDP_DROP;
}
