/* libFuzzer harness for the snapshot codec (dataplane/snapshot/codec.h): the bytes the dataplane
 * reads from edgetls-control's socket and from snapshot.bin. Contract: no crash or out-of-bounds
 * read (ASan); every decoded entry lies inside the input; frames never claim more than given.
 * Also replayed without libFuzzer by fuzz/replay.c over fuzz/corpus/snapshot. */
#include "snapshot/codec.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_snapshot: contract violated: %s\n", what);
        abort();
    }
}

static int inside(const uint8_t *p, size_t n, const uint8_t *base, size_t size)
{
    return p >= base && n <= size && (size_t)(p - base) <= size - n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    etls_snap_reader_t r;
    etls_snap_hdr_t h;
    etls_snap_entry_in_t e;
    char err[256];
    if (etls_snap_decode(&r, &h, data, size, err, sizeof err) == 0) {
        for (unsigned i = 0; i < h.n_tickets; i++)
            check(inside(h.tickets[i], ETLS_SNAP_KEY_LEN, data, size), "ticket key outside the input");
        int rc;
        unsigned n = 0;
        while ((rc = etls_snap_next(&r, &e, err, sizeof err)) == 1) {
            n++;
            check(inside((const uint8_t *)e.name, e.name_len, data, size), "name outside the input");
            check(inside(e.names, e.names_len, data, size), "names outside the input");
            for (unsigned c = 0; c < e.n_certs; c++) {
                check(inside(e.certs[c].chain, e.certs[c].chain_len, data, size), "chain outside the input");
                check(inside(e.certs[c].key, e.certs[c].key_len, data, size), "key outside the input");
            }
        }
        check(n <= h.n_entries, "more entries than announced");
    }
    uint8_t type;
    const uint8_t *p;
    size_t plen, used;
    if (etls_snap_unframe(data, size, &type, &p, &plen, &used) == 1)
        check(used <= size && inside(p, plen, data, size), "frame beyond the input");
    return 0;
}
