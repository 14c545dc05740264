/* Internet checksum (RFC 1071) and the TCP pseudo-header (RFC 9293 §3.1).
 *
 * The one's-complement sum does not depend on byte order except for a final swap (RFC 1071
 * §2(B)), so each chunk is summed in native 64-bit words -- eight bytes per add instead of
 * two -- folded, and swapped once into the big-endian value the headers use. */
#include "net/net.h"

#include <string.h>

static uint16_t fold16(uint64_t acc)
{
    acc = (acc & 0xffffffffu) + (acc >> 32);
    acc = (acc & 0xffffffffu) + (acc >> 32);
    acc = (acc & 0xffffu) + (acc >> 16);
    acc = (acc & 0xffffu) + (acc >> 16);
    return (uint16_t)acc;
}

uint32_t etls_net_csum_add(uint32_t sum, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t acc = 0, v;
    while (len >= 8) {
        memcpy(&v, p, 8);
        acc += v;
        acc += acc < v; /* end-around carry */
        p += 8;
        len -= 8;
    }
    if (len >= 4) {
        uint32_t w;
        memcpy(&w, p, 4);
        acc += w;
        acc += acc < w;
        p += 4;
        len -= 4;
    }
    if (len >= 2) {
        uint16_t h;
        memcpy(&h, p, 2);
        acc += h;
        acc += acc < h;
        p += 2;
        len -= 2;
    }
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (len) {
        acc += p[0]; /* the odd byte is the high half of a big-endian word: low in memory */
        acc += acc < p[0];
    }
    uint16_t s = __builtin_bswap16(fold16(acc));
#else
    if (len) {
        acc += (uint64_t)p[0] << 8;
        acc += acc < ((uint64_t)p[0] << 8);
    }
    uint16_t s = fold16(acc);
#endif
    /* Keep the running sum far from overflow even across many chained calls. */
    uint64_t total = (uint64_t)sum + s;
    return (uint32_t)((total & 0xffffu) + (total >> 16));
}

uint16_t etls_net_csum_fold(uint32_t sum)
{
    return (uint16_t)~fold16(sum);
}

uint32_t etls_net_tcp_pseudo_sum(etls_ipv4_t src, etls_ipv4_t dst, size_t tcp_len)
{
    return (src >> 16) + (src & 0xffffu) + (dst >> 16) + (dst & 0xffffu) + ETLS_NET_PROTO_TCP +
           (uint32_t)tcp_len;
}

uint16_t etls_net_tcp_csum(etls_ipv4_t src, etls_ipv4_t dst, const uint8_t *seg, size_t len)
{
    return etls_net_csum_fold(etls_net_csum_add(etls_net_tcp_pseudo_sum(src, dst, len), seg, len));
}

void etls_net_tcp_fill_csum(const etls_net_t *n, etls_ipv4_t src, etls_ipv4_t dst, uint8_t *seg,
                            size_t len)
{
    /* Offloading NICs add the segment to the pseudo-header sum found in the field and store
     * the complement themselves, so the seed is folded but not complemented. */
    if (n->offload & ETLS_NET_OFFLOAD_TX_TCP_CSUM) {
        etls_net_put16(seg + 16, fold16(etls_net_tcp_pseudo_sum(src, dst, len)));
        return;
    }
    etls_net_put16(seg + 16, 0);
    etls_net_put16(seg + 16, etls_net_tcp_csum(src, dst, seg, len));
}
