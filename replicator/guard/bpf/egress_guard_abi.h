/* The contract between egress_guard.bpf.c (kernel) and egress_guard.cpp (user space):
 * the protected-tuple map's key and value, the counters, the map size, and where the tc
 * filter sits. Plain C that compiles both for the bpf target (after vmlinux.h) and in
 * C++. Changing a layout or EG_MAX_TUPLES makes a guard pinned by an older build
 * incompatible: open() then refuses to reuse its map (detach it first). */
#ifndef TANDEM_REPLICATOR_GUARD_EGRESS_GUARD_ABI_H
#define TANDEM_REPLICATOR_GUARD_EGRESS_GUARD_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Protected connections the map holds at most (BPF_MAP_TYPE_HASH, preallocated). */
#define EG_MAX_TUPLES 4096

/* eg_key.family: the Linux AF_* values. */
#define EG_FAMILY_IPV4 2  /* AF_INET */
#define EG_FAMILY_IPV6 10 /* AF_INET6 */

/* One TCP connection as seen on egress: local = source of the segment, remote = its
 * destination. Everything after `family` is in NETWORK byte order, exactly as the bytes
 * appear in the IP and TCP headers (ports too). IPv4 addresses fill the first 4 bytes of
 * the 16-byte fields, the rest is zero. The padding is zero (it is part of the hash). */
struct eg_key {
  __u8 family; /* EG_FAMILY_* */
  __u8 pad[3];
  __u16 local_port;  /* network order */
  __u16 remote_port; /* network order */
  __u8 local_addr[16];
  __u8 remote_addr[16];
};

/* Per tuple, written by the program only (user space inserts zeros). */
struct eg_value {
  __u64 fin_dropped;  /* segments with FIN (and no RST) dropped */
  __u64 rst_dropped;  /* segments with RST dropped */
  __u64 last_drop_ns; /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) of the last drop, 0: none */
};

/* ACK hold (docs/ha.md, "The ACK hold"): while a tuple is in the `holds` map, no segment
 * leaves with an acknowledgment number beyond `ack_limit` (what the standby holds of the
 * peer's bytes): a later one is rewritten to it, its window field raised so that the right
 * edge the kernel advertised stays where it was. A TCP-MD5 segment cannot be rewritten
 * (its signature covers the header): with `bare_only` a bare ACK beyond the limit is
 * dropped instead (user space sends it signed once the limit passes it) and a segment
 * with data leaves as it is. Written by user space only. Host order. */
struct eg_hold {
  __u32 ack_limit;  /* highest acknowledgment number allowed out (TCP sequence space) */
  __u8 rcv_wscale;  /* this end's receive window scale (the shift of the window field) */
  __u8 bare_only;   /* 1: TCP-MD5 connection, see above */
  __u8 pad[2];
};

/* Per held tuple, written by the program only: what the kernel last sent, so that user
 * space can send the acknowledgment it held back once the limit moves (a kernel that
 * sent its ACK sends no other until more data arrives). Sequence numbers in host order;
 * ts_val / ts_ecr exactly as on the wire (network order). Segments carrying
 * EG_CRAFTED_MARK (user space's own ACKs) update only ack_out. */
struct eg_ack_state {
  __u32 snd_nxt;    /* highest sequence number sent + 1 (payload, FIN) */
  __u32 ack_real;   /* the kernel's last acknowledgment number, before any rewrite */
  __u32 ack_out;    /* the last acknowledgment number that left */
  __u16 win_raw;    /* the kernel's last window field, before any rewrite */
  __u16 win_out;    /* the last window field that left */
  __u8 has_ts;      /* the kernel's last segment had a timestamp option */
  __u8 pad[3];
  __u32 ts_val, ts_ecr;
  __u64 clamped;    /* segments whose acknowledgment was held back (rewritten, or dropped) */
  __u64 duplicates; /* rewritten bare ACKs dropped: the same as the last one out */
};

/* skb->mark (SO_MARK) of the ACKs user space sends for a held tuple. */
#define EG_CRAFTED_MARK 0x74676b61 /* "tgka" */

/* Counters: a per-CPU array indexed by these; user space sums the CPUs. */
enum eg_counter {
  EG_CNT_SEEN = 0,    /* TCP segments of protected tuples seen on egress (any flags) */
  EG_CNT_FIN_DROPPED, /* ... dropped because FIN was set (RST not set) */
  EG_CNT_RST_DROPPED, /* ... dropped because RST was set */
  EG_CNT_MAX
};

/* The tc filter: clsact egress, direct action, this handle and priority (1: runs before
 * other classic filters). The program name identifies it (BPF_OBJ_NAME_LEN: < 16). */
#define EG_TC_HANDLE 0x7467 /* "tg" */
#define EG_TC_PRIORITY 1
#define EG_PROG_NAME "tandem_guard"

#endif
