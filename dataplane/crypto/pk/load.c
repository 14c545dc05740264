/* Private keys from PEM text and files. The PEM blocks are walked one by one so the error can
 * say what the text actually held (a certificate, an encrypted key, a DSA key, broken base64)
 * instead of OpenSSL's generic "no start line". */
#include "crypto/pk/pk_internal.h"

#include "common/err.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>

enum { PEM_SKIP, PEM_PKCS8, PEM_SEC1, PEM_PKCS1, PEM_ENCRYPTED, PEM_DSA, PEM_CERT };

static const struct {
    const char *label;
    int kind;
} pem_labels[] = {
    {"PRIVATE KEY", PEM_PKCS8},         {"EC PRIVATE KEY", PEM_SEC1},
    {"RSA PRIVATE KEY", PEM_PKCS1},     {"ENCRYPTED PRIVATE KEY", PEM_ENCRYPTED},
    {"DSA PRIVATE KEY", PEM_DSA},       {"CERTIFICATE", PEM_CERT},
    {"TRUSTED CERTIFICATE", PEM_CERT},  {"X509 CERTIFICATE", PEM_CERT},
};

static int pem_kind(const etls_pem_block_t *b)
{
    for (size_t i = 0; i < sizeof pem_labels / sizeof pem_labels[0]; i++)
        if (strcmp(b->name, pem_labels[i].label) == 0)
            return pem_labels[i].kind;
    return PEM_SKIP;
}

/* OpenSSL 3.0 builds a decoder context (a walk over every provider's decoders, under locks) for
 * each d2i_*PrivateKey call: ~300 us of the ~15 us a P-256 key needs. A snapshot of 100,000
 * entries loads 100,000 keys, so each thread keeps one context per key form and reuses it. The
 * context writes the key it decodes into `out`, which must stay put: hence the struct. */
typedef struct key_decoders {
    OSSL_DECODER_CTX *ctx[3]; /* PKCS#8, SEC1, PKCS#1 */
    EVP_PKEY *out[3];
} key_decoders_t;

static pthread_key_t decoders_key;
static pthread_once_t decoders_once = PTHREAD_ONCE_INIT;

static void decoders_free(void *p)
{
    key_decoders_t *d = p;
    for (int i = 0; i < 3; i++)
        OSSL_DECODER_CTX_free(d->ctx[i]);
    free(d);
}

static void decoders_init(void)
{
    if (pthread_key_create(&decoders_key, decoders_free) != 0)
        decoders_key = (pthread_key_t)-1;
}

/* This thread's context for kind, or NULL (the caller then uses the one-shot d2i). */
static OSSL_DECODER_CTX *decoder_for(int kind, EVP_PKEY ***out)
{
    static const struct {
        const char *structure, *type;
    } forms[3] = {{"PrivateKeyInfo", NULL}, {"type-specific", "EC"}, {"type-specific", "RSA"}};
    int i = kind == PEM_PKCS8 ? 0 : kind == PEM_SEC1 ? 1 : 2;
    pthread_once(&decoders_once, decoders_init);
    if (decoders_key == (pthread_key_t)-1)
        return NULL;
    key_decoders_t *d = pthread_getspecific(decoders_key);
    if (!d) {
        if (!(d = calloc(1, sizeof *d)) || pthread_setspecific(decoders_key, d) != 0) {
            free(d);
            return NULL;
        }
    }
    if (!d->ctx[i])
        d->ctx[i] = OSSL_DECODER_CTX_new_for_pkey(&d->out[i], "DER", forms[i].structure, forms[i].type,
                                                  EVP_PKEY_KEYPAIR, NULL, NULL);
    *out = &d->out[i];
    return d->ctx[i];
}

/* Decodes the DER of one key block; the whole block must be consumed. */
static int decode_key(const etls_pem_block_t *b, int kind, EVP_PKEY **pkey, char *err,
                      size_t errlen)
{
    const unsigned char *p = b->data;
    EVP_PKEY **out;
    OSSL_DECODER_CTX *dc = decoder_for(kind, &out);
    if (dc) {
        size_t left = (size_t)b->len;
        *out = NULL;
        int ok = OSSL_DECODER_from_data(dc, &p, &left);
        *pkey = ok ? *out : NULL;
        if (!ok)
            EVP_PKEY_free(*out);
        *out = NULL;
        p = b->data + (b->len - (long)left);
    } else if (kind == PEM_PKCS8) {
        *pkey = d2i_AutoPrivateKey_ex(NULL, &p, b->len, NULL, NULL);
    } else {
        *pkey = d2i_PrivateKey_ex(kind == PEM_SEC1 ? EVP_PKEY_EC : EVP_PKEY_RSA, NULL, &p, b->len,
                                  NULL, NULL);
    }
    ERR_clear_error();
    if (*pkey && p == b->data + b->len)
        return 0;
    if (*pkey)
        etls_pk_errf(err, errlen, "malformed %s: trailing bytes after the key", b->name);
    else
        etls_pk_errf(err, errlen, "malformed %s: the DER inside the PEM block does not parse "
                                  "(damaged, or not the key type the label says)", b->name);
    EVP_PKEY_free(*pkey);
    *pkey = NULL;
    return ETLS_ERR_INVALID;
}

/* Looks at one block: 1 = key found (*pkey set), 0 = keep going, < 0 = refuse the input. */
static int take_block(const etls_pem_block_t *b, EVP_PKEY **pkey, int *saw_cert, char *err,
                      size_t errlen)
{
    int kind = pem_kind(b);
    /* RFC 1421 encryption headers ("Proc-Type: 4,ENCRYPTED") on a traditional key. */
    int encrypted = kind == PEM_ENCRYPTED || (b->header && strstr(b->header, "ENCRYPTED"));
    if (kind == PEM_CERT)
        *saw_cert = 1;
    if (kind == PEM_SKIP && strstr(b->name, "PRIVATE KEY")) { /* OPENSSH, PVK, ... */
        etls_pk_errf(err, errlen, "private key format '%s' is not supported (convert it to "
                                  "PKCS#8: openssl pkcs8 -topk8 -nocrypt)", b->name);
        return ETLS_ERR_UNSUPPORTED;
    }
    if (kind == PEM_SKIP || kind == PEM_CERT)
        return 0;
    if (encrypted) {
        etls_pk_errf(err, errlen, "encrypted private key (%s block): encrypted keys are not "
                                  "supported (store it decrypted with restricted permissions)",
                     b->name);
        return ETLS_ERR_INVALID;
    }
    if (kind == PEM_DSA) {
        etls_pk_errf(err, errlen, "DSA keys are not supported (use EC P-256, RSA 2048-4096 or "
                                  "Ed25519)");
        return ETLS_ERR_UNSUPPORTED;
    }
    ETLS_GUARD(decode_key(b, kind, pkey, err, errlen));
    return 1;
}

static int no_key_error(int blocks, int saw_cert, char *err, size_t errlen)
{
    if (saw_cert)
        etls_pk_errf(err, errlen, "no private key: the PEM holds a certificate (a certificate "
                                  "file given where the key was expected?)");
    else if (blocks)
        etls_pk_errf(err, errlen, "no private key block (expected -----BEGIN PRIVATE KEY-----)");
    else
        etls_pk_errf(err, errlen, "no PEM data (expected -----BEGIN PRIVATE KEY-----)");
    return ETLS_ERR_INVALID;
}

static int bad_pem(int blocks, char *err, size_t errlen)
{
    if (blocks)
        etls_pk_errf(err, errlen, "malformed or truncated PEM block after block %d", blocks);
    else
        etls_pk_errf(err, errlen, "malformed or truncated PEM (bad base64 or missing END line)");
    return ETLS_ERR_INVALID;
}

/* Finds the one private key in the text: a second key makes the file ambiguous. */
static int find_key(BIO *bio, EVP_PKEY **pkey, char *err, size_t errlen)
{
    int blocks = 0, saw_cert = 0, rc;
    etls_pem_block_t b;
    for (;;) {
        rc = etls_pk_pem_next(bio, &b);
        if (rc <= 0) {
            rc = rc < 0 ? bad_pem(blocks, err, errlen) : 0;
            break;
        }
        blocks++;
        EVP_PKEY *found = NULL;
        rc = take_block(&b, &found, &saw_cert, err, errlen);
        etls_pk_pem_free(&b);
        if (rc == 1 && *pkey) {
            EVP_PKEY_free(found);
            etls_pk_errf(err, errlen, "more than one private key in the PEM");
            rc = ETLS_ERR_INVALID;
        } else if (rc == 1) {
            *pkey = found;
        }
        if (rc < 0)
            break;
    }
    if (rc == 0 && !*pkey)
        rc = no_key_error(blocks, saw_cert, err, errlen);
    if (rc < 0) {
        EVP_PKEY_free(*pkey);
        *pkey = NULL;
        return rc;
    }
    return 0;
}

int etls_pkey_load_pem(etls_pkey_t **out, const void *pem, size_t len, char *err, size_t errlen)
{
    ETLS_ENSURE(out, ETLS_ERR_INVALID);
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!pem || len == 0) {
        etls_pk_errf(err, errlen, "empty input (no PEM data)");
        return ETLS_ERR_INVALID;
    }
    if (len > ETLS_PK_FILE_MAX) {
        etls_pk_errf(err, errlen, "PEM text too large (%zu bytes)", len);
        return ETLS_ERR_INVALID;
    }
    BIO *bio = BIO_new_mem_buf(pem, (int)len); /* read-only view, no copy of the secret */
    if (!bio) {
        etls_pk_errf(err, errlen, "out of memory");
        return ETLS_ERR_NOMEM;
    }
    EVP_PKEY *pkey = NULL;
    int rc = find_key(bio, &pkey, err, errlen);
    BIO_free(bio);
    ERR_clear_error();
    if (rc < 0)
        return rc;
    return etls_pk_wrap(out, pkey, 1, err, errlen);
}

int etls_pkey_load_file(etls_pkey_t **out, const char *path, char *err, size_t errlen)
{
    ETLS_ENSURE(out && path, ETLS_ERR_INVALID);
    *out = NULL;
    uint8_t *buf;
    size_t len;
    ETLS_GUARD(etls_pk_file_read(path, &buf, &len, err, errlen));
    char why[256] = "";
    int rc = etls_pkey_load_pem(out, buf, len, why, sizeof why);
    etls_pk_file_free(buf, len);
    if (rc < 0)
        etls_pk_errf(err, errlen, "%s: %s", path, why);
    return rc;
}
