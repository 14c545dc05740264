/* A structural walk over a DER certificate that finds the parts the dataplane needs (the
 * SubjectPublicKeyInfo and the subjectAltName value) without decoding it through OpenSSL.
 *
 * Why: in OpenSSL 3.0 d2i_X509 decodes the public key through a provider decoder, ~1.4 million
 * instructions per certificate, which made a dataplane attaching to 100,000 entries spend most of
 * half a minute parsing certificates the control plane had already validated in full. The walk
 * checks every TLV's tag and length against its container (bounded, never reads past len) and
 * the order of the TBSCertificate fields; it does not check the contents of names, times or
 * signatures. Pointers in the view point into the caller's DER. Private to crypto/pk. */
#ifndef ETLS_CRYPTO_PK_X509_SCAN_H
#define ETLS_CRYPTO_PK_X509_SCAN_H

#include <stddef.h>
#include <stdint.h>

typedef struct etls_x509_view {
    const uint8_t *spki; /* the whole SubjectPublicKeyInfo TLV */
    size_t spki_len;
    const uint8_t *san; /* the subjectAltName extnValue's content (GeneralNames), or NULL */
    size_t san_len;
    unsigned n_san; /* subjectAltName extensions seen (more than one is a malformed leaf) */
} etls_x509_view_t;

/* 0 and *v filled when der holds exactly one well-formed Certificate TLV; -1 otherwise. */
int etls_x509_scan(const uint8_t *der, size_t len, etls_x509_view_t *v);

#endif
