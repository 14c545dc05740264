/* Private to dataplane/net: the pieces etls_net_rx dispatches to. */
#ifndef ETLS_NET_NET_INTERNAL_H
#define ETLS_NET_NET_INTERNAL_H

#include "net/net.h"

/* An ARP frame (len >= ETLS_NET_ETH_HLEN): answers requests for our address, learns senders. */
etls_net_rx_result_t etls_net_arp_input(etls_net_t *n, const uint8_t *f, size_t len,
                                        uint64_t now_ms, uint8_t *reply, size_t cap,
                                        size_t *reply_len);

#endif
