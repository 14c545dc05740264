#include "common/err.h"

#include <stdint.h>

const char *etls_strerror(int err)
{
    switch (err) {
    case ETLS_OK: return "success";
    case ETLS_ERR_INVALID: return "invalid argument or malformed input";
    case ETLS_ERR_NOMEM: return "out of memory or pool exhausted";
    case ETLS_ERR_CRYPTO: return "crypto backend failure";
    case ETLS_ERR_AUTH: return "authentication failed";
    case ETLS_ERR_UNSUPPORTED: return "unsupported";
    case ETLS_ERR_IN_PROGRESS: return "in progress";
    case ETLS_ERR_IO: return "I/O error";
    case ETLS_ERR_LIMIT: return "limit reached";
    default: return ETLS_ERR_IS_ALERT(err) ? "TLS alert" : "unknown error";
    }
}
