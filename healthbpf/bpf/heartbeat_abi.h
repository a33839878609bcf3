/* The contract between heartbeat.bpf.c (kernel) and healthbpf/ (user space): the
 * health table slot, the ring-buffer event, the counters, the slot hash and the
 * update rule. Plain C that compiles both for the bpf target (after vmlinux.h) and
 * in C++, so the XDP path and the user-space fallback share ONE table logic. */
#ifndef TANDEM_HEALTHBPF_HEARTBEAT_ABI_H
#define TANDEM_HEALTHBPF_HEARTBEAT_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define HB_BFD_PORT 3784
#define HB_TABLE_SLOTS 4096 /* power of two */
#define HB_PROBE_MAX 8      /* bounded linear probing window */
#define HB_RINGBUF_BYTES (256 * 1024)

/* Slot key kinds. */
enum hb_key_kind {
  HB_KEY_FREE = 0,
  HB_KEY_DISC = 1, /* Your Discriminator (= our local discriminator) */
  HB_KEY_ADDR = 2, /* source address + remote My Discriminator, while Your Discr is 0 */
};

struct hb_key {
  __u32 kind;
  __u32 disc;      /* Your Discriminator (DISC) or the remote's My Discriminator (ADDR) */
  __u8 addr[16];   /* ADDR only: source address, IPv4 as ::ffff:a.b.c.d */
};

/* Slot flags, as last seen in the packet (BFD header byte 1, low 6 bits). */
#define HB_FLAG_P 0x20
#define HB_FLAG_F 0x10
#define HB_FLAG_C 0x08
#define HB_FLAG_A 0x04
#define HB_FLAG_D 0x02
#define HB_FLAG_M 0x01

/* Slot status bits. */
#define HB_STATUS_EXPIRED 0x1 /* detection time passed; cleared by the next packet */

struct hb_slot {
  struct hb_key key;
  __u64 last_rx_ns;       /* CLOCK_MONOTONIC (bpf_ktime_get_ns) of the last valid packet */
  __u64 packets;          /* valid packets counted in this slot */
  __u32 remote_disc;      /* remote My Discriminator */
  __u32 remote_min_tx_us; /* remote Desired Min TX Interval */
  __u32 remote_min_rx_us; /* remote Required Min RX Interval */
  __u32 remote_echo_rx_us;
  __u8 remote_state;      /* 0 AdminDown, 1 Down, 2 Init, 3 Up */
  __u8 remote_diag;
  __u8 detect_mult;
  __u8 flags;             /* HB_FLAG_* */
  __u32 ifindex;
  /* Written by user space only: our Required Min RX Interval. Non-zero arms the
   * detection timer of this slot (remote detect mult x max(this, remote min tx)). */
  __u32 local_min_rx_us;
  __u32 status;           /* HB_STATUS_* */
};

/* Kernel replies (transmit_path, docs/healthbpf.md "Transmission in the kernel"): in
 * steady state (a packet that changes nothing, both sides Up) the program answers a
 * received packet with our own periodic packet (XDP_TX), so that user space sends
 * nothing per heartbeat. One entry per health-table slot (the session's DISC slot),
 * written by user space under a sequence count: `seq` is odd while it writes, and the
 * program uses an entry only if `seq` is even and unchanged across its copy. */
#define HB_REPLY_PACKET 24

struct hb_reply {
  __u32 seq;
  __u32 armed;            /* non-zero: answer packets of this slot */
  __u64 min_gap_ns;       /* never two of our packets closer than this (RFC 5880 §6.8.7: 75% of the interval) */
  __u64 last_tx_ns;       /* our last packet of this session (the program, or user space when it arms) */
  __u64 sent;             /* packets the program sent for this entry */
  __u16 source_port;      /* network order: the session's UDP source port (RFC 5881 §4) */
  __u16 pad16;
  __u32 pad32;
  __u8 packet[HB_REPLY_PACKET]; /* our control packet, as user space encoded it */
};

/* Event bits: why an event was pushed. */
#define HB_EV_NEW 0x01       /* slot claimed by a new session key */
#define HB_EV_STATE 0x02     /* remote state or diagnostic changed */
#define HB_EV_POLL 0x04      /* packet had P set: answer with F */
#define HB_EV_FINAL 0x08     /* packet had F set: ends our poll sequence */
#define HB_EV_TIMERS 0x10    /* remote intervals or detect mult changed */
#define HB_EV_DISC 0x20      /* remote discriminator changed */
#define HB_EV_EXPIRED 0x40   /* detection time passed without a packet */
#define HB_EV_RECOVERED 0x80 /* a packet arrived after EXPIRED */
#define HB_EV_FLAGS 0x100    /* other flag bits (C, D) changed */

struct hb_event {
  __u64 ts_ns;
  __u32 slot;
  __u32 what; /* HB_EV_* */
  struct hb_slot snapshot;
};

/* Counters (per-CPU array in the kernel; plain array in the fallback). The reason
 * values double as the codec's DecodeError values. */
enum hb_counter {
  HB_CNT_VALID = 0,
  HB_CNT_TRUNCATED,      /* shorter than the 24-byte mandatory section */
  HB_CNT_BAD_VERSION,
  HB_CNT_BAD_LENGTH,     /* Length < 24 or > UDP payload */
  HB_CNT_ZERO_MULT,
  HB_CNT_MULTIPOINT,
  HB_CNT_ZERO_MY_DISC,
  HB_CNT_ZERO_YOUR_DISC, /* Your Discriminator 0 while state is Init or Up */
  HB_CNT_AUTH,           /* A bit set: authentication not supported */
  HB_CNT_BAD_TTL,        /* TTL / hop limit != 255 (RFC 5881 §5) */
  HB_CNT_TABLE_FULL,     /* no free slot in the probing window */
  HB_CNT_EVENTS,         /* events pushed */
  HB_CNT_EVENTS_LOST,    /* ring buffer full */
  HB_CNT_EXPIRED,        /* detection timeouts */
  HB_CNT_REPLIES,        /* our periodic packets sent by the program (XDP_TX) */
  HB_CNT_MAX
};

/* Slot hash of a key; the probe window is (h + i) & (HB_TABLE_SLOTS - 1), i < HB_PROBE_MAX. */
static inline __u32 hb_hash(const struct hb_key *k) {
  __u32 h = k->disc * 2654435761u; /* Knuth multiplicative */
  if (k->kind == HB_KEY_ADDR) {
    int i;
    for (i = 0; i < 16; i += 4) {
      __u32 w = (__u32)k->addr[i] | ((__u32)k->addr[i + 1] << 8) |
                ((__u32)k->addr[i + 2] << 16) | ((__u32)k->addr[i + 3] << 24);
      h ^= w;
      h *= 0x9e3779b1u;
      h ^= h >> 15;
    }
  }
  return h ^ (h >> 16);
}

static inline int hb_key_equal(const struct hb_key *a, const struct hb_key *b) {
  int i;
  if (a->kind != b->kind || a->disc != b->disc) return 0;
  for (i = 0; i < 16; i++)
    if (a->addr[i] != b->addr[i]) return 0;
  return 1;
}

/* What one valid packet says (fields in host order). */
struct hb_obs {
  __u32 remote_disc, min_tx_us, min_rx_us, echo_rx_us, ifindex;
  __u8 state, diag, detect_mult, flags;
};

/* Update a slot with a valid packet at `now`; returns the HB_EV_* bits that justify an
 * event (0 in steady state). `is_new` says the slot was just claimed. */
static inline __u32 hb_apply(struct hb_slot *s, const struct hb_obs *o, __u64 now, int is_new) {
  __u32 what = is_new ? HB_EV_NEW : 0;
  if (!is_new) {
    if (s->remote_state != o->state || s->remote_diag != o->diag) what |= HB_EV_STATE;
    if (s->remote_min_tx_us != o->min_tx_us || s->remote_min_rx_us != o->min_rx_us ||
        s->detect_mult != o->detect_mult)
      what |= HB_EV_TIMERS;
    if (s->remote_disc != o->remote_disc) what |= HB_EV_DISC;
    if ((s->flags ^ o->flags) & (HB_FLAG_C | HB_FLAG_D)) what |= HB_EV_FLAGS;
  }
  if (o->flags & HB_FLAG_P) what |= HB_EV_POLL;
  if (o->flags & HB_FLAG_F) what |= HB_EV_FINAL;
  if (s->status & HB_STATUS_EXPIRED) {
    what |= HB_EV_RECOVERED;
    s->status &= ~(__u32)HB_STATUS_EXPIRED;
  }
  s->last_rx_ns = now;
  s->packets += 1;
  s->remote_disc = o->remote_disc;
  s->remote_min_tx_us = o->min_tx_us;
  s->remote_min_rx_us = o->min_rx_us;
  s->remote_echo_rx_us = o->echo_rx_us;
  s->remote_state = o->state;
  s->remote_diag = o->diag;
  s->detect_mult = o->detect_mult;
  s->flags = o->flags;
  s->ifindex = o->ifindex;
  return what;
}

/* Detection time of a slot in ns (RFC 5880 §6.8.4, asynchronous mode), 0 = not armed. */
static inline __u64 hb_detect_ns(const struct hb_slot *s) {
  __u64 interval = s->local_min_rx_us > s->remote_min_tx_us ? s->local_min_rx_us
                                                            : s->remote_min_tx_us;
  if (s->local_min_rx_us == 0) return 0;
  return (__u64)s->detect_mult * interval * 1000;
}

#endif
