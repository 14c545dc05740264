/* ClientHello parsing (RFC 8446 §4.1.2) and one small parser per extension. Parsers only
 * record what the client sent and reject malformed encodings; choosing among the offers is
 * hs_server.c's job. Every read goes through the bounded cursor. */
#include "tls/tls_internal.h"

/* Values the engine can select (etls_tls_suite_known, etls_tls_group_known and these
 * signature schemes); a client list longer than CH_MAX_LIST must not push them out (a 70-entry
 * list with our suite last would otherwise fail the handshake). */
static int sigalg_selectable(uint16_t x)
{
    return x == ETLS_SIG_ECDSA_SECP256R1_SHA256 || x == ETLS_SIG_RSA_PSS_RSAE_SHA256 ||
           x == ETLS_SIG_ED25519 || x == ETLS_SIG_RSA_PSS_RSAE_SHA384 ||
           x == ETLS_SIG_RSA_PKCS1_SHA256 || x == ETLS_SIG_RSA_PKCS1_SHA384; /* TLS 1.2 */
}

static int suite_selectable(uint16_t x)
{
    return etls_tls_suite_known(x) || etls_tls_suite_is12(x);
}

/* Keeps x in dst (order preserved): selectable values always (once each, in the CH_RESERVED
 * slots if need be), others while room remains. Returns 1 when x was dropped. */
static int keep_u16(uint16_t *dst, size_t *n, uint16_t x, int (*selectable)(uint16_t))
{
    if (selectable && selectable(x)) {
        for (size_t i = 0; i < *n; i++)
            if (dst[i] == x)
                return 0;
        if (*n < CH_MAX_LIST)
            dst[(*n)++] = x;
        return 0;
    }
    if (*n < CH_MAX_LIST - CH_RESERVED) {
        dst[(*n)++] = x;
        return 0;
    }
    return 1;
}

/* A list of uint16 values (groups, signature schemes): vec2 with an even, non-zero length.
 * Every entry is length-checked; which are kept is keep_u16's rule. */
static int read_u16_list(etls_cur_t *c, int width, uint16_t *dst, size_t *n,
                         int (*selectable)(uint16_t), uint8_t *dropped)
{
    etls_cur_t v;
    ETLS_GUARD(etls_cur_vec(c, width, 2, width == 1 ? 254 : 65534, &v));
    ETLS_ENSURE(v.left % 2 == 0, ALERT(DECODE_ERROR));
    *n = 0;
    while (v.left) {
        uint16_t x;
        ETLS_GUARD(etls_cur_u16(&v, &x));
        if (keep_u16(dst, n, x, selectable) && dropped)
            *dropped = 1;
    }
    return 0;
}

/* RFC 6066 §3: one host_name; we keep it for certificate selection and PROXY v2. */
static int ext_server_name(etls_cur_t *c, etls_ch_t *ch)
{
    etls_cur_t list;
    ETLS_GUARD(etls_cur_vec(c, 2, 1, 65535, &list));
    while (list.left) {
        uint8_t type;
        etls_cur_t name;
        ETLS_GUARD(etls_cur_u8(&list, &type));
        ETLS_GUARD(etls_cur_vec(&list, 2, 1, 65535, &name));
        if (type != 0)
            continue; /* unknown name types are skipped */
        ETLS_ENSURE(!ch->sni, ALERT(ILLEGAL_PARAMETER)); /* one name per type */
        ETLS_ENSURE(name.left <= ETLS_TLS_MAX_SNI, ALERT(ILLEGAL_PARAMETER));
        for (size_t i = 0; i < name.left; i++)
            ETLS_ENSURE(name.p[i] > 0x20 && name.p[i] < 0x7f, ALERT(ILLEGAL_PARAMETER));
        ch->sni = name.p;
        ch->sni_len = name.left;
    }
    return 0;
}

/* §4.2.7 */
static int ext_supported_groups(etls_cur_t *c, etls_ch_t *ch)
{
    ch->has_groups = 1;
    return read_u16_list(c, 2, ch->groups, &ch->n_groups, etls_tls_group_known, NULL);
}

/* §4.2.3 */
static int ext_signature_algorithms(etls_cur_t *c, etls_ch_t *ch)
{
    ch->has_sigalgs = 1;
    return read_u16_list(c, 2, ch->sigalgs, &ch->n_sigalgs, sigalg_selectable, NULL);
}

/* §4.2.3: only the certificate chain is constrained by it, which the client verifies itself;
 * parsed for well-formedness. */
static int ext_signature_algorithms_cert(etls_cur_t *c, etls_ch_t *ch)
{
    uint16_t tmp[CH_MAX_LIST];
    size_t n;
    (void)ch;
    return read_u16_list(c, 2, tmp, &n, NULL, NULL);
}

/* RFC 7301 §3.1: ProtocolNameList protocol_name_list<2..2^16-1>, each name<1..2^8-1>. */
static int ext_alpn(etls_cur_t *c, etls_ch_t *ch)
{
    etls_cur_t list;
    ETLS_GUARD(etls_cur_vec(c, 2, 2, 65535, &list));
    ch->alpn = list.p;
    ch->alpn_len = list.left;
    ch->has_alpn = 1;
    while (list.left) {
        etls_cur_t name;
        ETLS_GUARD(etls_cur_vec(&list, 1, 1, 255, &name));
    }
    return 0;
}

/* RFC 8449 §4: values below 64 are illegal_parameter. */
static int ext_record_size_limit(etls_cur_t *c, etls_ch_t *ch)
{
    uint16_t v;
    ETLS_GUARD(etls_cur_u16(c, &v));
    ETLS_ENSURE(v >= 64, ALERT(ILLEGAL_PARAMETER));
    ch->record_size_limit = v;
    return 0;
}

/* §4.2.11: OfferedPsks. Only the first identity is tried (a server may pick any); the number of
 * binders must match the identities. The binders' offset is the truncation point of the
 * ClientHello for the binder transcript. Position (last extension) is checked by the caller. */
static int ext_pre_shared_key(etls_cur_t *c, etls_ch_t *ch)
{
    etls_cur_t ids, binders;
    size_t n_ids = 0, n_binders = 0;
    ETLS_GUARD(etls_cur_vec(c, 2, 7, 65535, &ids));
    while (ids.left) {
        etls_cur_t id;
        uint16_t hi, lo;
        ETLS_GUARD(etls_cur_vec(&ids, 2, 1, 65535, &id));
        ETLS_GUARD(etls_cur_u16(&ids, &hi));
        ETLS_GUARD(etls_cur_u16(&ids, &lo));
        if (n_ids++ == 0) {
            ch->psk_id = id.p;
            ch->psk_id_len = id.left;
            ch->psk_age = (uint32_t)hi << 16 | lo;
        }
    }
    ch->psk_binders_off = (size_t)(c->p - ch->body);
    ETLS_GUARD(etls_cur_vec(c, 2, 33, 65535, &binders));
    while (binders.left) {
        etls_cur_t b;
        ETLS_GUARD(etls_cur_vec(&binders, 1, 32, 255, &b));
        if (n_binders++ == 0) {
            ch->psk_binder = b.p;
            ch->psk_binder_len = b.left;
        }
    }
    ETLS_ENSURE(n_ids == n_binders, ALERT(ILLEGAL_PARAMETER));
    ch->has_psk = 1;
    return 0;
}

/* §4.2.10: in a ClientHello the extension is empty. */
static int ext_early_data(etls_cur_t *c, etls_ch_t *ch)
{
    (void)c;
    ch->early_data = 1;
    return 0;
}

/* §4.2.1 */
static int ext_supported_versions(etls_cur_t *c, etls_ch_t *ch)
{
    etls_cur_t list;
    ETLS_GUARD(etls_cur_vec(c, 1, 2, 254, &list));
    ETLS_ENSURE(list.left % 2 == 0, ALERT(DECODE_ERROR));
    ch->has_versions = 1;
    while (list.left) {
        uint16_t v;
        ETLS_GUARD(etls_cur_u16(&list, &v));
        if (v == ETLS_TLS_VERSION_13)
            ch->has_tls13 = 1;
        if (v == ETLS_TLS_VERSION_12)
            ch->has_tls12 = 1;
    }
    return 0;
}

/* §4.2.2 */
static int ext_cookie(etls_cur_t *c, etls_ch_t *ch)
{
    etls_cur_t v;
    ETLS_GUARD(etls_cur_vec(c, 2, 1, 65535, &v));
    ch->cookie = v.p;
    ch->cookie_len = v.left;
    ch->has_cookie = 1;
    return 0;
}

/* §4.2.9 */
static int ext_psk_key_exchange_modes(etls_cur_t *c, etls_ch_t *ch)
{
    etls_cur_t v;
    ETLS_GUARD(etls_cur_vec(c, 1, 1, 255, &v));
    ch->has_psk_modes = 1;
    while (v.left) {
        uint8_t m;
        ETLS_GUARD(etls_cur_u8(&v, &m));
        if (m <= 1)
            ch->psk_modes |= (uint8_t)(1u << m);
    }
    return 0;
}

/* §4.2.8: KeyShareClientHello. The cap CH_MAX_SHARE_ENTRIES counts entries in the list, of
 * every group, known or not: it bounds the work on a hostile list (the duplicate check below
 * is quadratic) and no real client comes near it (browsers send one to three shares, GREASE
 * included). Below the cap a group we do not implement costs nothing else: its share is
 * skipped unread (not kept, not size-checked, not held against supported_groups), so new
 * groups (0x11EC X25519MLKEM768 with a 1216-byte share, ...) never change the outcome.
 * Each group at most once, unknown ones included (§4.2.8 "MUST NOT offer multiple
 * KeyShareEntry values for the same group"). Sizes of kept shares are checked when one is
 * chosen, since only the chosen one matters. The extension itself is bounded only by its
 * 16-bit length and the ClientHello limit (max_hs_msg). */
static int ext_key_share(etls_cur_t *c, etls_ch_t *ch)
{
    uint16_t seen[CH_MAX_SHARE_ENTRIES];
    etls_cur_t list;
    ETLS_GUARD(etls_cur_vec(c, 2, 0, 65535, &list));
    ch->has_key_share = 1;
    ch->n_share_entries = 0;
    while (list.left) {
        uint16_t group;
        etls_cur_t key;
        ETLS_GUARD(etls_cur_u16(&list, &group));
        ETLS_GUARD(etls_cur_vec(&list, 2, 1, 65535, &key));
        ETLS_ENSURE(ch->n_share_entries < CH_MAX_SHARE_ENTRIES, ALERT(ILLEGAL_PARAMETER));
        for (size_t i = 0; i < ch->n_share_entries; i++)
            ETLS_ENSURE(seen[i] != group, ALERT(ILLEGAL_PARAMETER));
        seen[ch->n_share_entries++] = group;
        if (!etls_tls_group_known(group))
            continue;
        ETLS_ENSURE(ch->n_shares < CH_MAX_SHARES, ALERT(INTERNAL_ERROR)); /* known groups > slots */
        ch->shares[ch->n_shares].group = group;
        ch->shares[ch->n_shares].key = key.p;
        ch->shares[ch->n_shares].len = (uint16_t)key.left;
        ch->n_shares++;
    }
    return 0;
}

/* ---- TLS 1.2 extensions (recorded whatever version is negotiated; only TLS 1.2 uses them) -- */

/* RFC 8422 §5.1.2: ECPointFormatList ec_point_format_list<1..2^8-1>. */
static int ext_ec_point_formats(etls_cur_t *c, etls_ch_t *ch)
{
    etls_cur_t v;
    ETLS_GUARD(etls_cur_vec(c, 1, 1, 255, &v));
    ch->has_point_formats = 1;
    ch->point_uncompressed = memchr(v.p, 0, v.left) != NULL;
    return 0;
}

/* RFC 7627 §5.1: empty. */
static int ext_extended_master_secret(etls_cur_t *c, etls_ch_t *ch)
{
    (void)c;
    ch->has_ems = 1;
    return 0;
}

/* RFC 5077 §3.2: the ticket, or empty to ask for one. */
static int ext_session_ticket(etls_cur_t *c, etls_ch_t *ch)
{
    ch->has_ticket_ext = 1;
    ch->ticket = c->p;
    ch->ticket_len = c->left;
    c->p += c->left;
    c->left = 0;
    return 0;
}

/* RFC 5746 §3.2: renegotiated_connection<0..255>. */
static int ext_renegotiation_info(etls_cur_t *c, etls_ch_t *ch)
{
    etls_cur_t v;
    ETLS_GUARD(etls_cur_vec(c, 1, 0, 255, &v));
    ch->has_reneg_info = 1;
    ch->reneg_info_len = (uint8_t)v.left;
    return 0;
}

static const struct ext_handler {
    uint16_t type;
    int (*parse)(etls_cur_t *c, etls_ch_t *ch);
} ext_table[] = {
    {EXT_SERVER_NAME, ext_server_name},
    {EXT_SUPPORTED_GROUPS, ext_supported_groups},
    {EXT_SIGNATURE_ALGORITHMS, ext_signature_algorithms},
    {EXT_ALPN, ext_alpn},
    {EXT_RECORD_SIZE_LIMIT, ext_record_size_limit},
    {EXT_PRE_SHARED_KEY, ext_pre_shared_key},
    {EXT_EARLY_DATA, ext_early_data},
    {EXT_SUPPORTED_VERSIONS, ext_supported_versions},
    {EXT_COOKIE, ext_cookie},
    {EXT_PSK_KEY_EXCHANGE_MODES, ext_psk_key_exchange_modes},
    {EXT_SIGNATURE_ALGORITHMS_CERT, ext_signature_algorithms_cert},
    {EXT_KEY_SHARE, ext_key_share},
    {EXT_EC_POINT_FORMATS, ext_ec_point_formats},
    {EXT_EXTENDED_MASTER_SECRET, ext_extended_master_secret},
    {EXT_SESSION_TICKET, ext_session_ticket},
    {EXT_RENEGOTIATION_INFO, ext_renegotiation_info},
};

static int parse_extension(uint16_t type, etls_cur_t *data, etls_ch_t *ch)
{
    for (size_t i = 0; i < sizeof ext_table / sizeof ext_table[0]; i++) {
        if (ext_table[i].type == type) {
            ETLS_GUARD(ext_table[i].parse(data, ch));
            return etls_cur_end(data); /* trailing bytes inside an extension */
        }
    }
    return 0; /* §4.2: unknown extensions are ignored */
}

/* §4.2: at most one extension of each type. Types below 256 (every type parsed above) go in a
 * 256-bit map and other ones (GREASE, newer extensions) in a short list; a client sending more
 * than SEEN_HIGH_MAX of those gets the full 64 Kibit map. A hostile list costs linear time
 * either way, and an ordinary ClientHello does not clear 8 KiB of stack per handshake. */
#define SEEN_HIGH_MAX 16

typedef struct ext_seen {
    uint64_t low[256 / 64];
    uint16_t high[SEEN_HIGH_MAX];
    size_t n_high;
    uint64_t *all; /* NULL until the full map is in use */
} ext_seen_t;

static int test_and_set(uint64_t *map, uint16_t type)
{
    uint64_t bit = 1ull << (type % 64);
    int was = (map[type / 64] & bit) != 0;
    map[type / 64] |= bit;
    return was;
}

/* 1 when type was seen before; records it. */
static int seen_before(ext_seen_t *s, uint64_t all[65536 / 64], uint16_t type)
{
    if (s->all)
        return test_and_set(s->all, type);
    if (type < 256)
        return test_and_set(s->low, type);
    for (size_t i = 0; i < s->n_high; i++)
        if (s->high[i] == type)
            return 1;
    if (s->n_high < SEEN_HIGH_MAX) {
        s->high[s->n_high++] = type;
        return 0;
    }
    memset(all, 0, 65536 / 8);
    memcpy(all, s->low, sizeof s->low);
    for (size_t i = 0; i < s->n_high; i++)
        (void)test_and_set(all, s->high[i]);
    s->all = all;
    return test_and_set(all, type);
}

/* pre_shared_key must be the last extension (§4.2.11). */
static int parse_extensions(etls_cur_t *c, etls_ch_t *ch)
{
    uint64_t all[65536 / 64]; /* cleared only if needed (seen_before) */
    ext_seen_t seen;
    etls_cur_t exts;
    memset(&seen, 0, sizeof seen);
    ETLS_GUARD(etls_cur_vec(c, 2, 0, 65535, &exts));
    while (exts.left) {
        uint16_t type;
        etls_cur_t data;
        ETLS_GUARD(etls_cur_u16(&exts, &type));
        ETLS_GUARD(etls_cur_vec(&exts, 2, 0, 65535, &data));
        ETLS_ENSURE(!seen_before(&seen, all, type), ALERT(ILLEGAL_PARAMETER));
        ETLS_ENSURE(!ch->has_psk, ALERT(ILLEGAL_PARAMETER));
        ETLS_GUARD(parse_extension(type, &data, ch));
    }
    return 0;
}

int etls_tls_parse_client_hello(const uint8_t *body, size_t len, etls_ch_t *ch)
{
    etls_cur_t c = etls_cur(body, len), sid, suites, comp;
    memset(ch, 0, sizeof *ch);
    ch->body = body;
    ETLS_GUARD(etls_cur_u16(&c, &ch->legacy_version));
    ETLS_GUARD(etls_cur_bytes(&c, 32, &ch->random));
    ETLS_GUARD(etls_cur_vec(&c, 1, 0, 32, &sid));
    ch->session_id = sid.p;
    ch->session_id_len = (uint8_t)sid.left;
    ETLS_GUARD(etls_cur_vec(&c, 2, 2, 65534, &suites));
    ETLS_ENSURE(suites.left % 2 == 0, ALERT(DECODE_ERROR));
    while (suites.left) {
        uint16_t s;
        ETLS_GUARD(etls_cur_u16(&suites, &s));
        ch->fallback_scsv |= s == 0x5600; /* RFC 7507 TLS_FALLBACK_SCSV */
        ch->reneg_scsv |= s == 0x00ff;    /* RFC 5746 TLS_EMPTY_RENEGOTIATION_INFO_SCSV */
        keep_u16(ch->suites, &ch->n_suites, s, suite_selectable);
    }
    ETLS_GUARD(etls_cur_vec(&c, 1, 1, 255, &comp));
    ch->comp = comp.p;
    ch->comp_len = comp.left;
    if (c.left == 0)
        return 0; /* a pre-TLS 1.2 style hello without extensions: no supported_versions */
    ETLS_GUARD(parse_extensions(&c, ch));
    return etls_cur_end(&c);
}
