/* The TLS 1.3 key schedule (RFC 8446 §7.1) on top of crypto/hash.h.
 *
 * HKDF-Expand-Label and Derive-Secret, plus a small state struct that walks
 * early -> handshake -> master secret, and traffic key/IV derivation (§7.3).
 * Ownership: etls_tls13_ks_t is caller-owned and holds the current secret; wipe it with
 * etls_tls13_ks_wipe. Every output is a caller buffer (secrets are HashLen bytes) that the
 * caller wipes. Nothing allocates; all calls are safe from several threads on distinct
 * states (the PSK-less constants are computed once under pthread_once). */
#ifndef ETLS_CRYPTO_TLS13_KS_H
#define ETLS_CRYPTO_TLS13_KS_H

#include "crypto/hash.h"

/* HKDF-Expand-Label(secret, "tls13 " || label, context, outlen). label excludes "tls13 ".
 * secret is HashLen bytes. Returns ETLS_ERR_INVALID when the label (1..249 bytes) or context
 * (<= 255 bytes) do not fit the HkdfLabel encoding, or outlen > 255 * HashLen. */
int etls_tls13_expand_label(etls_hash_alg_t alg, const uint8_t *secret, const char *label,
                            const uint8_t *context, size_t contextlen, uint8_t *out, size_t outlen);
/* Derive-Secret(secret, label, transcript_hash) where transcript_hash is already hashed. */
int etls_tls13_derive_secret(etls_hash_alg_t alg, const uint8_t *secret, const char *label,
                             const uint8_t *transcript_hash, uint8_t *out);

typedef struct etls_tls13_ks {
    etls_hash_alg_t alg;
    uint8_t stage;  /* 0 early, 1 handshake, 2 master: the calls below must come in order */
    uint8_t no_psk; /* early secret is the public PSK-less constant, so its "derived" is cached */
    uint8_t secret[ETLS_HASH_MAX_LEN]; /* current early, handshake or master secret */
    /* Derive-Secret(handshake secret, "derived", ""), the master secret's salt: computed in
     * ks_handshake while that secret is keyed anyway (stage 1 only). */
    uint8_t salt[ETLS_HASH_MAX_LEN];
} etls_tls13_ks_t;

/* Early secret from a PSK (NULL/0 for a full handshake: HashLen zeros). */
void etls_tls13_ks_init(etls_tls13_ks_t *ks, etls_hash_alg_t alg, const uint8_t *psk,
                        size_t psklen);
/* Handshake secret from the (EC)DHE shared secret; then the two handshake traffic secrets
 * for the transcript hash of ClientHello..ServerHello. Outputs are HashLen bytes each.
 * ecdhe NULL with ecdhelen 0 is psk_ke (HashLen zeros), allowed only after a PSK ks_init.
 * ETLS_ERR_INVALID when called out of order (ks_init -> ks_handshake -> ks_master). */
int etls_tls13_ks_handshake(etls_tls13_ks_t *ks, const uint8_t *ecdhe, size_t ecdhelen,
                            const uint8_t *th_ch_sh, uint8_t *client_hs, uint8_t *server_hs);
/* Master secret; then application traffic secrets (and exporter master secret, may be NULL)
 * for the transcript hash of ClientHello..server Finished. */
int etls_tls13_ks_master(etls_tls13_ks_t *ks, const uint8_t *th_ch_sf, uint8_t *client_ap,
                         uint8_t *server_ap, uint8_t *exporter);
/* Resumption master secret for the transcript hash of ClientHello..client Finished. */
int etls_tls13_ks_resumption(const etls_tls13_ks_t *ks, const uint8_t *th_ch_cf,
                             uint8_t *res_master);
void etls_tls13_ks_wipe(etls_tls13_ks_t *ks);

/* Traffic key and IV from a traffic secret (§7.3). */
int etls_tls13_traffic_keys(etls_hash_alg_t alg, const uint8_t *secret, uint8_t *key, size_t keylen,
                            uint8_t *iv, size_t ivlen);
/* The same, plus (finished_key not NULL) the secret's finished_key (§4.4.4, HashLen bytes):
 * a handshake traffic secret needs all three, and one HMAC key setup serves them. */
int etls_tls13_traffic_keys_fin(etls_hash_alg_t alg, const uint8_t *secret, uint8_t *key,
                                size_t keylen, uint8_t *iv, size_t ivlen, uint8_t *finished_key);
/* Finished verify_data = HMAC(finished_key(base_key), transcript_hash) (§4.4.4). */
int etls_tls13_finished(etls_hash_alg_t alg, const uint8_t *base_key,
                        const uint8_t *transcript_hash, uint8_t *verify_data);
/* The same from a finished_key already derived (etls_tls13_traffic_keys_fin). */
void etls_tls13_finished_mac(etls_hash_alg_t alg, const uint8_t *finished_key,
                             const uint8_t *transcript_hash, uint8_t *verify_data);
/* application_traffic_secret_N+1 (§7.2), in place. */
int etls_tls13_update_secret(etls_hash_alg_t alg, uint8_t *secret);

#endif
