/* The structural certificate walk (x509_scan.h). RFC 5280 §4.1:
 *   Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }
 *   TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber INTEGER, signature,
 *       issuer, validity, subject, subjectPublicKeyInfo, [1] issuerUniqueID OPTIONAL,
 *       [2] subjectUniqueID OPTIONAL, [3] extensions OPTIONAL }
 *   Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING } */
#include "crypto/pk/x509_scan.h"

#include <string.h>

enum {
    T_BOOLEAN = 0x01,
    T_INTEGER = 0x02,
    T_BIT_STRING = 0x03,
    T_OCTET_STRING = 0x04,
    T_OID = 0x06,
    T_SEQUENCE = 0x30,
    T_CTX0 = 0xa0, /* [0] EXPLICIT version */
    T_CTX1 = 0x81, /* [1] IMPLICIT BIT STRING issuerUniqueID */
    T_CTX2 = 0x82, /* [2] IMPLICIT BIT STRING subjectUniqueID */
    T_CTX3 = 0xa3, /* [3] EXPLICIT extensions */
};

typedef struct tlv {
    uint8_t tag;
    const uint8_t *start; /* the tag byte */
    const uint8_t *val;   /* the contents */
    size_t len, total;    /* contents length; tag + length + contents */
} tlv_t;

/* The TLV at the front of [*p, end), definite lengths of up to 4 bytes, contents inside the
 * range; *p moves past it. Single-byte tags only (X.509 uses no other). */
static int next(const uint8_t **p, const uint8_t *end, tlv_t *t)
{
    const uint8_t *q = *p;
    if (end - q < 2 || (q[0] & 0x1f) == 0x1f)
        return -1;
    t->tag = q[0];
    t->start = q;
    size_t len = q[1];
    q += 2;
    if (len & 0x80) {
        size_t n = len & 0x7f;
        if (n == 0 || n > 4 || (size_t)(end - q) < n)
            return -1; /* indefinite (BER) or absurd */
        len = 0;
        for (size_t i = 0; i < n; i++)
            len = (len << 8) | *q++;
    }
    if (len > (size_t)(end - q))
        return -1;
    t->val = q;
    t->len = len;
    t->total = (size_t)(q - t->start) + len;
    *p = q + len;
    return 0;
}

/* Tags compare without their constructed bit: OpenSSL's decoder accepts a SEQUENCE sent with it
 * clear, and this walk must not refuse a certificate the full parse accepts. */
static int same_tag(uint8_t a, uint8_t b)
{
    return (a & ~0x20) == (b & ~0x20);
}

static int expect(const uint8_t **p, const uint8_t *end, uint8_t tag, tlv_t *t)
{
    return next(p, end, t) == 0 && same_tag(t->tag, tag) ? 0 : -1;
}

/* 2.5.29.17 */
static const uint8_t san_oid[] = {0x55, 0x1d, 0x11};

static int extensions(const tlv_t *ctx3, etls_x509_view_t *v)
{
    const uint8_t *p = ctx3->val, *end = ctx3->val + ctx3->len;
    tlv_t seq, ext, oid, f;
    if (expect(&p, end, T_SEQUENCE, &seq) || p != end)
        return -1;
    for (p = seq.val, end = seq.val + seq.len; p < end;) {
        if (expect(&p, end, T_SEQUENCE, &ext))
            return -1;
        const uint8_t *q = ext.val, *qe = ext.val + ext.len;
        if (expect(&q, qe, T_OID, &oid) || next(&q, qe, &f))
            return -1;
        if (same_tag(f.tag, T_BOOLEAN) && next(&q, qe, &f))
            return -1;
        if (!same_tag(f.tag, T_OCTET_STRING) || q != qe)
            return -1;
        if (oid.len == sizeof san_oid && !memcmp(oid.val, san_oid, sizeof san_oid)) {
            v->n_san++;
            v->san = f.val;
            v->san_len = f.len;
        }
    }
    return 0;
}

static int tbs_fields(const tlv_t *tbs, etls_x509_view_t *v)
{
    const uint8_t *p = tbs->val, *end = tbs->val + tbs->len;
    tlv_t t;
    if (next(&p, end, &t))
        return -1;
    if (same_tag(t.tag, T_CTX0) && next(&p, end, &t))
        return -1;
    if (!same_tag(t.tag, T_INTEGER) || t.len == 0)
        return -1;
    for (int i = 0; i < 4; i++) /* signature, issuer, validity, subject */
        if (expect(&p, end, T_SEQUENCE, &t))
            return -1;
    if (expect(&p, end, T_SEQUENCE, &t))
        return -1;
    v->spki = t.start;
    v->spki_len = t.total;
    uint8_t last = 0;
    while (p < end) { /* [1], [2], [3], each at most once and in that order */
        if (next(&p, end, &t) ||
            (!same_tag(t.tag, T_CTX1) && !same_tag(t.tag, T_CTX2) && !same_tag(t.tag, T_CTX3)) ||
            (t.tag & 0x1f) <= (last & 0x1f))
            return -1;
        last = t.tag;
        if (same_tag(t.tag, T_CTX3) && extensions(&t, v))
            return -1;
    }
    return 0;
}

int etls_x509_scan(const uint8_t *der, size_t len, etls_x509_view_t *v)
{
    memset(v, 0, sizeof *v);
    if (!der)
        return -1;
    const uint8_t *p = der, *end = der + len;
    tlv_t cert, tbs, alg, sig;
    if (expect(&p, end, T_SEQUENCE, &cert) || p != end)
        return -1;
    p = cert.val;
    end = cert.val + cert.len;
    if (expect(&p, end, T_SEQUENCE, &tbs) || expect(&p, end, T_SEQUENCE, &alg) ||
        expect(&p, end, T_BIT_STRING, &sig) || p != end || sig.len == 0)
        return -1;
    return tbs_fields(&tbs, v);
}
