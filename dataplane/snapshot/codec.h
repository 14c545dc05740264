/* The snapshot codec: the one wire format edgetls-control and edgetls share (DESIGN.md, wave 2).
 * The control plane encodes a version of its state (certificate entries with their PEM chains
 * and keys, session-ticket keys); the dataplane decodes it and builds a TLS server context from
 * it (snapshot.h). The same bytes are the dataplane socket's SNAPSHOT message and the
 * snapshot.bin file in each committed version of the state directory, which a dataplane started
 * while the control plane is down serves read-only.
 *
 * Framing on the dataplane socket: u32 length (big-endian, of type + payload), u8 type, payload.
 * Snapshot payload (all integers big-endian):
 *   "ESN1" | u64 version | u32 ticket_lifetime_s | u8 n_tickets | n_tickets x (u8 flags, 48 key
 *   bytes; the first key seals, flags bit 0 = pending) | u32 n_entries | entries:
 *   u8 name_len, name | u8 flags (bit 0: default) | u16 n_names, each u8 len + bytes |
 *   u8 n_certs (1..2), each u32 chain_len + chain PEM, u32 key_len + key PEM
 * Delta payload (DELTA message, and the frames of snapshot.delta in the state directory): the
 * changes from version `base` to `version`, so one replaced entry among 100,000 costs one entry:
 *   "ESD1" | u64 base | then as above from u64 version to the tickets (the whole ticket set) |
 *   u32 n_removed | n_removed x (u8 len, entry name) | u32 n_entries | entries
 * Applied to the snapshot of version `base` only: removed entries go, an entry whose name the base
 * holds replaces it in place (keeping its order), other entries are appended.
 * The decoder is bounded and never reads past its input; decoded entries point into it. */
#ifndef ETLS_SNAPSHOT_CODEC_H
#define ETLS_SNAPSHOT_CODEC_H

#include <stddef.h>
#include <stdint.h>

#define ETLS_SNAP_MAX_FRAME (512u << 20) /* one message: 100k entries with their PEMs fit */
#define ETLS_SNAP_MAX_ENTRIES 200000u
#define ETLS_SNAP_MAX_CERTS 2
#define ETLS_SNAP_MAX_TICKETS 4
#define ETLS_SNAP_MAX_PEM (1u << 20)
#define ETLS_SNAP_KEY_LEN 48

/* Message types on the dataplane socket. */
enum {
    ETLS_SNAP_MSG_HELLO = 1,    /* dp -> cp: u32 pid, u16 workers, u8 transport, u64 version */
    ETLS_SNAP_MSG_SNAPSHOT = 2, /* cp -> dp: a snapshot payload */
    ETLS_SNAP_MSG_ACK = 3,      /* dp -> cp: u64 version now served by every new handshake */
    ETLS_SNAP_MSG_NACK = 4,     /* dp -> cp: u64 version, then a reason (text, rest of frame) */
    ETLS_SNAP_MSG_STATS_REQ = 5,/* cp -> dp: u32 request id */
    ETLS_SNAP_MSG_STATS = 6,    /* dp -> cp: u32 request id, then "key value\n" text lines */
    ETLS_SNAP_MSG_DRAIN = 7,    /* cp -> dp: u32 timeout ms: stop accepting, finish, exit */
    ETLS_SNAP_MSG_LOG_LEVEL = 8,/* cp -> dp: u8 level (etls_log_level_t) */
    ETLS_SNAP_MSG_ADOPTED = 9,  /* dp -> cp: u64 version every worker has adopted (propagation) */
    ETLS_SNAP_MSG_DELTA = 10,   /* cp -> dp: a delta payload (NACK "base ..." when the dataplane
                                 * does not serve its base: the control plane then sends all) */
};

typedef struct etls_snap_cert_in {
    const uint8_t *chain; uint32_t chain_len;
    const uint8_t *key; uint32_t key_len;
} etls_snap_cert_in_t;

typedef struct etls_snap_entry_in {
    const char *name; uint8_t name_len;
    uint8_t is_default;
    uint16_t n_names;
    const uint8_t *names; size_t names_len; /* n_names x (u8 len, bytes) */
    uint8_t n_certs;
    etls_snap_cert_in_t certs[ETLS_SNAP_MAX_CERTS];
} etls_snap_entry_in_t;

typedef struct etls_snap_hdr {
    uint64_t version;
    uint32_t ticket_lifetime;
    uint8_t n_tickets;
    uint8_t ticket_flags[ETLS_SNAP_MAX_TICKETS];
    const uint8_t *tickets[ETLS_SNAP_MAX_TICKETS]; /* 48 bytes each, into the input */
    uint32_t n_entries;
    /* deltas only */
    uint8_t is_delta;
    uint64_t base;
    uint32_t n_removed;
    const uint8_t *removed; size_t removed_len; /* n_removed x (u8 len, name) */
} etls_snap_hdr_t;

/* Cursor over a snapshot payload. */
typedef struct etls_snap_reader {
    const uint8_t *p, *end;
    uint32_t left; /* entries still to read */
} etls_snap_reader_t;

/* Parses the header of a snapshot or a delta (h->is_delta); 0 or -1 with a reason in err. */
int etls_snap_decode(etls_snap_reader_t *r, etls_snap_hdr_t *h, const uint8_t *buf, size_t len,
                     char *err, size_t errlen);
/* Next entry: 1 with *e filled, 0 at the end (all entries read and no trailing bytes), -1 on a
 * malformed entry (err). */
int etls_snap_next(etls_snap_reader_t *r, etls_snap_entry_in_t *e, char *err, size_t errlen);

/* A growable byte buffer for encoding (and for framing on both sides). */
typedef struct etls_snap_buf {
    uint8_t *p; size_t len, cap;
    size_t mark; /* encoder: offset of the entry count */
    uint32_t count;
    int failed; /* an allocation failed or a bound was exceeded: the contents are unusable */
} etls_snap_buf_t;

void etls_snap_buf_free(etls_snap_buf_t *b); /* wipes: it may hold keys */
void etls_snap_put(etls_snap_buf_t *b, const void *data, size_t len);
void etls_snap_put_u8(etls_snap_buf_t *b, uint8_t v);
void etls_snap_put_u16(etls_snap_buf_t *b, uint16_t v);
void etls_snap_put_u32(etls_snap_buf_t *b, uint32_t v);
void etls_snap_put_u64(etls_snap_buf_t *b, uint64_t v);
uint32_t etls_snap_get_u32(const uint8_t *p);
uint64_t etls_snap_get_u64(const uint8_t *p);

/* Encoding: begin (header and tickets), one call per entry, then end (patches the count). */
void etls_snap_enc_begin(etls_snap_buf_t *b, uint64_t version, uint32_t ticket_lifetime,
                         const uint8_t (*tickets)[ETLS_SNAP_KEY_LEN], const uint8_t *ticket_flags,
                         size_t n_tickets);
/* The same for a delta from base (entries then carry what was added or replaced). */
void etls_snap_enc_begin_delta(etls_snap_buf_t *b, uint64_t base, uint64_t version, uint32_t ticket_lifetime,
                               const uint8_t (*tickets)[ETLS_SNAP_KEY_LEN], const uint8_t *ticket_flags,
                               size_t n_tickets, const char *const *removed, size_t n_removed);
void etls_snap_enc_entry(etls_snap_buf_t *b, const char *name, int is_default,
                         const char *const *names, size_t n_names, const etls_snap_cert_in_t *certs,
                         size_t n_certs);
/* 0, or -1 when any step failed. */
int etls_snap_enc_end(etls_snap_buf_t *b);

/* Frames: appends one message (header + payload) to b. */
void etls_snap_frame(etls_snap_buf_t *b, uint8_t type, const void *payload, size_t len);
/* Looks for one whole frame at the start of buf: 1 with *type, *payload, *plen and *used, 0 when
 * more bytes are needed, -1 when the length is out of bounds. */
int etls_snap_unframe(const uint8_t *buf, size_t len, uint8_t *type, const uint8_t **payload,
                      size_t *plen, size_t *used);

#endif
